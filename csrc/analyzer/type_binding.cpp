// trtforge.analyzer._type_binding — the passes that type what op schemas bind, in C.
//
// `schema_types.element_types` gives the tensors ONNX's inference leaves untyped (everything
// after an onnxruntime com.microsoft op) the element types their nodes' schemas bind them
// to. Its passes look at each such node: its schema's type variables, its tensors' element
// types, which of them are untyped outputs; a 100,000-node LLM of onnxruntime's ops has
// ~70,000 of them, ~5 µs each in Python. `passes` runs the same loop here, asking Python only
// for what it does not hold: a kind of node's variables (once per kind), a tensor's given
// type (once per name) and what a combination of variables and types binds (once per
// combination). `schema_types._Binder._python_passes` is the reference, and
// `tests/test_schema_types.py` holds the two equal.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

// Python objects this module keeps (new references), released when it returns.
struct Owned {
  std::vector<PyObject*> objects;
  PyObject* keep(PyObject* o) {
    objects.push_back(o);
    return o;
  }
  ~Owned() {
    for (PyObject* o : objects) Py_DECREF(o);
  }
};

// A kind of node's schema variables: the Python `variables` object (None: no schema) and
// which of its tensors' slots a variable or fixed type binds.
struct Kind {
  PyObject* variables;  // borrowed from `Owned`
  std::vector<bool> bound;
};

// Item `index` of `object` where it is a tuple of `size` items and that item a tuple too;
// else nullptr with a TypeError saying what `what` must give (a borrowed reference).
PyObject* tuple_of_tuple(PyObject* object, Py_ssize_t size, Py_ssize_t index, const char* what) {
  PyObject* item = PyTuple_Check(object) && PyTuple_GET_SIZE(object) == size
                       ? PyTuple_GET_ITEM(object, index)
                       : nullptr;
  if (item == nullptr || !PyTuple_Check(item)) {
    PyErr_SetString(PyExc_TypeError, what);
    return nullptr;
  }
  return item;
}

struct Outcome {
  bool invalid = false;
  bool left = false;
  std::vector<std::pair<Py_ssize_t, PyObject*>> assigned;  // slot, element type (borrowed)
};

class Binder {
 public:
  Binder(PyObject* variables_of, PyObject* given_of, PyObject* produced, PyObject* no_type,
         PyObject* found, PyObject* binding, PyObject* onnx_domains, PyObject* given)
      : variables_of_(variables_of),
        given_of_(given_of),
        produced_(produced),
        no_type_(no_type),
        given_(given),
        found_(found),
        binding_(binding),
        onnx_domains_(onnx_domains) {}

  // Up to `passes` passes over `rows`, as `_Binder._python_passes`; the rows left, or
  // nullptr with an error set.
  PyObject* run(PyObject* rows, bool foreign, PyObject* ops, PyObject* domains, PyObject* inputs,
                PyObject* outputs, int passes) {
    Py_ssize_t count = PyList_GET_SIZE(ops);
    if (PyList_GET_SIZE(domains) != count || PyList_GET_SIZE(inputs) != count ||
        PyList_GET_SIZE(outputs) != count) {
      PyErr_SetString(PyExc_ValueError, "passes: the columns differ in length");
      return nullptr;
    }
    std::vector<Py_ssize_t> pending;
    pending.reserve(PyList_GET_SIZE(rows));
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(rows); ++k) {
      Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(rows, k));
      if (i == -1 && PyErr_Occurred()) return nullptr;
      if (i < 0 || i >= count) {
        PyErr_SetString(PyExc_IndexError, "passes: a row outside the columns");
        return nullptr;
      }
      pending.push_back(i);
    }
    // every row's op type, domain and tensor names are text, checked before anything is
    // found (protobuf hands a name that is not UTF-8 over as bytes: the caller's Python
    // passes take those)
    for (Py_ssize_t i : pending) {
      PyObject* ins = PyList_GET_ITEM(inputs, i);
      PyObject* outs = PyList_GET_ITEM(outputs, i);
      if (!PyUnicode_Check(PyList_GET_ITEM(ops, i)) ||
          !PyUnicode_Check(PyList_GET_ITEM(domains, i)) ||
          !(PyList_Check(ins) || PyTuple_Check(ins)) || !(PyList_Check(outs) || PyTuple_Check(outs))) {
        PyErr_SetString(PyExc_TypeError, "passes: a row's op, domain or tensors are not text");
        return nullptr;
      }
      for (PyObject* names : {ins, outs}) {
        for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(names); ++k) {
          if (!PyUnicode_Check(PySequence_Fast_GET_ITEM(names, k))) {
            PyErr_SetString(PyExc_TypeError, "passes: a tensor name is not text");
            return nullptr;
          }
        }
      }
    }
    std::vector<PyObject*> tensors;
    std::vector<int> dtypes;
    std::vector<bool> untyped;
    for (int pass = 0; pass < passes; ++pass) {
      bool grew = false;
      std::vector<Py_ssize_t> still;
      for (Py_ssize_t i : pending) {
        PyObject* domain = PyList_GET_ITEM(domains, i);
        if (!foreign) {
          int onnx = PySet_Contains(onnx_domains_, domain);
          if (onnx < 0) return nullptr;
          if (!onnx) {
            still.push_back(i);
            continue;
          }
        }
        PyObject* ins = PyList_GET_ITEM(inputs, i);
        PyObject* outs = PyList_GET_ITEM(outputs, i);
        Py_ssize_t n_in = PySequence_Fast_GET_SIZE(ins), n_out = PySequence_Fast_GET_SIZE(outs);
        const Kind* kind = kind_of(PyList_GET_ITEM(ops, i), domain, n_in, n_out);
        if (kind == nullptr) return nullptr;
        if (kind->variables == Py_None) continue;  // no schema
        tensors.clear();
        for (Py_ssize_t k = 0; k < n_in; ++k) tensors.push_back(PySequence_Fast_GET_ITEM(ins, k));
        for (Py_ssize_t k = 0; k < n_out; ++k) {
          tensors.push_back(PySequence_Fast_GET_ITEM(outs, k));
        }
        if (kind->bound.size() != tensors.size()) {
          PyErr_SetString(PyExc_ValueError, "passes: a kind's bindings do not fit its node");
          return nullptr;
        }
        dtypes.assign(tensors.size(), -1);
        untyped.assign(tensors.size(), false);
        // (`variables_of` caches its answers: a kind's variables are one object)
        std::string key(reinterpret_cast<const char*>(&kind->variables), sizeof(PyObject*));
        for (size_t k = 0; k < tensors.size(); ++k) {
          PyObject* name = tensors[k];
          int truthy = PyObject_IsTrue(name);
          if (truthy < 0) return nullptr;
          if (truthy && kind->bound[k] && !known(name, &dtypes[k])) return nullptr;
          if (truthy) {
            int open = PySet_Contains(produced_, name);
            if (open < 0) return nullptr;
            untyped[k] = open;
          }
          key.append(reinterpret_cast<const char*>(&dtypes[k]), sizeof(int));
          key.push_back(untyped[k] ? '\1' : '\0');
        }
        auto at = outcomes_.find(key);
        if (at == outcomes_.end()) {
          Outcome outcome;
          if (!bind(*kind, dtypes, untyped, &outcome)) return nullptr;
          at = outcomes_.emplace(std::move(key), std::move(outcome)).first;
        }
        const Outcome& outcome = at->second;
        if (outcome.invalid) continue;  // an invalid node: validity reports it
        for (const auto& [slot, dtype] : outcome.assigned) {
          if (slot < 0 || static_cast<size_t>(slot) >= tensors.size()) {
            PyErr_SetString(PyExc_IndexError, "passes: a binding's slot outside its node");
            return nullptr;
          }
          if (PyDict_SetItem(found_, tensors[slot], dtype) < 0) return nullptr;
          grew = true;
        }
        if (outcome.left) still.push_back(i);
      }
      pending.swap(still);
      if (!grew || pending.empty()) break;
    }
    PyObject* left = PyList_New(static_cast<Py_ssize_t>(pending.size()));
    if (left == nullptr) return nullptr;
    for (size_t k = 0; k < pending.size(); ++k) {
      PyObject* row = PyLong_FromSsize_t(pending[k]);
      if (row == nullptr) {
        Py_DECREF(left);
        return nullptr;
      }
      PyList_SET_ITEM(left, static_cast<Py_ssize_t>(k), row);
    }
    return left;
  }

 private:
  // The kind of a node of `op` and `domain` with `n_in` inputs and `n_out` outputs, asked of
  // `variables_of` once.
  const Kind* kind_of(PyObject* op, PyObject* domain, Py_ssize_t n_in, Py_ssize_t n_out) {
    // (the columns hold one object for each op type and domain: looked up by them first,
    // without their text; they outlive the call)
    const ObjectKey object_key{op, domain, n_in, n_out};
    auto seen = kinds_by_object_.find(object_key);
    if (seen != kinds_by_object_.end()) return seen->second;
    const Kind* kind = kind_by_text(op, domain, n_in, n_out);
    if (kind != nullptr) kinds_by_object_.emplace(object_key, kind);
    return kind;
  }

  const Kind* kind_by_text(PyObject* op, PyObject* domain, Py_ssize_t n_in, Py_ssize_t n_out) {
    std::string key;
    for (PyObject* text : {op, domain}) {
      Py_ssize_t size;
      const char* data = PyUnicode_AsUTF8AndSize(text, &size);
      if (data == nullptr) return nullptr;
      key.append(data, static_cast<size_t>(size));
      key.push_back('\0');
    }
    key.append(reinterpret_cast<const char*>(&n_in), sizeof n_in);
    key.append(reinterpret_cast<const char*>(&n_out), sizeof n_out);
    auto at = kinds_.find(key);
    if (at != kinds_.end()) return &at->second;
    PyObject* variables = PyObject_CallFunction(variables_of_, "OOnn", op, domain, n_in, n_out);
    if (variables == nullptr) return nullptr;
    owned_.keep(variables);
    Kind kind{variables, {}};
    if (variables != Py_None) {
      PyObject* names =
          tuple_of_tuple(variables, 2, 1, "passes: variables_of must give (single, names)");
      if (names == nullptr) return nullptr;
      for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(names); ++k) {
        int truthy = PyObject_IsTrue(PyTuple_GET_ITEM(names, k));
        if (truthy < 0) return nullptr;
        kind.bound.push_back(truthy);
      }
    }
    return &kinds_.emplace(std::move(key), std::move(kind)).first->second;
  }

  // `found.get(name) or given(name)` as an element type's number (-1: none; no type is given
  // a name of `no_type`), `given` asked once a name (its answers kept in the dict `given_`,
  // which the caller may keep across calls); false with an error set on failure.
  bool known(PyObject* name, int* dtype) {
    PyObject* value = PyDict_GetItemWithError(found_, name);
    if (value == nullptr && PyErr_Occurred()) return false;
    if (value != nullptr) {
      int truthy = PyObject_IsTrue(value);
      if (truthy < 0) return false;
      if (truthy) return number(value, dtype);
    }
    *dtype = -1;
    int none = PySet_Contains(no_type_, name);
    if (none != 0) return none > 0;  // typed here or never
    PyObject* answer = PyDict_GetItemWithError(given_, name);
    if (answer == nullptr) {
      if (PyErr_Occurred()) return false;
      answer = PyObject_CallOneArg(given_of_, name);
      if (answer == nullptr) return false;
      int stored = PyDict_SetItem(given_, name, answer);
      Py_DECREF(answer);  // (held by `given_`)
      if (stored < 0) return false;
    }
    int truthy = PyObject_IsTrue(answer);
    if (truthy < 0) return false;
    return !truthy || number(answer, dtype);
  }

  // The number of element type `value` (a str), by its text (by the object first: the types
  // found are a few objects, given out again and again).
  bool number(PyObject* value, int* out) {
    auto seen = object_numbers_.find(value);
    if (seen != object_numbers_.end()) {
      *out = seen->second;
      return true;
    }
    Py_ssize_t size;
    const char* text = PyUnicode_AsUTF8AndSize(value, &size);
    if (text == nullptr) return false;
    auto at = numbers_.find(std::string(text, static_cast<size_t>(size)));
    if (at == numbers_.end()) {
      at = numbers_.emplace(std::string(text, static_cast<size_t>(size)),
                            static_cast<int>(dtype_objects_.size()))
               .first;
      dtype_objects_.push_back(owned_.keep(Py_NewRef(value)));
    }
    *out = at->second;
    object_numbers_.emplace(owned_.keep(Py_NewRef(value)), at->second);  // kept: keyed by it
    return true;
  }

  // What `binding(variables, dtypes, untyped)` gives for a kind and its tensors' types.
  bool bind(const Kind& kind, const std::vector<int>& dtypes, const std::vector<bool>& untyped,
            Outcome* outcome) {
    Py_ssize_t n = static_cast<Py_ssize_t>(dtypes.size());
    PyObject* dtype_tuple = PyTuple_New(n);
    PyObject* untyped_tuple = PyTuple_New(n);
    if (dtype_tuple == nullptr || untyped_tuple == nullptr) {
      Py_XDECREF(dtype_tuple);
      Py_XDECREF(untyped_tuple);
      return false;
    }
    for (Py_ssize_t k = 0; k < n; ++k) {
      PyObject* d = dtypes[k] < 0 ? Py_None : dtype_objects_[dtypes[k]];
      PyTuple_SET_ITEM(dtype_tuple, k, Py_NewRef(d));
      PyTuple_SET_ITEM(untyped_tuple, k, PyBool_FromLong(untyped[k]));
    }
    PyObject* result =
        PyObject_CallFunctionObjArgs(binding_, kind.variables, dtype_tuple, untyped_tuple, nullptr);
    Py_DECREF(dtype_tuple);
    Py_DECREF(untyped_tuple);
    if (result == nullptr) return false;
    owned_.keep(result);
    PyObject* assigned =
        tuple_of_tuple(result, 3, 1, "passes: binding must give (invalid, assigned, left)");
    if (assigned == nullptr) return false;
    int invalid = PyObject_IsTrue(PyTuple_GET_ITEM(result, 0));
    int left = PyObject_IsTrue(PyTuple_GET_ITEM(result, 2));
    if (invalid < 0 || left < 0) return false;
    outcome->invalid = invalid;
    outcome->left = left;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(assigned); ++k) {
      PyObject* pair = PyTuple_GET_ITEM(assigned, k);
      if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "passes: an assignment must be (slot, dtype)");
        return false;
      }
      Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
      if (slot == -1 && PyErr_Occurred()) return false;
      outcome->assigned.emplace_back(slot, PyTuple_GET_ITEM(pair, 1));
    }
    return true;
  }

  PyObject* variables_of_;
  PyObject* given_of_;
  PyObject* produced_;
  PyObject* no_type_;
  PyObject* found_;
  PyObject* binding_;
  PyObject* onnx_domains_;
  Owned owned_;
  std::unordered_map<std::string, Kind> kinds_;
  struct ObjectKey {
    PyObject* op;
    PyObject* domain;
    Py_ssize_t n_in, n_out;
    bool operator==(const ObjectKey& o) const {
      return op == o.op && domain == o.domain && n_in == o.n_in && n_out == o.n_out;
    }
  };
  struct ObjectKeyHash {
    size_t operator()(const ObjectKey& k) const {
      size_t h = std::hash<const void*>()(k.op);
      h = h * 31 + std::hash<const void*>()(k.domain);
      h = h * 31 + static_cast<size_t>(k.n_in);
      return h * 31 + static_cast<size_t>(k.n_out);
    }
  };
  std::unordered_map<ObjectKey, const Kind*, ObjectKeyHash> kinds_by_object_;  // into kinds_
  PyObject* given_;  // name -> what `given_of_` answered for it (a dict: hashed names)
  std::unordered_map<std::string, int> numbers_;
  std::vector<PyObject*> dtype_objects_;  // borrowed from `owned_`
  std::unordered_map<PyObject*, int> object_numbers_;
  std::unordered_map<std::string, Outcome> outcomes_;
};

PyObject* passes(PyObject*, PyObject* args) {
  PyObject *rows, *ops, *domains, *inputs, *outputs, *variables_of, *given, *produced, *no_type,
      *found, *binding, *onnx_domains, *given_answers = nullptr;
  int foreign, count;
  if (!PyArg_ParseTuple(args, "O!pO!O!O!O!OOOOO!OOi|O!:passes", &PyList_Type, &rows, &foreign,
                        &PyList_Type, &ops, &PyList_Type, &domains, &PyList_Type, &inputs,
                        &PyList_Type, &outputs, &variables_of, &given, &produced, &no_type,
                        &PyDict_Type, &found, &binding, &onnx_domains, &count, &PyDict_Type,
                        &given_answers)) {
    return nullptr;
  }
  for (PyObject* set : {produced, no_type, onnx_domains}) {
    if (!PyAnySet_Check(set)) {
      PyErr_SetString(PyExc_TypeError, "passes: produced, no_type and onnx_domains are sets");
      return nullptr;
    }
  }
  // (a dict the caller keeps across its calls: `given` asked once a name in all of them)
  given_answers = given_answers != nullptr ? Py_NewRef(given_answers) : PyDict_New();
  if (given_answers == nullptr) return nullptr;
  PyObject* left;
  {
    Binder binder(variables_of, given, produced, no_type, found, binding, onnx_domains,
                  given_answers);
    left = binder.run(rows, foreign, ops, domains, inputs, outputs, count);
  }
  Py_DECREF(given_answers);
  return left;
}

// Whether `name` is in `container` (a dict or a set: their C lookups; anything else by
// `in`): 1, 0, or -1 with an error set.
int contains(PyObject* container, PyObject* name) {
  if (PyDict_CheckExact(container)) return PyDict_Contains(container, name);
  if (PyAnySet_Check(container)) return PySet_Contains(container, name);
  return PySequence_Contains(container, name);
}

// Whether any name of `names` (a list or tuple) is in the set `within`: 1, 0 or -1.
int any_in(PyObject* names, PyObject* within) {
  for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(names); ++k) {
    int in = PySet_Contains(within, PySequence_Fast_GET_ITEM(names, k));
    if (in != 0) return in;
  }
  return 0;
}

PyObject* open_rows(PyObject*, PyObject* args) {
  PyObject *domains, *inputs, *outputs, *typed, *schemaless;
  if (!PyArg_ParseTuple(args, "O!O!O!OO:open_rows", &PyList_Type, &domains, &PyList_Type,
                        &inputs, &PyList_Type, &outputs, &typed, &schemaless)) {
    return nullptr;
  }
  const Py_ssize_t count = PyList_GET_SIZE(domains);
  if (PyList_GET_SIZE(inputs) != count || PyList_GET_SIZE(outputs) != count) {
    PyErr_SetString(PyExc_ValueError, "open_rows: the columns differ in length");
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* ins = PyList_GET_ITEM(inputs, i);
    PyObject* outs = PyList_GET_ITEM(outputs, i);
    if (!(PyList_Check(ins) || PyTuple_Check(ins)) || !(PyList_Check(outs) || PyTuple_Check(outs))) {
      PyErr_SetString(PyExc_TypeError, "open_rows: a row's tensors are not a list");
      return nullptr;
    }
  }
  PyObject* untyped = PySet_New(nullptr);
  PyObject* rows = PyList_New(0);
  if (untyped == nullptr || rows == nullptr) goto failed;
  // the outputs no type is known for (`typed`: name -> type)
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* outs = PyList_GET_ITEM(outputs, i);
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(outs); ++k) {
      PyObject* name = PySequence_Fast_GET_ITEM(outs, k);
      int truthy = PyObject_IsTrue(name);
      if (truthy < 0) goto failed;
      if (!truthy) continue;
      int in = contains(typed, name);
      if (in < 0) goto failed;
      if (!in && PySet_Add(untyped, name) < 0) goto failed;
    }
  }
  if (PySet_GET_SIZE(untyped) == 0) return Py_BuildValue("(NN)", untyped, rows);
  // the rows of a domain with schemas touching one of them
  for (Py_ssize_t i = 0; i < count; ++i) {
    int skip = contains(schemaless, PyList_GET_ITEM(domains, i));
    if (skip < 0) goto failed;
    if (skip) continue;
    int open = any_in(PyList_GET_ITEM(outputs, i), untyped);
    if (open == 0) open = any_in(PyList_GET_ITEM(inputs, i), untyped);
    if (open < 0) goto failed;
    if (!open) continue;
    PyObject* row = PyLong_FromSsize_t(i);
    if (row == nullptr) goto failed;
    int added = PyList_Append(rows, row);
    Py_DECREF(row);
    if (added < 0) goto failed;
  }
  return Py_BuildValue("(NN)", untyped, rows);
failed:
  Py_XDECREF(untyped);
  Py_XDECREF(rows);
  return nullptr;
}

PyMethodDef methods[] = {
    {"open_rows", open_rows, METH_VARARGS,
     "open_rows(domains, inputs, outputs, typed, schemaless) -> (untyped, rows): the set of "
     "outputs not in `typed`, and the rows not of a `schemaless` domain that read or write one "
     "of them (none where the set is empty). As schema_types._open_rows_python."},
    {"passes", passes, METH_VARARGS,
     "passes(rows, foreign, ops, domains, inputs, outputs, variables_of, given, produced, "
     "no_type, found, binding, onnx_domains, count, given_answers={}) -> [row, ...]: up to `count` passes over `rows`, "
     "setting found[name] to what each row's schema binds; the rows left open. As "
     "schema_types._Binder._python_passes (variables_of(op, domain, n_in, n_out), "
     "given(name) and binding(variables, dtypes, untyped) are its helpers; names in no_type are never given a type; "
     "given_answers: name -> given(name), a dict the caller may keep across calls)."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_type_binding",
    "The passes that type what op schemas bind, in C (see type_binding.cpp).", -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__type_binding() { return PyModule_Create(&module); }
