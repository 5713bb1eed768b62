// trtforge.analyzer._memo_keys — the static backend's node keys, built in C.
//
// `VerdictMemo` (analyzer/backends/static.py) shares one verdict among the nodes that look
// exactly alike: each node's key is its kind and the keys of its tensors, a tuple built from
// dict lookups only. For 100,000 nodes Python spends ~0.1 s building and numbering those
// tuples (~0.2 s when shapes hold dims made up by shape inference, whose names are
// renumbered per node); `node_key_numbers` numbers the same keys in C without building them,
// and `generated_patterns` groups the types that differ only in made-up dim names.
// `VerdictMemo._node_keys` and `_generated_dims_python` are the references, and
// `tests/perf/test_verdict_memo.py` holds them equal.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
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

// -- node_key_numbers -------------------------------------------------------------------------
// The keys of `VerdictMemo._node_keys` numbered in order of first appearance, without
// building them as Python tuples: each key is written as a sequence of integers that is equal for two nodes exactly
// when their keys are (a tag for its form, the counts, each tensor key: its id, or its id and
// its made-up dims renumbered), and numbered through a hash table of those sequences.
class KeyWriter {
 public:
  void clear() { out_.clear(); }
  void put(int64_t value) {
    const char* raw = reinterpret_cast<const char*>(&value);
    out_.append(raw, sizeof value);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

bool put_int(KeyWriter& writer, PyObject* value) {
  long long number = PyLong_AsLongLong(value);
  if (number == -1 && PyErr_Occurred()) return false;
  writer.put(number);
  return true;
}

// Writes one tensor key; `seen` numbers the made-up dim names of the node (renumbering).
bool put_tensor(KeyWriter& writer, PyObject* key, std::vector<PyObject*>& seen, bool renumbering) {
  if (!PyTuple_CheckExact(key)) {
    if (!PyLong_Check(key)) {
      PyErr_SetString(PyExc_TypeError, "a tensor key is an int or (id, names)");
      return false;
    }
    if (renumbering) writer.put(0);
    return put_int(writer, key);
  }
  PyObject* names = PyTuple_GET_SIZE(key) == 2 ? PyTuple_GET_ITEM(key, 1) : nullptr;
  if (!renumbering || names == nullptr || !PyTuple_Check(names)) {
    PyErr_SetString(PyExc_TypeError, "a tensor key with made-up dims is (id, names tuple)");
    return false;
  }
  writer.put(1);
  if (!put_int(writer, PyTuple_GET_ITEM(key, 0))) return false;
  writer.put(PyTuple_GET_SIZE(names));
  for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(names); ++j) {
    PyObject* name = PyTuple_GET_ITEM(names, j);
    size_t number = 0;
    for (; number < seen.size(); ++number) {
      int equal = PyObject_RichCompareBool(seen[number], name, Py_EQ);
      if (equal < 0) return false;
      if (equal) break;
    }
    if (number == seen.size()) seen.push_back(name);
    writer.put(static_cast<int64_t>(number));
  }
  return true;
}

PyObject* node_key_numbers(PyObject*, PyObject* args) {
  PyObject *kinds, *inputs, *outputs, *keys;
  int generated;
  if (!PyArg_ParseTuple(args, "O!O!O!O!p:node_key_numbers", &PyList_Type, &kinds, &PyList_Type,
                        &inputs, &PyList_Type, &outputs, &PyDict_Type, &keys, &generated)) {
    return nullptr;
  }
  Py_ssize_t count = PyList_GET_SIZE(kinds);
  if (PyList_GET_SIZE(inputs) != count || PyList_GET_SIZE(outputs) != count) {
    PyErr_SetString(PyExc_ValueError, "node_key_numbers: kinds, inputs and outputs differ in length");
    return nullptr;
  }
  PyObject* out = PyList_New(count);
  if (out == nullptr) return nullptr;
  std::unordered_map<std::string, Py_ssize_t> numbers;
  KeyWriter writer;
  std::vector<PyObject*> tensor_keys;  // new references, released per node
  std::vector<PyObject*> seen;
  bool ok = true;
  for (Py_ssize_t i = 0; ok && i < count; ++i) {
    PyObject* kind = PyList_GET_ITEM(kinds, i);
    PyObject* ins = PyList_GET_ITEM(inputs, i);
    PyObject* outs = PyList_GET_ITEM(outputs, i);
    if (!PyList_Check(ins) || !PyList_Check(outs)) {
      PyErr_SetString(PyExc_TypeError, "node_key_numbers: inputs and outputs must be lists");
      ok = false;
      break;
    }
    Py_ssize_t number = -1;
    // as `_node_keys`: in the plain form, tensors are keyed even for a node never shared
    if (kind != Py_None || !generated) {
      Py_ssize_t n_in = PyList_GET_SIZE(ins), n_out = PyList_GET_SIZE(outs);
      bool has_generated = false;
      for (Py_ssize_t k = 0; ok && k < n_in + n_out; ++k) {
        PyObject* name = k < n_in ? PyList_GET_ITEM(ins, k) : PyList_GET_ITEM(outs, k - n_in);
        PyObject* key = tensor_key(keys, name);
        if (key == nullptr) {
          ok = false;
          break;
        }
        has_generated = has_generated || PyTuple_CheckExact(key);
        tensor_keys.push_back(key);
      }
      if (ok && kind != Py_None) {
        writer.clear();
        seen.clear();
        bool renumbering = generated && has_generated;
        writer.put(renumbering ? 1 : 0);
        ok = put_int(writer, kind);
        writer.put(renumbering ? n_in + n_out : n_in);
        if (!renumbering) writer.put(n_out);
        for (size_t k = 0; ok && k < tensor_keys.size(); ++k) {
          ok = put_tensor(writer, tensor_keys[k], seen, renumbering);
        }
        if (ok) {
          auto found = numbers.find(writer.bytes());
          if (found == numbers.end()) {
            found = numbers.emplace(writer.bytes(), static_cast<Py_ssize_t>(numbers.size())).first;
          }
          number = found->second;
        }
      }
      for (PyObject* key : tensor_keys) Py_DECREF(key);
      tensor_keys.clear();
    }
    if (!ok) break;
    PyObject* value = PyLong_FromSsize_t(number);
    if (value == nullptr) {
      ok = false;
      break;
    }
    PyList_SET_ITEM(out, i, value);
  }
  if (!ok) Py_CLEAR(out);
  return out;
}

// The entries of `table` (name -> serialized type) that `names` (a set) selects: those in it
// when `inside`, else those not in it. Calls `on(name, type)` for each, in the table's order;
// false with a Python error set on failure.
template <typename On>
bool each_selected(PyObject* table, PyObject* names, int inside, On on) {
  Py_ssize_t position = 0;
  PyObject *name, *type;
  while (PyDict_Next(table, &position, &name, &type)) {
    int in = PySet_Contains(names, name);
    if (in < 0) return false;
    if ((in != 0) != (inside != 0)) continue;
    if (!on(name, type)) return false;
  }
  return true;
}

bool selection_args(PyObject* table, PyObject* names) {
  if (!PyDict_Check(table) || !PyAnySet_Check(names)) {
    PyErr_SetString(PyExc_TypeError, "expected a dict and a set");
    return false;
  }
  return true;
}

PyObject* first_names(PyObject*, PyObject* args) {
  PyObject *table, *names;
  int inside;
  if (!PyArg_ParseTuple(args, "OOp", &table, &names, &inside) || !selection_args(table, names)) {
    return nullptr;
  }
  PyObject* out = PyDict_New();
  if (out == nullptr) return nullptr;
  if (!each_selected(table, names, inside, [&](PyObject* name, PyObject* type) {
        return PyDict_SetDefault(out, type, name) != nullptr;
      })) {
    Py_DECREF(out);
    return nullptr;
  }
  return out;
}

PyObject* keyed_by_type(PyObject*, PyObject* args) {
  PyObject *table, *by_type, *names, *known;
  int inside;
  if (!PyArg_ParseTuple(args, "OO!OpO!", &table, &PyDict_Type, &by_type, &names, &inside,
                        &PyDict_Type, &known) ||
      !selection_args(table, names)) {
    return nullptr;
  }
  PyObject* left = PyList_New(0);
  if (left == nullptr) return nullptr;
  if (!each_selected(table, names, inside, [&](PyObject* name, PyObject* type) {
        PyObject* key = PyDict_GetItemWithError(by_type, type);
        if (key != nullptr) return PyDict_SetItem(known, name, key) == 0;
        return !PyErr_Occurred() && PyList_Append(left, name) == 0;
      })) {
    Py_DECREF(left);
    return nullptr;
  }
  return left;
}

// -- signatures ------------------------------------------------------------------------------
// `NodeFields.signatures` in C: nodes numbered by (op_type, domain, attribute keys, input count,
// output count, which inputs are empty names), without building a tuple for each node.

bool empty_name(PyObject* name) { return PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) == 0; }

// The fields of one node that its signature holds (borrowed references).
struct SignatureOf {
  PyObject *op, *domain, *attributes, *inputs;
  Py_ssize_t n_outputs;
  bool has_empty;
};

bool same_signature(const SignatureOf& a, const SignatureOf& b) {
  if (PySequence_Fast_GET_SIZE(a.attributes) != PySequence_Fast_GET_SIZE(b.attributes) ||
      PySequence_Fast_GET_SIZE(a.inputs) != PySequence_Fast_GET_SIZE(b.inputs) ||
      a.n_outputs != b.n_outputs || a.has_empty != b.has_empty) {
    return false;
  }
  int equal = PyObject_RichCompareBool(a.op, b.op, Py_EQ);
  if (equal == 1) equal = PyObject_RichCompareBool(a.domain, b.domain, Py_EQ);
  for (Py_ssize_t k = 0; equal == 1 && k < PySequence_Fast_GET_SIZE(a.attributes); ++k) {
    equal = PyObject_RichCompareBool(PySequence_Fast_GET_ITEM(a.attributes, k),
                                     PySequence_Fast_GET_ITEM(b.attributes, k), Py_EQ);
  }
  if (equal == 1 && a.has_empty) {
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(a.inputs); ++k) {
      if (empty_name(PySequence_Fast_GET_ITEM(a.inputs, k)) !=
          empty_name(PySequence_Fast_GET_ITEM(b.inputs, k))) {
        return false;
      }
    }
  }
  return equal == 1;  // (an error of a comparison is raised by the caller)
}

PyObject* signatures(PyObject*, PyObject* args) {
  PyObject *ops, *domains, *attributes, *inputs, *outputs;
  if (!PyArg_ParseTuple(args, "O!O!O!O!O!", &PyList_Type, &ops, &PyList_Type, &domains,
                        &PyList_Type, &attributes, &PyList_Type, &inputs, &PyList_Type, &outputs)) {
    return nullptr;
  }
  const Py_ssize_t count = PyList_GET_SIZE(ops);
  if (PyList_GET_SIZE(domains) != count || PyList_GET_SIZE(attributes) != count ||
      PyList_GET_SIZE(inputs) != count || PyList_GET_SIZE(outputs) != count) {
    PyErr_SetString(PyExc_ValueError, "the columns differ in length");
    return nullptr;
  }
  for (PyObject* column : {attributes, inputs, outputs}) {
    for (Py_ssize_t i = 0; i < count; ++i) {
      PyObject* item = PyList_GET_ITEM(column, i);
      if (!PyList_Check(item) && !PyTuple_Check(item)) {
        PyErr_SetString(PyExc_TypeError, "attributes, inputs and outputs hold lists or tuples");
        return nullptr;
      }
    }
  }
  std::unordered_map<Py_hash_t, std::vector<Py_ssize_t>> by_hash;  // hash -> signature numbers
  std::vector<SignatureOf> firsts;
  PyObject* numbers = PyList_New(count);
  if (numbers == nullptr) return nullptr;
  PyObject* first = PyList_New(0);
  if (first == nullptr) {
    Py_DECREF(numbers);
    return nullptr;
  }
  auto fail = [&]() -> PyObject* {
    Py_DECREF(numbers);
    Py_DECREF(first);
    return nullptr;
  };
  for (Py_ssize_t i = 0; i < count; ++i) {
    SignatureOf node{PyList_GET_ITEM(ops, i), PyList_GET_ITEM(domains, i),
                     PyList_GET_ITEM(attributes, i), PyList_GET_ITEM(inputs, i),
                     PySequence_Fast_GET_SIZE(PyList_GET_ITEM(outputs, i)), false};
    Py_hash_t hash = PyObject_Hash(node.op);
    if (hash == -1) return fail();
    Py_hash_t part = PyObject_Hash(node.domain);
    if (part == -1) return fail();
    uint64_t h = static_cast<uint64_t>(hash) * 1000003u ^ static_cast<uint64_t>(part);
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(node.attributes); ++k) {
      part = PyObject_Hash(PySequence_Fast_GET_ITEM(node.attributes, k));
      if (part == -1) return fail();
      h = h * 1000003u ^ static_cast<uint64_t>(part);
    }
    const Py_ssize_t n_inputs = PySequence_Fast_GET_SIZE(node.inputs);
    uint64_t empties = 0;
    for (Py_ssize_t k = 0; k < n_inputs; ++k) {
      if (empty_name(PySequence_Fast_GET_ITEM(node.inputs, k))) {
        node.has_empty = true;
        empties = empties * 31u + static_cast<uint64_t>(k) + 1u;
      }
    }
    h = (h * 1000003u ^ static_cast<uint64_t>(n_inputs)) * 1000003u ^
        static_cast<uint64_t>(node.n_outputs);
    h = h * 1000003u ^ empties;
    auto& candidates = by_hash[static_cast<Py_hash_t>(h)];
    Py_ssize_t number = -1;
    for (Py_ssize_t candidate : candidates) {
      if (same_signature(node, firsts[static_cast<size_t>(candidate)])) {
        number = candidate;
        break;
      }
      if (PyErr_Occurred()) return fail();
    }
    if (PyErr_Occurred()) return fail();
    if (number < 0) {
      number = static_cast<Py_ssize_t>(firsts.size());
      firsts.push_back(node);
      candidates.push_back(number);
      PyObject* index = PyLong_FromSsize_t(i);
      if (index == nullptr || PyList_Append(first, index) != 0) {
        Py_XDECREF(index);
        return fail();
      }
      Py_DECREF(index);
    }
    PyObject* value = PyLong_FromSsize_t(number);
    if (value == nullptr) return fail();
    PyList_SET_ITEM(numbers, i, value);
  }
  PyObject* result = PyTuple_Pack(2, numbers, first);
  Py_DECREF(numbers);
  Py_DECREF(first);
  return result;
}

PyMethodDef methods[] = {
    {"first_names", first_names, METH_VARARGS,
     "first_names(table, names, inside) -> {type: name}: the first name of each type among "
     "the entries of `table` (name -> type) in the set `names` (`inside`) or not in it, the "
     "types in order of first appearance; as static._first_names_python."},
    {"keyed_by_type", keyed_by_type, METH_VARARGS,
     "keyed_by_type(table, by_type, names, inside, known) -> [name, ...]: sets known[name] = "
     "by_type[type] for the selected entries of `table` (as first_names selects them) whose "
     "type has a key, and returns the others' names, in order; as "
     "static._keyed_by_type_python."},
    {"node_key_numbers", node_key_numbers, METH_VARARGS,
     "node_key_numbers(kinds, inputs, outputs, tensor_keys, generated) -> list[int]: each "
     "node's key as a number (equal keys, equal numbers, in order of first appearance; -1 "
     "for a node whose verdict is never shared), without building the keys."},
    {"generated_patterns", generated_patterns, METH_VARARGS,
     "generated_patterns(types, known) -> {blanked type: [(type, names), ...]}, as "
     "VerdictMemo._key_generated_alike groups them."},
    {"signatures", signatures, METH_VARARGS,
     "signatures(ops, domains, attribute_keys, inputs, outputs) -> (numbers, first): each "
     "node's signature number and the first node of each, as NodeFields.signatures numbers "
     "them (lists, one entry per node)."},
    {"generated_dims", generated_dims, METH_O,
     "generated_dims(serialized_type) -> (blanked bytes, names) | None, as "
     "static._generated_dims_python."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_memo_keys",
    "The static backend's node keys, built in C (see memo_keys.cpp).", -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__memo_keys() { return PyModule_Create(&module); }
