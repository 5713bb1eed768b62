// trtforge.analyzer._producer_hops — what a graph's producers say, for every tensor at once:
// how far each tensor is from a set of source tensors, counted in producer steps
// (`hops_from`), which tensors fold to build-time constants (`folded_constants`:
// `graph.GraphView._constants`), and which reads come before their tensor is written
// (`reads_before_written`, with `named_outputs`: the bulk validity check,
// `validity._GraphChecker._sound`).
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

// Whether `ops`, `inputs` and `outputs` (lists) are columns of one graph: as many entries each
// (`nodes`); false with a Python error set otherwise.
bool same_length(PyObject* ops, PyObject* inputs, PyObject* outputs, Py_ssize_t& nodes) {
  nodes = PyList_GET_SIZE(inputs);
  if (PyList_GET_SIZE(outputs) == nodes && PyList_GET_SIZE(ops) == nodes) return true;
  PyErr_SetString(PyExc_ValueError, "ops, inputs and outputs differ in length");
  return false;
}

// Whether `a` and `b` are sets or frozensets; false with a Python error set otherwise.
bool both_sets(PyObject* a, PyObject* b, const char* message) {
  if (PyAnySet_Check(a) && PyAnySet_Check(b)) return true;
  PyErr_SetString(PyExc_TypeError, message);
  return false;
}

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
  Py_ssize_t nodes;
  if (!both_sets(blocked, stop_ops, "stop_ops and blocked must be sets") ||
      !same_length(ops, inputs, outputs, nodes)) {
    return nullptr;
  }
  std::vector<char> passes(static_cast<size_t>(nodes));
  // whether a node reads a tensor that a node at or after it produces (not sorted)
  bool unsorted = false;
  for (Py_ssize_t i = 0; i < nodes; ++i) {
    int stops = PySet_Contains(stop_ops, PyList_GET_ITEM(ops, i));
    if (stops < 0) return nullptr;
    passes[static_cast<size_t>(i)] = !stops;
    PyObject* node_inputs = PyList_GET_ITEM(inputs, i);
    if (stops || unsorted || !PyList_Check(node_inputs)) continue;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(node_inputs) && !unsorted; ++j) {
      PyObject* made_by = PyDict_GetItemWithError(producer, PyList_GET_ITEM(node_inputs, j));
      if (made_by == nullptr) {
        if (PyErr_Occurred()) return nullptr;
        continue;
      }
      Py_ssize_t at = PyLong_AsSsize_t(made_by);
      if (at == -1 && PyErr_Occurred()) return nullptr;
      unsorted = at >= i;
    }
  }
  PyObject* distances = PyDict_Copy(sources);
  if (distances == nullptr) return nullptr;
  // Relaxes every node in order until nothing changes: one pass computes a topologically
  // sorted graph (each node's inputs have their distances before it is relaxed: no second
  // pass confirms it); distances only fall and stay below `cap`, so an unsorted (or cyclic)
  // graph settles within `cap` + 1 passes.
  bool changed = true;
  for (long long pass = 0; changed && pass <= cap + 1 && (pass == 0 || unsorted); ++pass) {
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

// Whether `name` (a str or bytes) is the empty name, -1 on error.
int is_empty(PyObject* name) {
  Py_ssize_t size = PyObject_Length(name);
  return size < 0 ? -1 : size == 0;
}

PyObject* reads_before_written(PyObject*, PyObject* args) {
  PyObject *inputs, *producer, *defined;
  if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &inputs, &PyDict_Type, &producer,
                        &defined)) {
    return nullptr;
  }
  if (!PyAnySet_Check(defined)) {
    PyErr_SetString(PyExc_TypeError, "defined must be a set");
    return nullptr;
  }
  PyObject* found = PyList_New(0);
  if (found == nullptr) return nullptr;
  Py_ssize_t nodes = PyList_GET_SIZE(inputs);
  for (Py_ssize_t i = 0; i < nodes; ++i) {
    PyObject* names = PyList_GET_ITEM(inputs, i);
    if (!PyList_Check(names)) {
      PyErr_SetString(PyExc_TypeError, "inputs must be a list of lists");
      Py_DECREF(found);
      return nullptr;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(names); ++j) {
      PyObject* name = PyList_GET_ITEM(names, j);
      int empty = is_empty(name);
      if (empty < 0) {
        Py_DECREF(found);
        return nullptr;
      }
      if (empty) continue;
      PyObject* made_by = PyDict_GetItemWithError(producer, name);
      if (made_by == nullptr && PyErr_Occurred()) {
        Py_DECREF(found);
        return nullptr;
      }
      if (made_by != nullptr) {
        Py_ssize_t at = PyLong_AsSsize_t(made_by);
        if (at == -1 && PyErr_Occurred()) {
          Py_DECREF(found);
          return nullptr;
        }
        if (at < i) continue;  // written by an earlier node
      }
      int known = PySet_Contains(defined, name);
      if (known < 0) {
        Py_DECREF(found);
        return nullptr;
      }
      if (known) continue;
      if (PyList_Append(found, name) != 0) {
        Py_DECREF(found);
        return nullptr;
      }
    }
  }
  return found;
}

PyObject* folded_constants(PyObject*, PyObject* args) {
  PyObject *ops, *inputs, *outputs, *initial, *no_fold;
  if (!PyArg_ParseTuple(args, "O!O!O!OO", &PyList_Type, &ops, &PyList_Type, &inputs,
                        &PyList_Type, &outputs, &initial, &no_fold)) {
    return nullptr;
  }
  Py_ssize_t nodes;
  if (!both_sets(initial, no_fold, "initial and no_fold must be sets") ||
      !same_length(ops, inputs, outputs, nodes)) {
    return nullptr;
  }
  PyObject* constant = PySet_New(initial);
  if (constant == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < nodes; ++i) {
    PyObject* op = PyList_GET_ITEM(ops, i);
    PyObject* names = PyList_GET_ITEM(inputs, i);
    PyObject* written = PyList_GET_ITEM(outputs, i);
    if (!PyList_Check(names) || !PyList_Check(written)) {
      PyErr_SetString(PyExc_TypeError, "inputs and outputs must be lists of lists");
      Py_DECREF(constant);
      return nullptr;
    }
    int skipped = PySet_Contains(no_fold, op);
    if (skipped < 0) {
      Py_DECREF(constant);
      return nullptr;
    }
    if (skipped) continue;
    bool is_constant_op = PyUnicode_Check(op) && PyUnicode_CompareWithASCIIString(op, "Constant") == 0;
    if (!is_constant_op) {  // folds: some named input, and every named input constant
      bool folds = false;
      for (Py_ssize_t j = 0; j < PyList_GET_SIZE(names); ++j) {
        PyObject* name = PyList_GET_ITEM(names, j);
        int empty = is_empty(name);
        int known = empty == 0 ? PySet_Contains(constant, name) : 0;
        if (empty < 0 || known < 0) {
          Py_DECREF(constant);
          return nullptr;
        }
        if (empty) continue;
        folds = known == 1;
        if (!folds) break;
      }
      if (!folds) continue;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(written); ++j) {
      PyObject* name = PyList_GET_ITEM(written, j);
      int empty = is_empty(name);
      if (empty < 0 || (!empty && PySet_Add(constant, name) != 0)) {
        Py_DECREF(constant);
        return nullptr;
      }
    }
  }
  return constant;
}

PyObject* named_outputs(PyObject*, PyObject* outputs) {
  if (!PyList_Check(outputs)) {
    PyErr_SetString(PyExc_TypeError, "outputs must be a list of lists");
    return nullptr;
  }
  Py_ssize_t named = 0;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(outputs); ++i) {
    PyObject* names = PyList_GET_ITEM(outputs, i);
    if (!PyList_Check(names)) {
      PyErr_SetString(PyExc_TypeError, "outputs must be a list of lists");
      return nullptr;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(names); ++j) {
      int empty = is_empty(PyList_GET_ITEM(names, j));
      if (empty < 0) return nullptr;
      named += !empty;
    }
  }
  return PyLong_FromSsize_t(named);
}

// {name: the index of the last node writing it} of every non-empty name in `outputs` (a
// list of lists of names): `NodeFields.producer_index` (a dict comprehension over 100,000
// nodes: ~0.045 s in Python).
PyObject* producer_index(PyObject*, PyObject* outputs) {
  if (!PyList_Check(outputs)) {
    PyErr_SetString(PyExc_TypeError, "outputs must be a list of lists");
    return nullptr;
  }
  const Py_ssize_t nodes = PyList_GET_SIZE(outputs);
  PyObject* index = PyDict_New();
  if (index == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < nodes; ++i) {
    PyObject* names = PyList_GET_ITEM(outputs, i);
    if (!PyList_Check(names)) {
      PyErr_SetString(PyExc_TypeError, "outputs must be a list of lists");
      Py_DECREF(index);
      return nullptr;
    }
    PyObject* at = nullptr;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(names); ++k) {
      PyObject* name = PyList_GET_ITEM(names, k);
      if (PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) == 0) continue;  // no name
      if ((at == nullptr && (at = PyLong_FromSsize_t(i)) == nullptr) ||
          PyDict_SetItem(index, name, at) < 0) {
        Py_XDECREF(at);
        Py_DECREF(index);
        return nullptr;
      }
    }
    Py_XDECREF(at);
  }
  return index;
}

PyMethodDef methods[] = {
    {"reads_before_written", reads_before_written, METH_VARARGS,
     "reads_before_written(inputs, producer, defined) -> [name, ...]: every non-empty input "
     "name of node i (`inputs[i]`: a list of names) that no node before i produces "
     "(`producer`: name -> the index of its node) and that is not in the set `defined`, in "
     "node order."},
    {"folded_constants", folded_constants, METH_VARARGS,
     "folded_constants(ops, inputs, outputs, initial, no_fold) -> set: the names computed at "
     "build time in a top-level graph: `initial` (its initializers), the outputs of every "
     "Constant node, and in node order the outputs of every node whose op is not in the set "
     "`no_fold` and whose non-empty inputs, one at least, are all constant so far."},
    {"named_outputs", named_outputs, METH_O,
     "named_outputs(outputs) -> the number of non-empty names in `outputs` (a list of lists "
     "of names)."},
    {"producer_index", producer_index, METH_O,
     "producer_index(outputs) -> {name: i}: the index of the last node writing each non-empty "
     "name (`outputs[i]`: node i's list of output names)."},
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
    "What a graph's producers say for every tensor at once: distances from source tensors, "
    "reads before writes (see producer_hops.cpp).",
    -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__producer_hops() { return PyModule_Create(&module); }
