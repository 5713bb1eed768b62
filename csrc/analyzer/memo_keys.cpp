// trtforge.analyzer._memo_keys — the static backend's node keys, built in C.
//
// `VerdictMemo` (analyzer/backends/static.py) shares one verdict among the nodes that look
// exactly alike: each node's key is its kind and the keys of its tensors, a tuple built from
// dict lookups only. For 100,000 nodes Python spends ~0.1 s on that (~0.2 s when shapes hold
// dims made up by shape inference, whose names are renumbered per node); this builds the
// same tuples in C. `VerdictMemo._node_keys_python` is the reference, and
// `tests/perf/test_verdict_memo.py` holds the two equal.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <utility>
#include <vector>

namespace {

// A new reference to the key of tensor `name`: a plain dict lookup, else the mapping's own
// lookup (its __missing__ keys tensors not keyed yet).
PyObject* tensor_key(PyObject* keys, PyObject* name) {
  PyObject* found = PyDict_GetItemWithError(keys, name);
  if (found != nullptr) return Py_NewRef(found);
  if (PyErr_Occurred()) return nullptr;
  return PyObject_GetItem(keys, name);
}

// Appends the keys of the names in `names` (a list) to `out` (a tuple being filled from
// `at`); false on failure.
bool fill(PyObject* keys, PyObject* names, PyObject* out, Py_ssize_t at) {
  Py_ssize_t count = PyList_GET_SIZE(names);
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* key = tensor_key(keys, PyList_GET_ITEM(names, i));
    if (key == nullptr) return false;
    PyTuple_SET_ITEM(out, at + i, key);
  }
  return true;
}

// `_renumber` of a tuple of tensor keys: each (id, names) becomes (id, the order of first
// appearance of each name within the tuple). A new reference.
PyObject* renumber(PyObject* tensors) {
  Py_ssize_t count = PyTuple_GET_SIZE(tensors);
  PyObject* numbers = PyDict_New();
  PyObject* out = numbers ? PyTuple_New(count) : nullptr;
  for (Py_ssize_t i = 0; out != nullptr && i < count; ++i) {
    PyObject* tensor = PyTuple_GET_ITEM(tensors, i);
    if (!PyTuple_CheckExact(tensor)) {
      PyTuple_SET_ITEM(out, i, Py_NewRef(tensor));
      continue;
    }
    PyObject *id = nullptr, *names = nullptr;
    if (!PyArg_UnpackTuple(tensor, "tensor key", 2, 2, &id, &names)) {
      Py_CLEAR(out);
      break;
    }
    PyObject* seq = PySequence_Fast(names, "made-up dim names must be a sequence");
    PyObject* order = seq ? PyTuple_New(PySequence_Fast_GET_SIZE(seq)) : nullptr;
    for (Py_ssize_t j = 0; order != nullptr && j < PySequence_Fast_GET_SIZE(seq); ++j) {
      PyObject* name = PySequence_Fast_GET_ITEM(seq, j);
      PyObject* known = PyDict_GetItemWithError(numbers, name);
      if (known == nullptr) {
        PyObject* next = PyErr_Occurred() ? nullptr : PyLong_FromSsize_t(PyDict_GET_SIZE(numbers));
        if (next == nullptr || PyDict_SetItem(numbers, name, next) != 0) {
          Py_XDECREF(next);
          Py_CLEAR(order);
          break;
        }
        known = next;
        Py_DECREF(next);  // the dict holds it
      }
      PyTuple_SET_ITEM(order, j, Py_NewRef(known));
    }
    Py_XDECREF(seq);
    PyObject* renumbered = order ? PyTuple_Pack(2, id, order) : nullptr;
    Py_XDECREF(order);
    if (renumbered == nullptr) {
      Py_CLEAR(out);
      break;
    }
    PyTuple_SET_ITEM(out, i, renumbered);
  }
  Py_XDECREF(numbers);
  return out;
}

// One node's key; a new reference (None for a node whose verdict is never shared).
PyObject* node_key(PyObject* keys, PyObject* kind, PyObject* ins, PyObject* outs, bool generated) {
  Py_ssize_t n_in = PyList_GET_SIZE(ins), n_out = PyList_GET_SIZE(outs);
  if (!generated) {  // (kind, input keys, output keys); tensors keyed even for kind None
    PyObject* in_keys = PyTuple_New(n_in);
    PyObject* out_keys = in_keys ? PyTuple_New(n_out) : nullptr;
    PyObject* key = nullptr;
    if (out_keys && fill(keys, ins, in_keys, 0) && fill(keys, outs, out_keys, 0)) {
      key = kind == Py_None ? Py_NewRef(Py_None) : PyTuple_Pack(3, kind, in_keys, out_keys);
    }
    Py_XDECREF(in_keys);
    Py_XDECREF(out_keys);
    return key;
  }
  if (kind == Py_None) return Py_NewRef(Py_None);
  PyObject* all = PyTuple_New(n_in + n_out);
  if (all == nullptr || !fill(keys, ins, all, 0) || !fill(keys, outs, all, n_in)) {
    Py_XDECREF(all);
    return nullptr;
  }
  bool has_generated = false;
  for (Py_ssize_t i = 0; i < n_in + n_out && !has_generated; ++i) {
    has_generated = PyTuple_CheckExact(PyTuple_GET_ITEM(all, i));
  }
  PyObject* key = nullptr;
  if (has_generated) {
    PyObject* renumbered = renumber(all);
    if (renumbered != nullptr) key = PyTuple_Pack(2, kind, renumbered);
    Py_XDECREF(renumbered);
  } else {
    PyObject* in_keys = PyTuple_GetSlice(all, 0, n_in);
    PyObject* out_keys = in_keys ? PyTuple_GetSlice(all, n_in, n_in + n_out) : nullptr;
    if (out_keys) key = PyTuple_Pack(3, kind, in_keys, out_keys);
    Py_XDECREF(in_keys);
    Py_XDECREF(out_keys);
  }
  Py_DECREF(all);
  return key;
}

PyObject* node_keys(PyObject*, PyObject* args) {
  PyObject *kinds, *inputs, *outputs, *keys;
  int generated, numbered = 0;
  if (!PyArg_ParseTuple(args, "O!O!O!O!p|p:node_keys", &PyList_Type, &kinds, &PyList_Type,
                        &inputs, &PyList_Type, &outputs, &PyDict_Type, &keys, &generated,
                        &numbered)) {
    return nullptr;
  }
  // numbered: each key's number in order of first appearance (-1 for None) instead of the key
  PyObject* numbers = numbered ? PyDict_New() : nullptr;
  if (numbered && numbers == nullptr) return nullptr;
  PyObject* none_number = numbered ? PyLong_FromLong(-1) : nullptr;
  Py_ssize_t count = PyList_GET_SIZE(kinds);
  PyObject* out = nullptr;
  if (PyList_GET_SIZE(inputs) != count || PyList_GET_SIZE(outputs) != count) {
    PyErr_SetString(PyExc_ValueError, "node_keys: kinds, inputs and outputs differ in length");
  } else if (!numbered || none_number != nullptr) {
    out = PyList_New(count);
  }
  for (Py_ssize_t i = 0; out != nullptr && i < count; ++i) {
    PyObject* ins = PyList_GET_ITEM(inputs, i);
    PyObject* outs = PyList_GET_ITEM(outputs, i);
    if (!PyList_Check(ins) || !PyList_Check(outs)) {
      PyErr_SetString(PyExc_TypeError, "node_keys: each node's inputs and outputs must be lists");
      Py_CLEAR(out);
      break;
    }
    PyObject* key = node_key(keys, PyList_GET_ITEM(kinds, i), ins, outs, generated != 0);
    if (key != nullptr && numbered) {  // the key's number, given at its first appearance
      PyObject* number = nullptr;
      if (key == Py_None) {
        number = Py_NewRef(none_number);
      } else {
        number = PyDict_GetItemWithError(numbers, key);
        if (number != nullptr) {
          Py_INCREF(number);
        } else if (!PyErr_Occurred()) {
          number = PyLong_FromSsize_t(PyDict_GET_SIZE(numbers));
          if (number != nullptr && PyDict_SetItem(numbers, key, number) != 0) Py_CLEAR(number);
        }
      }
      Py_DECREF(key);
      key = number;
    }
    if (key == nullptr) {
      Py_CLEAR(out);
      break;
    }
    PyList_SET_ITEM(out, i, key);
  }
  Py_XDECREF(numbers);
  Py_XDECREF(none_number);
  return out;
}

// `static._generated_dims_python` in C: the serialized type with the text of each made-up
// dim name (a Dimension's dim_param, field 2, of 5 to 127 bytes starting "unk__") blanked,
// and those names; None when they cannot be told apart from the rest of the bytes. A new
// reference; nullptr with an error set on failure.
PyObject* split_generated(const char* data, Py_ssize_t size) {
  static const char kPrefix[] = "unk__";
  std::vector<std::pair<Py_ssize_t, Py_ssize_t>> spans;  // [start, stop) of each name
  Py_ssize_t end = 0;
  // the non-overlapping matches of \x12[\x05-\x7f]unk__, left to right, as re.finditer
  for (Py_ssize_t scan = 0; scan + 7 <= size;) {
    const unsigned char length = static_cast<unsigned char>(data[scan + 1]);
    if (data[scan] != '\x12' || length < 5 || length > 0x7f ||
        std::memcmp(data + scan + 2, kPrefix, 5) != 0) {
      ++scan;
      continue;
    }
    Py_ssize_t start = scan + 2;
    if (start < end) return Py_NewRef(Py_None);  // overlapping: not told apart
    end = start + length;
    spans.emplace_back(start, end < size ? end : size);  // a slice past the end stops there
    scan += 7;
  }
  PyObject* names = PyTuple_New(static_cast<Py_ssize_t>(spans.size()));
  if (names == nullptr) return nullptr;
  Py_ssize_t blanked_size = size + static_cast<Py_ssize_t>(spans.size());
  for (size_t k = 0; k < spans.size(); ++k) {
    PyObject* name = PyUnicode_DecodeUTF8(data + spans[k].first, spans[k].second - spans[k].first, "strict");
    if (name == nullptr) {
      Py_DECREF(names);
      if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return nullptr;
      PyErr_Clear();
      return Py_NewRef(Py_None);  // not UTF-8: not told apart
    }
    PyTuple_SET_ITEM(names, static_cast<Py_ssize_t>(k), name);
    blanked_size -= spans[k].second - spans[k].first;
  }
  // the pieces between the names joined by one NUL each (b"\0".join(parts))
  PyObject* blanked = PyBytes_FromStringAndSize(nullptr, blanked_size);
  if (blanked == nullptr) {
    Py_DECREF(names);
    return nullptr;
  }
  char* out = PyBytes_AS_STRING(blanked);
  Py_ssize_t from = 0;
  for (const auto& span : spans) {
    std::memcpy(out, data + from, static_cast<size_t>(span.first - from));
    out += span.first - from;
    *out++ = '\0';
    from = span.second;
  }
  std::memcpy(out, data + from, static_cast<size_t>(size - from));
  PyObject* result = PyTuple_Pack(2, blanked, names);
  Py_DECREF(blanked);
  Py_DECREF(names);
  return result;
}

PyObject* generated_dims(PyObject*, PyObject* arg) {
  if (!PyBytes_Check(arg)) {
    PyErr_SetString(PyExc_TypeError, "generated_dims: a serialized type (bytes) is expected");
    return nullptr;
  }
  return split_generated(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg));
}

// `VerdictMemo._key_generated_alike`'s grouping: blanked type -> [(type, names), ...] of the
// serialized types (bytes) that hold a made-up dim, are not keys of `known`, and whose names
// are told apart; in the order given.
PyObject* generated_patterns(PyObject*, PyObject* args) {
  PyObject *types, *known;
  if (!PyArg_ParseTuple(args, "OO!:generated_patterns", &types, &PyDict_Type, &known)) return nullptr;
  PyObject* iterator = PyObject_GetIter(types);
  if (iterator == nullptr) return nullptr;
  PyObject* patterns = PyDict_New();
  PyObject* item;
  while (patterns != nullptr && (item = PyIter_Next(iterator)) != nullptr) {
    bool ok = true;
    if (PyBytes_Check(item)) {
      const char* data = PyBytes_AS_STRING(item);
      Py_ssize_t size = PyBytes_GET_SIZE(item);
      bool generated = false;
      for (Py_ssize_t k = 0; k + 5 <= size && !generated; ++k) {
        generated = data[k] == 'u' && std::memcmp(data + k, "unk__", 5) == 0;
      }
      int present = generated ? PyDict_Contains(known, item) : 1;
      if (present < 0) ok = false;
      if (ok && !present) {
        PyObject* split = split_generated(data, size);
        if (split == nullptr) {
          ok = false;
        } else if (split != Py_None) {
          PyObject* blanked = PyTuple_GET_ITEM(split, 0);
          PyObject* member = PyTuple_Pack(2, item, PyTuple_GET_ITEM(split, 1));
          PyObject* members = member ? PyDict_GetItemWithError(patterns, blanked) : nullptr;
          if (member == nullptr || (members == nullptr && PyErr_Occurred())) {
            ok = false;
          } else if (members == nullptr) {
            PyObject* fresh = PyList_New(0);
            ok = fresh != nullptr && PyDict_SetItem(patterns, blanked, fresh) == 0 &&
                 PyList_Append(fresh, member) == 0;
            Py_XDECREF(fresh);
          } else {
            ok = PyList_Append(members, member) == 0;
          }
          Py_XDECREF(member);
        }
        Py_XDECREF(split);
      }
    }
    Py_DECREF(item);
    if (!ok) Py_CLEAR(patterns);
  }
  Py_DECREF(iterator);
  if (patterns != nullptr && PyErr_Occurred()) Py_CLEAR(patterns);
  return patterns;
}

PyMethodDef methods[] = {
    {"generated_patterns", generated_patterns, METH_VARARGS,
     "generated_patterns(types, known) -> {blanked type: [(type, names), ...]}, as "
     "VerdictMemo._key_generated_alike groups them."},
    {"generated_dims", generated_dims, METH_O,
     "generated_dims(serialized_type) -> (blanked bytes, names) | None, as "
     "static._generated_dims_python."},
    {"node_keys", node_keys, METH_VARARGS,
     "node_keys(kinds, inputs, outputs, tensor_keys, generated, numbered=False) -> list: each "
     "node's verdict key, as VerdictMemo._node_keys_python builds it; numbered: each key's "
     "number instead (in order of first appearance; -1 for a node whose verdict is never "
     "shared)."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_memo_keys",
    "The static backend's node keys, built in C (see memo_keys.cpp).", -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__memo_keys() { return PyModule_Create(&module); }
