// trtforge.analyzer._producer_hops — how far each tensor is from a set of source tensors,
// counted in producer steps, for every tensor of a graph at once.
//
// Some knowledge-base checks ask whether a value is computed from a float network input
// (`kb/ops/_tensor_common.py`, `reads_float_network_input`): a walk up the producers at most
// 24 steps deep. Thousands of nodes of a large export ask it (every block's Reshape, Expand
// and Range), and the walks, remembered per depth, still cost ~0.15 s per 100,000 nodes in
// Python. The answer for every tensor is its distance from the nearest source (a walk of
// depth d finds a source exactly when that distance is below d), which one pass over the
// nodes computes here. The recursive walk stays the reference (`tests/perf/test_producer_hops.py`
// holds the two equal) and the fallback where this module is not built.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <vector>

namespace {

// A node's distance candidate: 1 + the least distance among its inputs, or -1 when none of
// them has one. -2 with a Python error set on failure.
long long through_inputs(PyObject* distances, PyObject* inputs) {
  long long best = -1;
  Py_ssize_t count = PyList_GET_SIZE(inputs);
  for (Py_ssize_t j = 0; j < count; ++j) {
    PyObject* found = PyDict_GetItemWithError(distances, PyList_GET_ITEM(inputs, j));
    if (found == nullptr) {
      if (PyErr_Occurred()) return -2;
      continue;
    }
    long long distance = PyLong_AsLongLong(found);
    if (distance == -1 && PyErr_Occurred()) return -2;
    if (best < 0 || distance < best) best = distance;
  }
  return best < 0 ? -1 : best + 1;
}

PyObject* hops_from(PyObject*, PyObject* args) {
  PyObject *sources, *ops, *inputs, *outputs, *stop_ops, *producer, *blocked;
  long long cap;
  if (!PyArg_ParseTuple(args, "O!O!O!O!OO!OL", &PyDict_Type, &sources, &PyList_Type, &ops,
                        &PyList_Type, &inputs, &PyList_Type, &outputs, &stop_ops, &PyDict_Type,
                        &producer, &blocked, &cap)) {
    return nullptr;
  }
  if (!PyAnySet_Check(blocked) || !PyAnySet_Check(stop_ops)) {
    PyErr_SetString(PyExc_TypeError, "stop_ops and blocked must be sets");
    return nullptr;
  }
  Py_ssize_t nodes = PyList_GET_SIZE(inputs);
  if (PyList_GET_SIZE(outputs) != nodes || PyList_GET_SIZE(ops) != nodes) {
    PyErr_SetString(PyExc_ValueError, "ops, inputs and outputs differ in length");
    return nullptr;
  }
  std::vector<char> passes(static_cast<size_t>(nodes));
  for (Py_ssize_t i = 0; i < nodes; ++i) {
    int stops = PySet_Contains(stop_ops, PyList_GET_ITEM(ops, i));
    if (stops < 0) return nullptr;
    passes[static_cast<size_t>(i)] = !stops;
  }
  PyObject* distances = PyDict_Copy(sources);
  if (distances == nullptr) return nullptr;
  // Relaxes every node in order until nothing changes: one pass computes a topologically
  // sorted graph and a second confirms it; distances only fall and stay below `cap`, so an
  // unsorted (or cyclic) graph settles within `cap` + 1 passes.
  bool changed = true;
  for (long long pass = 0; changed && pass <= cap + 1; ++pass) {
    changed = false;
    for (Py_ssize_t i = 0; i < nodes; ++i) {
      if (!passes[static_cast<size_t>(i)]) continue;
      PyObject* node_inputs = PyList_GET_ITEM(inputs, i);
      PyObject* node_outputs = PyList_GET_ITEM(outputs, i);
      if (!PyList_Check(node_inputs) || !PyList_Check(node_outputs)) {
        PyErr_SetString(PyExc_TypeError, "inputs and outputs must be lists of lists");
        Py_DECREF(distances);
        return nullptr;
      }
      long long distance = through_inputs(distances, node_inputs);
      if (distance == -2) {
        Py_DECREF(distances);
        return nullptr;
      }
      if (distance < 0 || distance >= cap) continue;
      Py_ssize_t count = PyList_GET_SIZE(node_outputs);
      for (Py_ssize_t j = 0; j < count; ++j) {
        PyObject* name = PyList_GET_ITEM(node_outputs, j);
        int stop = PySet_Contains(blocked, name);
        if (stop < 0) {
          Py_DECREF(distances);
          return nullptr;
        }
        if (stop) continue;
        PyObject* made_by = PyDict_GetItemWithError(producer, name);
        if (made_by == nullptr) {
          if (PyErr_Occurred()) {
            Py_DECREF(distances);
            return nullptr;
          }
          continue;
        }
        if (PyLong_AsSsize_t(made_by) != i) continue;  // another node's output (the last wins)
        PyObject* known = PyDict_GetItemWithError(distances, name);
        if (known == nullptr && PyErr_Occurred()) {
          Py_DECREF(distances);
          return nullptr;
        }
        if (known != nullptr && PyLong_AsLongLong(known) <= distance) continue;
        PyObject* value = PyLong_FromLongLong(distance);
        if (value == nullptr || PyDict_SetItem(distances, name, value) != 0) {
          Py_XDECREF(value);
          Py_DECREF(distances);
          return nullptr;
        }
        Py_DECREF(value);
        changed = true;
      }
    }
  }
  return distances;
}

PyMethodDef methods[] = {
    {"hops_from", hops_from, METH_VARARGS,
     "hops_from(sources, ops, inputs, outputs, stop_ops, producer, blocked, cap) -> "
     "{name: hops}: for every tensor fewer than `cap` producer steps from a source "
     "(`sources`: name -> 0), the least number of steps. Node i (`ops[i]`; `inputs[i]`, "
     "`outputs[i]`: lists of names) passes distances on unless its op is in the set "
     "`stop_ops`, to the outputs it is the producer of (`producer`: name -> node index) that "
     "are not in the set `blocked`."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_producer_hops",
    "Every tensor's distance from a set of source tensors, in producer steps (see "
    "producer_hops.cpp).",
    -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__producer_hops() { return PyModule_Create(&module); }
