// trtforge.analyzer._wire — a GraphProto's node fields read straight from the wire format.
//
// The static backend reads every node's name, op_type, domain, inputs, outputs and
// (serialized) attributes once (`analyzer/graph.py`, `NodeFields`). Through protobuf's Python
// objects that costs ~3 µs a node — a third of a second for 100,000 nodes, the largest part
// of a large model's check — nearly all of it making Python objects one field at a time.
// This module walks the serialized graph once and builds the same lists in C, each distinct
// name made into one Python string (an output and the inputs that read it share it, and its
// hash is computed once for every later dict lookup), each distinct attribute into one bytes
// (up to Blobs::kInternedUpTo bytes; larger ones, a Constant's weights, one bytes each).
//
// The result equals what protobuf gives (`tests/analyzer/test_wire.py` holds the two equal):
// a singular field's last occurrence wins, a missing one reads "", text that is not UTF-8
// comes back as bytes (proto2 strings, as protobuf's Python API returns them), and each
// attribute is its exact bytes. Anything this reader does not expect — a truncated or
// malformed message, a group, a field of the wrong wire type — returns None, and the caller
// reads the graph through protobuf, which raises the error it always did.
//
// `model_types` reads an inferred model's types the same way, for the type table
// (`_speculation.table_state`); `weight_facts` what decides whether the lean child may infer.
// `short_names` and `restored_types` rename a model around ONNX's shape inference (their own
// section below: inference costs about in proportion to the length of the names).
//
// Field numbers (onnx.proto): ModelProto.graph 7; GraphProto: node 1, input 11, output 12,
// value_info 13; NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7;
// ValueInfoProto: name 1, type 2.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "wire_format.h"

namespace {

using namespace trtforge::wire_format;

// Byte strings (views into the caller's buffer, which outlives it) to Python objects it holds
// a reference to: one object per distinct string (`StringTable`: its probes are most of a
// 100,000-node graph's read).
class Interned {
 public:
  explicit Interned(size_t expected) { table_.reserve(expected); }
  ~Interned() {
    for (const auto& entry : table_.entries()) Py_DECREF(entry.value);
  }
  Interned(const Interned&) = delete;
  Interned& operator=(const Interned&) = delete;

  // A new reference to the object for `key`, made by `make(key)` the first time; nullptr with
  // a Python error set on failure.
  template <typename Make>
  PyObject* get(std::string_view key, Make make) {
    const auto* entry = table_.find(key);
    PyObject* object = entry != nullptr ? entry->value : nullptr;
    if (object == nullptr) {
      object = make(key);
      if (object == nullptr) return nullptr;
      table_.insert(key, object);  // (the table's reference: the one `make` gave)
    }
    Py_INCREF(object);
    return object;
  }

  void prefetch(std::string_view key) const { table_.prefetch(key); }

 private:
  StringTable<PyObject*> table_;
};

// Text as Python sees a proto2 string field: str when it is UTF-8, bytes otherwise.
PyObject* make_text(std::string_view text) {
  PyObject* made = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict");
  if (made == nullptr && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
    PyErr_Clear();
    made = PyBytes_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
  }
  return made;
}

PyObject* make_bytes(std::string_view blob) {
  return PyBytes_FromStringAndSize(blob.data(), static_cast<Py_ssize_t>(blob.size()));
}

// One str (or bytes) per distinct text; one bytes per distinct serialized message.
struct Texts {
  Interned table;
  explicit Texts(size_t expected) : table(expected) {}
  PyObject* get(std::string_view text) { return table.get(text, make_text); }
  void prefetch(std::string_view text) const { table.prefetch(text); }
};

struct Blobs {
  // Larger messages are made each on its own: they are mostly distinct (a Constant's
  // weights), and hashing them would cost a pass over every weight.
  static constexpr size_t kInternedUpTo = 256;
  // From this size a message is a read-only memoryview of the caller's buffer (`source`, a
  // memoryview of it, starting at `start`), not a copy: a model whose weights are Constant
  // nodes would otherwise copy them all (~0.25 s for 110 MB on this project's machines).
  static constexpr size_t kViewedFrom = 1024;
  Interned table;
  PyObject* source = nullptr;  // borrowed
  const char* start = nullptr;
  explicit Blobs(size_t expected = 64) : table(expected) {}
  PyObject* get(std::string_view blob) {
    if (source != nullptr && blob.size() >= kViewedFrom) {
      Py_ssize_t at = blob.data() - start;
      return PySequence_GetSlice(source, at, at + static_cast<Py_ssize_t>(blob.size()));
    }
    return blob.size() > kInternedUpTo ? make_bytes(blob) : table.get(blob, make_bytes);
  }
};

enum class Outcome { kDone, kMalformed, kError };

struct Columns {
  PyRef names{PyList_New(0)}, ops{PyList_New(0)}, domains{PyList_New(0)};
  PyRef inputs{PyList_New(0)}, outputs{PyList_New(0)}, attributes{PyList_New(0)};
  bool ok() const {
    return names.obj && ops.obj && domains.obj && inputs.obj && outputs.obj && attributes.obj;
  }
};

// Appends a new reference to `list` (stealing it); false on failure.
bool append(PyObject* list, PyObject* item) {
  if (item == nullptr) return false;
  int status = PyList_Append(list, item);
  Py_DECREF(item);
  return status == 0;
}

Outcome read_node(std::string_view node, Texts& texts, Blobs& blobs, Columns& out) {
  Reader r{reinterpret_cast<const uint8_t*>(node.data()),
           reinterpret_cast<const uint8_t*>(node.data()) + node.size()};
  std::string_view name, op_type, domain;
  PyRef inputs(PyList_New(0)), outputs(PyList_New(0)), attributes(PyList_New(0));
  if (!inputs.obj || !outputs.obj || !attributes.obj) return Outcome::kError;
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag)) return Outcome::kMalformed;
    uint32_t field = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    if (field == 0) return Outcome::kMalformed;
    if ((field >= 1 && field <= 5) || field == 7) {
      if (wire != 2) return Outcome::kMalformed;
      std::string_view payload;
      if (!r.bytes(payload)) return Outcome::kMalformed;
      switch (field) {
        case 1: if (!append(inputs.obj, texts.get(payload))) return Outcome::kError; break;
        case 2: if (!append(outputs.obj, texts.get(payload))) return Outcome::kError; break;
        case 3: name = payload; break;
        case 4: op_type = payload; break;
        case 5: {
          if (!append(attributes.obj, blobs.get(payload))) return Outcome::kError;
          break;
        }
        case 7: domain = payload; break;
      }
    } else if (!r.skip(wire)) {
      return Outcome::kMalformed;
    }
  }
  if (!append(out.names.obj, texts.get(name)) || !append(out.ops.obj, texts.get(op_type)) ||
      !append(out.domains.obj, texts.get(domain)) ||
      !append(out.inputs.obj, inputs.release()) || !append(out.outputs.obj, outputs.release()) ||
      !append(out.attributes.obj, attributes.release())) {
    return Outcome::kError;
  }
  return Outcome::kDone;
}

// Fetches the table slots of a node's input, output and node names ahead of `read_node`
// (malformed bytes: whatever was fetched; `read_node` finds what is wrong).
void prefetch_names(std::string_view node, const Texts& texts) {
  each_raw_field(node, [&](uint32_t field, uint32_t wire, std::string_view,
                           std::string_view payload) {
    if (field <= 3 && wire == 2) texts.prefetch(payload);
    return true;
  });
}

PyObject* node_columns(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  PyObject* result = nullptr;
  {
    Reader r{static_cast<const uint8_t*>(view.buf), static_cast<const uint8_t*>(view.buf) + view.len};
    // about the names of a graph this size (the table grows if not), but no more than two
    // per node: weights held in Constant nodes make the bytes 20 times more, and a table
    // that large costs more to clear than the whole read
    size_t nodes = 0;
    each_raw_field(std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
                   [&nodes](uint32_t field, uint32_t, std::string_view, std::string_view) {
                     nodes += field == 1;
                     return true;
                   });
    Texts texts(std::min(static_cast<size_t>(view.len) / 64, 2 * nodes));
    Blobs blobs;
    // large attributes are views of the buffer, which must stay as it is: bytes, or a
    // read-only buffer (a memoryview of bytes, as `LoadedModel.graph_bytes`)
    PyRef source(view.readonly ? PyMemoryView_FromObject(arg) : nullptr);
    if (view.readonly && !source.obj) PyErr_Clear();  // then copies, as for a writable one
    if (source.obj != nullptr) {  // bytes, one dimension (slices index bytes and hash)
      const Py_buffer* seen = PyMemoryView_GET_BUFFER(source.obj);
      bool plain = seen->itemsize == 1 && seen->ndim <= 1 &&
                   (seen->format == nullptr || std::strcmp(seen->format, "B") == 0);
      if (!plain) Py_CLEAR(source.obj);
    }
    blobs.source = source.obj;
    blobs.start = static_cast<const char*>(view.buf);
    Columns columns;
    Outcome outcome = columns.ok() ? Outcome::kDone : Outcome::kError;
    // the nodes read a few ahead of the one being read, whose names' slots are fetched
    // meanwhile (`prefetch_names`): the probes' cache misses overlap instead of each
    // stalling the read in turn
    constexpr size_t kAhead = 4;
    std::string_view ahead[kAhead];
    size_t queued = 0, next = 0;  // nodes read ahead, and the position of the first
    bool ended = false;
    while (outcome == Outcome::kDone) {
      while (!ended && queued < kAhead) {  // read ahead to kAhead nodes
        if (r.p >= r.end) {
          ended = true;
          break;
        }
        uint64_t tag;
        if (!r.varint(tag) || (tag >> 3) == 0) {
          outcome = Outcome::kMalformed;
          break;
        }
        if ((tag >> 3) == 1) {
          std::string_view node;
          if ((tag & 7) != 2 || !r.bytes(node)) {
            outcome = Outcome::kMalformed;
            break;
          }
          prefetch_names(node, texts);
          ahead[(next + queued++) % kAhead] = node;
        } else if (!r.skip(static_cast<uint32_t>(tag & 7))) {
          outcome = Outcome::kMalformed;
        }
      }
      if (outcome != Outcome::kDone || queued == 0) break;
      outcome = read_node(ahead[next], texts, blobs, columns);
      next = (next + 1) % kAhead;
      --queued;
    }
    if (outcome == Outcome::kDone) {
      result = PyTuple_Pack(6, columns.names.obj, columns.ops.obj, columns.domains.obj,
                            columns.inputs.obj, columns.outputs.obj, columns.attributes.obj);
    } else if (outcome == Outcome::kMalformed) {
      result = Py_NewRef(Py_None);
    }
  }
  PyBuffer_Release(&view);
  return result;
}

// The node fields (1) of a serialized GraphProto, copied in order: a GraphProto holding only
// its nodes (what node_columns reads), without the initializers that make most of a large
// file. When the nodes are most of the graph (weights held in Constant nodes), the graph's own
// object comes back: a copy would save little memory and cost a pass over the weights —
// unless `always_copy` (a sparse read's bytes, zeros where weights were left out). None
// when the bytes are malformed.
PyObject* graph_nodes(PyObject*, PyObject* args) {
  PyObject* arg;
  int always_copy = 0;
  if (!PyArg_ParseTuple(args, "O|p", &arg, &always_copy)) return nullptr;
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  std::vector<std::string_view> spans;
  size_t total = 0;
  bool read = each_raw_field(
      std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
      [&](uint32_t field, uint32_t wire, std::string_view whole, std::string_view) {
        if (field == 1) {
          if (wire != 2) return false;
          spans.push_back(whole);
          total += whole.size();
        }
        return true;
      });
  PyObject* result = nullptr;
  if (!read) {
    result = Py_NewRef(Py_None);
  } else if (!always_copy && total > static_cast<size_t>(view.len) / 2) {
    result = Py_NewRef(arg);
  } else {
    result = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total));
    if (result != nullptr) {
      char* out = PyBytes_AS_STRING(result);
      for (std::string_view span : spans) {
        std::memcpy(out, span.data(), span.size());
        out += span.size();
      }
    }
  }
  PyBuffer_Release(&view);
  return result;
}

// -- model_types ---------------------------------------------------------------------------
struct Named {  // a ValueInfoProto's name and serialized type (last occurrence of each)
  std::string_view name, type;
};


bool read_value_info(std::string_view value, Named& out) {
  return each_field(value, [&](uint32_t field, std::string_view payload) {
    if (field == 1) out.name = payload;
    if (field == 2) out.type = payload;
    return true;
  });
}

// The graph fields model_types reads, in the order of the serialized message.
struct GraphParts {
  std::vector<std::string_view> ops;
  std::vector<Named> inputs, outputs, value_info;
};

bool read_graph(std::string_view graph, GraphParts& parts) {
  return each_field(graph, [&](uint32_t field, std::string_view payload) {
    if (field == 1) {  // a node: its op_type (4), the last one written, "" if none
      std::string_view op_type;
      bool read = each_field(payload, [&](uint32_t f, std::string_view value) {
        if (f == 4) op_type = value;
        return true;
      });
      parts.ops.push_back(op_type);
      return read;
    }
    if (field == 11 || field == 12 || field == 13) {
      Named named;
      if (!read_value_info(payload, named)) return false;
      (field == 11 ? parts.inputs : field == 12 ? parts.outputs : parts.value_info).push_back(named);
    }
    return true;
  });
}

// name -> serialized type of a graph's value_info, outputs and inputs: each name's first type
// in that order (equal types: one bytes object, from `types`); a new reference, or null.
PyObject* first_types(const GraphParts& parts, Blobs& types) {
  PyRef table(PyDict_New());
  if (!table.obj) return nullptr;
  for (const auto* values : {&parts.value_info, &parts.outputs, &parts.inputs}) {
    for (const Named& value : *values) {
      PyRef name(make_text(value.name));
      if (!name.obj) return nullptr;
      int present = PyDict_Contains(table.obj, name.obj);
      if (present < 0) return nullptr;
      if (present) continue;
      PyRef type(types.get(value.type));
      if (!type.obj || PyDict_SetItem(table.obj, name.obj, type.obj) != 0) return nullptr;
    }
  }
  return Py_NewRef(table.obj);
}

// The top-level graph parts of the serialized ModelProto `model`: every occurrence of graph
// (7) merges, as protobuf merges a message field; false when the bytes are not understood.
bool model_graph_parts(std::string_view model, GraphParts& parts) {
  return each_field(model, [&](uint32_t field, std::string_view graph) {
    return field != 7 || read_graph(graph, parts);
  });
}

PyObject* model_types(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  PyObject* result = nullptr;
  {
    GraphParts parts;
    std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
    if (!model_graph_parts(model, parts)) {
      result = Py_NewRef(Py_None);
    } else {
      Texts texts(64);  // op types: a few distinct ones (names are mostly distinct: not interned)
      Blobs types;
      PyRef ops(PyList_New(0));
      bool ok = ops.obj != nullptr;
      for (size_t i = 0; ok && i < parts.ops.size(); ++i) ok = append(ops.obj, texts.get(parts.ops[i]));
      PyRef table(ok ? first_types(parts, types) : nullptr);
      if (table.obj) result = PyTuple_Pack(2, ops.obj, table.obj);
    }
  }
  PyBuffer_Release(&view);
  return result;
}

// -- declared_once ---------------------------------------------------------------------------
// Whether no name is declared twice among a model's top-level value_info, outputs and inputs
// with two types (`model_types` keeps each name's first declaration only; the same type
// twice — a weight's value_info entry and the input a lean copy declares for it — is one
// declaration): None when the bytes are not a model this reader understands.
PyObject* declared_once(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  GraphParts parts;
  std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  const bool understood = model_graph_parts(model, parts);
  bool once = true;
  if (understood) {
    std::unordered_map<std::string_view, std::string_view> seen;  // name -> its type
    for (const auto* values : {&parts.value_info, &parts.outputs, &parts.inputs}) {
      for (const Named& value : *values) {
        auto [at, added] = seen.emplace(value.name, value.type);
        once = once && (added || at->second == value.type);
      }
    }
  }
  PyBuffer_Release(&view);
  if (!understood) return Py_NewRef(Py_None);
  return PyBool_FromLong(once);
}

// -- merges_unchanged ------------------------------------------------------------------------
// Whether each declared type (name -> serialized TypeProto), merged as ONNX's inference merges
// a declaration with what it computes (mergeShapesAndTypes: the declared element type and
// rank kept, each dim the declaration leaves unknown taken from the computed one, a declared
// dim_param or dim_value kept), gives the computed type (name -> serialized type) of its name
// byte for byte: a declaration that says no more than inference computes. An exporter's
// value_info that leaves dims unknown (PyTorch's dynamo exporter) is such: a run on the model
// with it gives what a run without it gave.

// A plain tensor TypeProto: its element type, shape and dims (each dim's bytes; `unknown`:
// neither value nor name). False for another kind of type, a denotation, a field written
// twice or of another wire type.
struct PlainDim {
  bool unknown = true;
  std::string_view bytes;
};

bool plain_tensor(std::string_view type, uint64_t& elem, bool& has_shape,
                  std::vector<PlainDim>& dims) {
  elem = 0;
  has_shape = false;
  dims.clear();
  std::string_view tensor;
  int tensors = 0;
  if (!each_raw_field(type, [&](uint32_t field, uint32_t wire, std::string_view,
                                std::string_view payload) {
        if (field != 1 || wire != 2 || ++tensors > 1) return false;
        tensor = payload;
        return true;
      }) || tensors != 1) {
    return false;
  }
  int elems = 0, shapes = 0;
  std::string_view shape;
  if (!each_raw_field(tensor, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view payload) {
        if (field == 1 && wire == 0 && ++elems == 1) {
          Reader r{reinterpret_cast<const uint8_t*>(whole.data()),
                   reinterpret_cast<const uint8_t*>(whole.data() + whole.size())};
          uint64_t tag;
          return r.varint(tag) && r.varint(elem);
        }
        if (field == 2 && wire == 2 && ++shapes == 1) {
          shape = payload;
          return true;
        }
        return false;
      }) || elems != 1) {
    return false;
  }
  has_shape = shapes == 1;
  return !has_shape || each_raw_field(shape, [&](uint32_t field, uint32_t wire,
                                                 std::string_view, std::string_view dim) {
    if (field != 1 || wire != 2) return false;
    PlainDim& read = dims.emplace_back();
    read.bytes = dim;
    int kinds = 0;
    return each_raw_field(dim, [&](uint32_t f, uint32_t w, std::string_view, std::string_view) {
             if (!((f == 1 && w == 0) || (f == 2 && w == 2)) || ++kinds > 1) return false;
             read.unknown = false;
             return true;
           });
  });
}

bool merges_unchanged_to(std::string_view declared, std::string_view computed) {
  if (declared == computed) return true;
  uint64_t declared_elem, computed_elem;
  bool declared_shape, computed_shape;
  std::vector<PlainDim> declared_dims, computed_dims;
  if (!plain_tensor(declared, declared_elem, declared_shape, declared_dims) ||
      !plain_tensor(computed, computed_elem, computed_shape, computed_dims) ||
      declared_elem != computed_elem || declared_elem == 0) {
    return false;
  }
  if (!declared_shape) return true;  // the computed shape is taken
  if (!computed_shape || declared_dims.size() != computed_dims.size()) return false;
  for (size_t k = 0; k < declared_dims.size(); ++k) {
    if (!declared_dims[k].unknown && declared_dims[k].bytes != computed_dims[k].bytes) return false;
  }
  return true;
}

PyObject* merges_unchanged(PyObject*, PyObject* args) {
  PyObject* declared;
  PyObject* computed;
  if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &declared, &PyDict_Type, &computed)) {
    return nullptr;
  }
  PyObject* name;
  PyObject* type;
  Py_ssize_t at = 0;
  while (PyDict_Next(declared, &at, &name, &type)) {
    PyObject* inferred = PyDict_GetItemWithError(computed, name);  // borrowed
    if (inferred == nullptr) {
      if (PyErr_Occurred()) return nullptr;
      Py_RETURN_FALSE;
    }
    if (!PyBytes_Check(type) || !PyBytes_Check(inferred)) {
      PyErr_SetString(PyExc_TypeError, "the types must be bytes");
      return nullptr;
    }
    std::string_view a(PyBytes_AS_STRING(type), static_cast<size_t>(PyBytes_GET_SIZE(type)));
    std::string_view b(PyBytes_AS_STRING(inferred), static_cast<size_t>(PyBytes_GET_SIZE(inferred)));
    if (!merges_unchanged_to(a, b)) Py_RETURN_FALSE;
  }
  Py_RETURN_TRUE;
}

// -- body_types ------------------------------------------------------------------------------
// The bodies of a graph's If, Loop and Scan nodes, in the order the type table adds them
// (`inference.TypeTable.add_graph`): node by node, attribute by attribute, an attribute's `g`
// (6) before its `graphs` (11), each body followed by its own nodes' bodies.

// Bodies nested deeper than this are declined (protobuf refuses a model nested 100 deep).
constexpr int kMaxDepth = 32;

bool read_bodies(std::string_view graph, std::deque<GraphParts>& bodies, int depth) {
  if (depth > kMaxDepth) return false;
  return each_field(graph, [&](uint32_t field, std::string_view node) {
    if (field != 1) return true;
    std::string_view op;
    std::vector<std::string_view> attributes;
    if (!each_field(node, [&](uint32_t f, std::string_view value) {
          if (f == 4) op = value;
          if (f == 5) attributes.push_back(value);
          return true;
        })) {
      return false;
    }
    if (op != "If" && op != "Loop" && op != "Scan") return true;
    for (std::string_view attribute : attributes) {
      std::vector<std::string_view> graphs;
      int singular = 0;  // occurrences of `g`: protobuf would merge several (declined)
      if (!each_field(attribute, [&](uint32_t a, std::string_view body) {
            if (a == 6) graphs.insert(graphs.begin(), body), ++singular;
            if (a == 11) graphs.push_back(body);
            return true;
          }) || singular > 1) {
        return false;
      }
      for (std::string_view body : graphs) {
        bodies.emplace_back();
        if (!read_graph(body, bodies.back()) || !read_bodies(body, bodies, depth + 1)) {
          return false;
        }
      }
    }
    return true;
  });
}

// The bodies of the serialized ModelProto `model`'s graph (7), as `read_bodies` finds them;
// false when the bytes are not understood.
bool model_bodies(std::string_view model, std::deque<GraphParts>& bodies) {
  return each_field(model, [&](uint32_t field, std::string_view graph) {
    return field != 7 || read_bodies(graph, bodies, 1);
  });
}

PyObject* body_types(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  PyObject* result = nullptr;
  {
    std::deque<GraphParts> bodies;
    std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
    if (!model_bodies(model, bodies)) {
      result = Py_NewRef(Py_None);
    } else {
      Blobs types;
      PyRef tables(PyList_New(0));
      bool ok = tables.obj != nullptr;
      for (size_t i = 0; ok && i < bodies.size(); ++i) {
        ok = append(tables.obj, first_types(bodies[i], types));
      }
      if (ok) result = Py_NewRef(tables.obj);
    }
  }
  PyBuffer_Release(&view);
  return result;
}

// The nodes of the bodies of a serialized model's If, Loop and Scan nodes (nested ones too):
// what decides, with the graph's own nodes, whether its inference is a large model's.
PyObject* body_nodes(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  std::deque<GraphParts> bodies;
  std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  const bool understood = model_bodies(model, bodies);
  size_t count = 0;
  for (const GraphParts& body : bodies) count += body.ops.size();
  PyBuffer_Release(&view);
  if (!understood) Py_RETURN_NONE;
  return PyLong_FromSize_t(count);
}

// -- weight_facts ----------------------------------------------------------------------------
struct WeightFacts {
  size_t largest = 0;         // bytes of the largest initializer
  bool external = false;      // some tensor read below has a data_location of EXTERNAL (1)
  bool graph_attribute = false;  // some node has a graph-valued attribute
};

// Whether the TensorProto `tensor` says data_location = EXTERNAL (field 14) in any occurrence.
bool external_tensor(std::string_view tensor, bool& external) {
  Reader r{reinterpret_cast<const uint8_t*>(tensor.data()),
           reinterpret_cast<const uint8_t*>(tensor.data()) + tensor.size()};
  while (r.p < r.end) {
    uint64_t tag, value;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    if ((tag >> 3) == 14 && (tag & 7) == 0) {
      if (!r.varint(value)) return false;
      external = external || value == 1;
    } else if (!r.skip(static_cast<uint32_t>(tag & 7))) {
      return false;
    }
  }
  return true;
}

// `facts` of a GraphProto: `largest` counts the top-level graph's initializers (`top`), which
// are the ones inference may be run without; `external` looks into bodies too.
// (`top_initializers` false: the top-level graph's initializers are not read.)
bool read_weight_facts(std::string_view graph, WeightFacts& facts, bool top, int depth,
                       bool top_initializers = true) {
  if (depth > kMaxDepth) return false;
  return each_field(graph, [&](uint32_t field, std::string_view payload) {
    if (field == 5) {  // initializer
      if (top && !top_initializers) return true;
      if (top && payload.size() > facts.largest) facts.largest = payload.size();
      return external_tensor(payload, facts.external);
    }
    if (field == 15) {  // sparse_initializer: its values (1)
      return each_field(payload, [&](uint32_t f, std::string_view values) {
        return f != 1 || external_tensor(values, facts.external);
      });
    }
    if (field == 1) {  // node: its attributes (5): t (5), g (6), tensors (10), graphs (11)
      return each_field(payload, [&](uint32_t f, std::string_view attribute) {
        if (f != 5) return true;
        return each_field(attribute, [&](uint32_t a, std::string_view value) {
          if (a == 6 || a == 11) {
            facts.graph_attribute = true;
            return read_weight_facts(value, facts, false, depth + 1);
          }
          return (a != 5 && a != 10) || external_tensor(value, facts.external);
        });
      });
    }
    return true;
  });
}

PyObject* weight_facts(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  WeightFacts facts;
  std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  bool understood = each_field(model, [&](uint32_t field, std::string_view graph) {
    return field != 7 || read_weight_facts(graph, facts, true, 1);
  });
  PyBuffer_Release(&view);
  if (!understood) return Py_NewRef(Py_None);
  return Py_BuildValue("(nOO)", static_cast<Py_ssize_t>(facts.largest),
                       facts.external ? Py_True : Py_False,
                       facts.graph_attribute ? Py_True : Py_False);
}

// -- short_names / restored_types ----------------------------------------------------------
// ONNX's shape inference costs about in proportion to the bytes of the model it is given: its
// tensor names are copied, hashed and compared at every node, and an exported transformer's
// names (`/encoder/layer.11/attention/self/query/MatMul_output_0`) are most of its graph.
// `short_names` gives every tensor name of the graph and its bodies a short one (its number in
// base 62, in order of first appearance), drops node names and doc strings, which inference
// does not read, and merges equal top-level Constant nodes (`ConstantMerge`); `restored_types`
// maps an inferred copy's names back, in the bodies too, and gives the merged Constants their
// types. A run on the short copy then costs ~30% less on such models, with the same types:
// inference reads names only to connect tensors, and the renaming is one-to-one over the
// whole model (a body's name and the same outer name get the same short one, so what a body
// reads or shadows stays what it was).
//
// Both decline (None) what they do not fully understand or what names could reach beyond
// the graph's own tensors: sparse initializers, quantization annotations, training info,
// more than one graph field, bodies nested deeper than kMaxDepth.


// The number `short_name` wrote, or -1.
int64_t short_number(std::string_view name) {
  if (name.empty() || name.size() > 8) return -1;
  int64_t number = 0;
  for (size_t i = name.size(); i-- > 0;) {
    const char* at = std::strchr(kDigits, name[i]);
    if (at == nullptr || *at == '\0') return -1;
    number = number * 62 + (at - kDigits);
  }
  return number;
}

// The tensor names of a top-level graph, numbered in order of first appearance.
class NameNumbers {
 public:
  // The short name of `name` ("" stays "": an absent optional input).
  std::string_view shorten(std::string_view name) {
    if (name.empty()) return name;
    size_t number = numbers_.number(name, names_.size());
    if (number == names_.size()) {
      names_.push_back(name);
      shorts_.push_back(short_name(number));
    }
    return shorts_[number];
  }
  // The original name of the short one `name`; false when it is none of them.
  bool original(std::string_view name, std::string_view& out) const {
    if (name.empty()) {
      out = name;
      return true;
    }
    int64_t number = short_number(name);
    if (number < 0 || static_cast<size_t>(number) >= names_.size() ||
        shorts_[static_cast<size_t>(number)] != name) {
      return false;
    }
    out = names_[static_cast<size_t>(number)];
    return true;
  }

 private:
  Numbers numbers_;
  std::vector<std::string_view> names_;
  std::deque<std::string> shorts_;  // stable addresses: views into them are handed out
};

// Calls `on(name)` for every tensor name a GraphProto mentions (its nodes' inputs and outputs,
// the names of its inputs, outputs, value_info and initializers) and the bodies of its nodes'
// graph attributes mention; false when the bytes are malformed or nested too deep.
template <typename On>
bool each_name_within(std::string_view graph, On& on, int depth) {
  if (depth > kMaxDepth) return false;
  return each_field(graph, [&](uint32_t field, std::string_view payload) {
    if (field == 1) {
      return each_field(payload, [&](uint32_t f, std::string_view value) {
        if (f == 1 || f == 2) on(value);
        if (f != 5) return true;
        return each_field(value, [&](uint32_t a, std::string_view body) {
          return (a != 6 && a != 11) || each_name_within(body, on, depth + 1);
        });
      });
    }
    if (field == 5 || field == 11 || field == 12 || field == 13) {
      uint32_t name_field = field == 5 ? 8 : 1;
      return each_field(payload, [&](uint32_t f, std::string_view name) {
        if (f == name_field) on(name);
        return true;
      });
    }
    return true;
  });
}

// The fields of the serialized TensorProto `tensor`, in order, but its name (8) and doc string
// (12), which name it for people and tools and change nothing the parser or inference builds
// of it, and the field `values_field` (raw_data 9, or a typed field; 0: none), appended to
// `out`; `named`: it has either of the first two. False when the bytes are malformed.
bool tensor_fields_but_names(std::string_view tensor, uint32_t values_field, std::string& out,
                             bool& named) {
  return each_raw_field(tensor, [&](uint32_t field, uint32_t, std::string_view whole,
                                    std::string_view) {
    if (field == 8 || field == 12) {
      named = true;
    } else if (values_field == 0 || field != values_field) {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

// A Constant's attribute as the value it merges by (`ConstantMerge`): the node's attribute
// field (5) as the bytes hold it, but its tensor (AttributeProto.t, 5) without its name (8)
// and doc string (12), which name it for people and tools and change nothing inference
// computes (a model made with onnx.helper names every Constant's tensor, so no two would be
// equal byte for byte). False, `out` untouched, when it holds no tensor with either.
bool without_tensor_names(std::string_view node_field, std::string& out) {
  std::string_view attribute;
  int fields = 0;
  bool read = each_raw_field(node_field, [&](uint32_t field, uint32_t wire, std::string_view,
                                             std::string_view payload) {
    ++fields;
    attribute = payload;
    return field == 5 && wire == 2;
  });
  if (!read || fields != 1) return false;
  bool dropped = false;
  std::string rebuilt;
  read = each_raw_field(attribute, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                       std::string_view payload) {
    if (field != 5 || wire != 2) {
      rebuilt.append(whole.data(), whole.size());
      return true;
    }
    std::string tensor;
    bool inner = tensor_fields_but_names(payload, 0, tensor, dropped);
    if (inner) put_field(rebuilt, 5, tensor);
    return inner;
  });
  if (!read || !dropped) return false;
  out.clear();
  put_field(out, 5, rebuilt);
  return true;
}

// Equal Constant nodes, merged in the short copy. An exporter writes a Constant node for every
// small value it needs (an axis, a piece of a shape): a third of a TorchScript export's nodes,
// with a few dozen distinct values among tens of thousands, and ONNX's inference spends on
// each what it spends on any node. Constants whose attributes are equal byte for byte (their
// tensors' names and doc strings aside: `without_tensor_names`) hold the same value, of the
// same type: the copy keeps the first and points the readers of the
// others at it, and `restored_types` gives the others the kept one's type. A Constant is
// merged only where that changes nothing else inference sees: it has no input and one
// output, which (like the kept one's) is no graph input, output, initializer or declared
// value and is written by no other node, and no node before it reads it; nor is a Constant
// whose output a body mentions (a body sees the names defined before its node, and may define
// its own under the same name). Bodies' own Constants are not merged.
class ConstantMerge {
 public:
  // Finds the Constants to merge in a GraphProto; false when the bytes are malformed. Two
  // passes: the Constants and their values first, then what the graph's other fields and
  // nodes do with their outputs (looked up, not recorded: a graph has ~100,000 names).
  bool scan(std::string_view graph) {
    std::vector<Candidate> candidates;
    Numbers outputs;  // a Constant's output -> its candidate (the first, if written twice)
    std::vector<std::string_view> attributes;
    std::deque<std::string> joined;  // the attributes of Constants with several, end to end
    size_t index = 0;
    bool ok = each_field(graph, [&](uint32_t field, std::string_view payload) {
      if (field != 1) return true;
      std::string_view op, domain, output;
      size_t inputs = 0, written = 0;
      attributes.clear();
      bool read = each_raw_field(payload, [&](uint32_t f, uint32_t wire, std::string_view whole,
                                              std::string_view text) {
        if (wire != 2) return true;
        if (f == 1) ++inputs;
        if (f == 2) ++written, output = text;
        if (f == 4) op = text;
        if (f == 7) domain = text;
        if (f == 5) attributes.push_back(whole);
        return true;
      });
      if (op == "Constant" && (domain.empty() || domain == "ai.onnx") && inputs == 0 &&
          written == 1 && !output.empty()) {
        std::string_view value = attributes.size() == 1 ? attributes[0] : std::string_view();
        std::string nameless;
        if (attributes.size() > 1) {  // (one attribute, the usual: a view into the graph)
          joined.emplace_back();
          for (std::string_view attribute : attributes) joined.back().append(attribute);
          value = joined.back();
        } else if (attributes.size() == 1 && without_tensor_names(value, nameless)) {
          joined.push_back(std::move(nameless));
          value = joined.back();
        }
        if (outputs.number(output, candidates.size()) == candidates.size()) {
          candidates.push_back(Candidate{index, output, value, 0, SIZE_MAX, false});
        }
      }
      ++index;
      return read;
    });
    if (!ok || candidates.empty()) return ok;
    index = 0;
    ok = each_field(graph, [&](uint32_t field, std::string_view payload) {
      if (field == 5 || field == 11 || field == 12 || field == 13) {  // declared names
        uint32_t name_field = field == 5 ? 8 : 1;
        return each_field(payload, [&](uint32_t f, std::string_view name) {
          size_t at = f == name_field ? outputs.find(name, SIZE_MAX) : SIZE_MAX;
          if (at != SIZE_MAX) candidates[at].declared = true;
          return true;
        });
      }
      if (field != 1) return true;
      auto in_body = [&](std::string_view name) {
        size_t at = outputs.find(name, SIZE_MAX);
        if (at != SIZE_MAX) candidates[at].declared = true;
      };
      bool read = each_field(payload, [&](uint32_t f, std::string_view name) {
        if (f == 5) {  // an attribute: the names its bodies mention
          return each_field(name, [&](uint32_t a, std::string_view body) {
            return (a != 6 && a != 11) || each_name_within(body, in_body, 2);
          });
        }
        if (f != 1 && f != 2) return true;
        size_t at = outputs.find(name, SIZE_MAX);
        if (at == SIZE_MAX) return true;
        if (f == 2) ++candidates[at].writers;
        if (f == 1 && candidates[at].first_read == SIZE_MAX) candidates[at].first_read = index;
        return true;
      });
      ++index;
      return read;
    });
    if (!ok) return false;
    // the first eligible Constant of each value is kept; the later ones merge into it
    Numbers values;
    std::vector<std::string_view> kept;
    for (const Candidate& candidate : candidates) {
      if (candidate.declared || candidate.writers != 1) continue;
      size_t value_at = values.number(candidate.value, kept.size());
      if (value_at == kept.size()) {
        kept.push_back(candidate.output);
        continue;
      }
      if (candidate.first_read < candidate.index) continue;  // read before it is written
      merged_.push_back(Merged{candidate.index, candidate.output, kept[value_at]});
      into_.number(candidate.output, merged_.size() - 1);
    }
    return true;
  }

  // The name the copy's nodes read for `name` (the kept Constant's output, if it merged).
  std::string_view reads(std::string_view name) const {
    size_t at = into_.find(name, SIZE_MAX);
    return at == SIZE_MAX ? name : merged_[at].kept;
  }

  // Whether node `index` is a merged Constant (left out of the copy).
  bool leaves_out(size_t index) {
    while (next_ < merged_.size() && merged_[next_].index < index) ++next_;
    return next_ < merged_.size() && merged_[next_].index == index;
  }

  struct Merged {
    size_t index;
    std::string_view output, kept;
  };
  const std::vector<Merged>& merged() const { return merged_; }

 private:
  struct Candidate {
    size_t index;             // of its node
    std::string_view output;
    std::string_view value;   // its attributes, serialized
    uint32_t writers;         // nodes that write its output
    size_t first_read;        // the first node that reads it (SIZE_MAX: none)
    bool declared;            // a graph input, output, initializer or declared value
  };
  std::vector<Merged> merged_;  // in node order
  Numbers into_;                // merged output -> its entry
  size_t next_ = 0;
};

bool shorten_graph(std::string_view graph, NameNumbers& numbers, ConstantMerge& constants,
                   std::string& out, int depth);

// A NodeProto with short tensor names, its name (3) and doc_string (6) left out, the inputs
// that read a merged Constant reading the kept one, and the bodies of its graph attributes
// shortened with the same names (a body reads outer names; the renaming is one for the whole
// model, so a body that defines a name of its own shadows the same outer name in the copy);
// false for malformed bytes or bodies nested too deep.
bool shorten_node(std::string_view node, NameNumbers& numbers, const ConstantMerge& constants,
                  std::string& out, int depth) {
  return each_raw_field(node, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view payload) {
    if (field == 1 && wire == 2) {
      put_field(out, field, numbers.shorten(constants.reads(payload)));
    } else if (field == 2 && wire == 2) {
      put_field(out, field, numbers.shorten(payload));
    } else if (field == 3 || field == 6) {
      // inference reads neither
    } else if (field == 5 && wire == 2) {
      bool nested = false;
      if (!each_field(payload, [&](uint32_t a, std::string_view) {
            nested = nested || a == 6 || a == 11;
            return true;
          })) {
        return false;
      }
      if (!nested) {
        out.append(whole.data(), whole.size());
        return true;
      }
      std::string attribute, body;
      bool shortened = each_raw_field(payload, [&](uint32_t a, uint32_t w, std::string_view all,
                                                   std::string_view graph) {
        if ((a != 6 && a != 11) || w != 2) {
          attribute.append(all.data(), all.size());
          return true;
        }
        ConstantMerge none;  // a body's Constants are left as they are
        body.clear();
        if (!shorten_graph(graph, numbers, none, body, depth + 1)) return false;
        put_field(attribute, a, body);
        return true;
      });
      if (!shortened) return false;
      put_field(out, 5, attribute);
    } else {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

// A ValueInfoProto (`name_field` 1, doc_string 3 left out) or TensorProto (`name_field` 8) with
// its name shortened.
bool shorten_named(std::string_view message, uint32_t name_field, NameNumbers& numbers,
                   std::string& out) {
  return each_raw_field(message, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                     std::string_view payload) {
    if (field == name_field && wire == 2) {
      put_field(out, field, numbers.shorten(payload));
    } else if (!(name_field == 1 && field == 3)) {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

// A GraphProto with short names (`shorten_node`, `shorten_named`), the Constants `constants`
// merged (scanned by the caller) left out; false when this pass declines it (quantization
// annotations and sparse initializers name tensors of their own).
bool shorten_graph(std::string_view graph, NameNumbers& numbers, ConstantMerge& constants,
                   std::string& out, int depth) {
  if (depth > kMaxDepth) return false;
  std::string part;
  size_t index = 0;
  return each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view payload) {
    if (field == 14 || field == 15) return false;  // quantization annotations, sparse weights
    if (wire != 2 || !(field == 1 || field == 5 || field == 11 || field == 12 || field == 13)) {
      if (field != 10) out.append(whole.data(), whole.size());  // 10: doc_string
      return true;
    }
    if (field == 1 && constants.leaves_out(index++)) return true;
    part.clear();
    bool ok = field == 1 ? shorten_node(payload, numbers, constants, part, depth)
                         : shorten_named(payload, field == 5 ? 8 : 1, numbers, part);
    if (ok) put_field(out, field, part);
    return ok;
  });
}

// The ModelProto `model` with its graph shortened (`shorten_graph`), into `out`; false when
// this pass declines it.
bool shorten_model(std::string_view model, NameNumbers& numbers, ConstantMerge& constants,
                   std::string& out) {
  int graphs = 0;
  std::string graph;
  return each_raw_field(model, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view payload) {
    if (field == 20) return false;  // training_info names the graph's tensors
    if (field != 7) {
      out.append(whole.data(), whole.size());
      return true;
    }
    if (wire != 2 || ++graphs > 1 || !constants.scan(payload) ||
        !shorten_graph(payload, numbers, constants, graph, 1)) {
      return false;
    }
    put_field(out, 7, graph);
    return true;
  });
}

// What `short_names` hands to `restored_types`: the numbering of the source's names (views into
// the source, whose buffer it holds), in a capsule.
struct Renaming {
  Py_buffer source;
  NameNumbers numbers;
  ConstantMerge constants;
};

const char kRenaming[] = "trtforge.analyzer._wire.Renaming";

void drop_renaming(PyObject* capsule) {
  auto* renaming = static_cast<Renaming*>(PyCapsule_GetPointer(capsule, kRenaming));
  if (renaming == nullptr) return;
  PyBuffer_Release(&renaming->source);
  delete renaming;
}

PyObject* short_names(PyObject*, PyObject* arg) {
  auto* renaming = new Renaming();
  if (PyObject_GetBuffer(arg, &renaming->source, PyBUF_SIMPLE) != 0) {
    delete renaming;
    return nullptr;
  }
  std::string out;
  out.reserve(static_cast<size_t>(renaming->source.len));
  bool shortened = shorten_model(std::string_view(static_cast<const char*>(renaming->source.buf),
                                                  static_cast<size_t>(renaming->source.len)),
                                 renaming->numbers, renaming->constants, out);
  PyObject* capsule = PyCapsule_New(renaming, kRenaming, drop_renaming);
  if (capsule == nullptr) {
    PyBuffer_Release(&renaming->source);
    delete renaming;
    return nullptr;
  }
  if (!shortened) {
    Py_DECREF(capsule);
    return Py_NewRef(Py_None);
  }
  PyObject* renamed = PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(out.size()));
  if (renamed == nullptr) {
    Py_DECREF(capsule);
    return nullptr;
  }
  PyObject* result = PyTuple_Pack(2, renamed, capsule);
  Py_DECREF(renamed);
  Py_DECREF(capsule);
  return result;
}

// A ValueInfoProto of `message` with only its original name (1) and type (2); `original` and
// `type` are set to them.
bool restore_value(std::string_view message, const NameNumbers& numbers, std::string& out,
                   std::string_view& original, std::string_view& type, bool& has_type) {
  std::string_view name;
  has_type = false;
  if (!each_field(message, [&](uint32_t field, std::string_view payload) {
        if (field == 1) name = payload;
        if (field == 2) type = payload, has_type = true;
        return true;
      })) {
    return false;
  }
  if (!numbers.original(name, original)) return false;
  put_field(out, 1, original);
  if (has_type) put_field(out, 2, type);
  return true;
}

// What `restored_types` carries through an inferred copy's graphs.
struct Restoring {
  const NameNumbers& numbers;
  const std::vector<ConstantMerge::Merged>& merged;
  Numbers kept;  // the output of a kept Constant -> its slot in `kept_types`
  std::vector<std::string_view> kept_types;
  std::vector<bool> typed;
  std::string constant_node;  // a NodeProto of op_type Constant
  size_t node = 0, next_merged = 0;  // the source's top-level node index, the next merged one
};

bool restore_graph(std::string_view graph, Restoring& state, std::string& out, bool top,
                   int depth);

// A NodeProto of `node`'s op_type (4) and, of its attributes, only the bodies (6, 11), restored.
bool restore_node(std::string_view node, Restoring& state, std::string& out, int depth) {
  std::string attribute, body;
  return each_field(node, [&](uint32_t field, std::string_view value) {
    if (field == 4) put_field(out, 4, value);
    if (field != 5) return true;
    attribute.clear();
    bool read = each_field(value, [&](uint32_t a, std::string_view graph) {
      if (a != 6 && a != 11) return true;
      body.clear();
      if (!restore_graph(graph, state, body, false, depth + 1)) return false;
      put_field(attribute, a, body);
      return true;
    });
    if (read && !attribute.empty()) put_field(out, 5, attribute);
    return read;
  });
}

// A GraphProto of `graph`'s nodes (`restore_node`) and its inputs, outputs and value_info
// under their original names; in the top-level graph, the merged Constants in their places
// and the kept ones' types noted.
bool restore_graph(std::string_view graph, Restoring& state, std::string& out, bool top,
                   int depth) {
  if (depth > kMaxDepth) return false;
  const auto& merged = state.merged;
  std::string part;
  return each_field(graph, [&](uint32_t f, std::string_view value) {
    part.clear();
    if (f == 1) {
      while (top && state.next_merged < merged.size() &&
             merged[state.next_merged].index == state.node) {
        put_field(out, 1, state.constant_node), ++state.node, ++state.next_merged;
      }
      bool read = restore_node(value, state, part, depth);
      put_field(out, 1, part);
      state.node += top;
      return read;
    }
    if (f != 11 && f != 12 && f != 13) return true;
    std::string_view name, type;
    bool has_type;
    if (!restore_value(value, state.numbers, part, name, type, has_type)) return false;
    put_field(out, f, part);
    size_t at = !top || merged.empty() || f != 13 || !has_type ? SIZE_MAX
                                                              : state.kept.find(name, SIZE_MAX);
    if (at != SIZE_MAX && !state.typed[at]) state.kept_types[at] = type, state.typed[at] = true;
    return true;
  });
}

PyObject* restored_types(PyObject*, PyObject* args) {
  Py_buffer inferred;
  PyObject* capsule;
  if (!PyArg_ParseTuple(args, "y*O", &inferred, &capsule)) return nullptr;
  if (!PyCapsule_IsValid(capsule, kRenaming)) {
    PyBuffer_Release(&inferred);
    PyErr_SetString(PyExc_TypeError, "restored_types: the renaming must be short_names' own");
    return nullptr;
  }
  auto* renaming = static_cast<Renaming*>(PyCapsule_GetPointer(capsule, kRenaming));
  const auto& merged = renaming->constants.merged();
  Restoring state{renaming->numbers, merged, {}, {}, {}, {}};
  for (const auto& each : merged) {
    if (state.kept.number(each.kept, state.kept_types.size()) == state.kept_types.size()) {
      state.kept_types.emplace_back();
      state.typed.push_back(false);
    }
  }
  put_field(state.constant_node, 4, "Constant");
  std::string out, graph, part;
  int graphs = 0;
  bool restored = each_field(
      std::string_view(static_cast<const char*>(inferred.buf), static_cast<size_t>(inferred.len)),
      [&](uint32_t field, std::string_view payload) {
        if (field != 7) return true;
        return ++graphs == 1 && restore_graph(payload, state, graph, true, 1);
      });
  for (; restored && state.next_merged < merged.size(); ++state.next_merged) {  // after the last
    put_field(graph, 1, state.constant_node);
  }
  // the merged Constants' outputs, typed as the Constants they merged into
  for (size_t i = 0; restored && i < merged.size(); ++i) {
    size_t at = state.kept.find(merged[i].kept, SIZE_MAX);
    if (!state.typed[at]) continue;
    part.clear();
    put_field(part, 1, merged[i].output);
    put_field(part, 2, state.kept_types[at]);
    put_field(graph, 13, part);
  }
  if (restored) put_field(out, 7, graph);
  PyBuffer_Release(&inferred);
  if (!restored) return Py_NewRef(Py_None);
  return PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(out.size()));
}

// -- weightless ------------------------------------------------------------------------------
// ONNX's inference with data propagation copies the initializers it is given, and allocates
// the full size of external ones; the types of weights need no values. `weightless` gives the
// model with its heavy top-level initializers (serialized larger than a limit, stored
// externally, or weights: of rank 2 or more, of an element type whose values inference reads
// only at rank 0 or 1, and read by no node of an op that may read them at any rank) left out
// and declared as typed graph inputs instead, as `inference._weightless` does on a parsed
// model — without parsing it. "Serialized larger" is measured on the bytes as
// the file holds them (protobuf's ByteSize of the parsed tensor is the same for any file a
// protobuf library wrote).

// What a TensorProto says of itself, as protobuf reads it: the last name (8), data_type (2),
// data_location (14) and raw_data (9) written; dims (1) in order, packed or not.
struct TensorHead {
  std::string_view name;
  uint64_t data_type = 0;
  uint64_t data_location = 0;
  std::vector<uint64_t> dims;
  bool has_raw_data = false;
  size_t raw_data_bytes = 0;
  bool odd_wire = false;  // data_type, data_location or raw_data written with another wire type

  // data_type as protobuf reads an int32: its low 32 bits, sign-extended
  int64_t element_type() const {
    return static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(data_type)));
  }
};

bool read_tensor_head(std::string_view tensor, TensorHead& head) {
  Reader r{reinterpret_cast<const uint8_t*>(tensor.data()),
           reinterpret_cast<const uint8_t*>(tensor.data()) + tensor.size()};
  while (r.p < r.end) {
    uint64_t tag, value;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    uint32_t field = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    if (field == 1 && wire == 0) {
      if (!r.varint(value)) return false;
      head.dims.push_back(value);
    } else if (field == 1 && wire == 2) {
      std::string_view packed;
      if (!r.bytes(packed)) return false;
      Reader dims{reinterpret_cast<const uint8_t*>(packed.data()),
                  reinterpret_cast<const uint8_t*>(packed.data()) + packed.size()};
      while (dims.p < dims.end) {
        if (!dims.varint(value)) return false;
        head.dims.push_back(value);
      }
    } else if ((field == 2 || field == 14) && wire == 0) {
      if (!r.varint(field == 2 ? head.data_type : head.data_location)) return false;
    } else if (field == 8 && wire == 2) {
      if (!r.bytes(head.name)) return false;
    } else if (field == 9 && wire == 2) {
      std::string_view raw;
      if (!r.bytes(raw)) return false;
      head.has_raw_data = true;
      head.raw_data_bytes = raw.size();
    } else {
      head.odd_wire = head.odd_wire || field == 2 || field == 9 || field == 14;
      if (!r.skip(wire)) return false;
    }
  }
  return true;
}

// The TypeProto onnx.helper.make_tensor_value_info gives a tensor of `head`'s element type
// and dims: tensor_type (1) { elem_type (1), shape (2) { dim (1) { dim_value (1) } ... } },
// the shape present even without dims.
std::string tensor_type(const TensorHead& head) {
  std::string shape, dim, tensor, type;
  for (uint64_t size : head.dims) {
    dim.clear();
    dim.push_back(0x08);  // dim_value, a varint
    put_varint(dim, size);
    put_field(shape, 1, dim);
  }
  tensor.push_back(0x08);  // elem_type, an int32: sign-extended as protobuf writes it
  put_varint(tensor, static_cast<uint64_t>(head.element_type()));
  put_field(tensor, 2, shape);
  put_field(type, 1, tensor);
  return type;
}

// Whether a tensor of this head may be a weight: of rank 2 or more, of an element type not
// in `value_types` (those whose values inference reads: `inference._may_be_weight`).
// Whether a tensor of rank `rank` and `data_type` (as read from the wire: protobuf reads its
// low 32 bits, sign-extended) may be a weight (`may_be_weight`).
bool weight_type(uint64_t data_type, size_t rank, const std::vector<uint64_t>& value_types) {
  auto type = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(data_type)));
  return rank >= 2 && std::find(value_types.begin(), value_types.end(), type) == value_types.end();
}

bool may_be_weight(const TensorHead& head, const std::vector<uint64_t>& value_types) {
  return weight_type(head.data_type, head.dims.size(), value_types);
}

// A top-level node's bytes without the values of the weight it holds, when it is a Constant
// (domain "" or ai.onnx) whose `value` attribute holds one tensor (written once) of rank 2 or
// more, an element type not in `value_types` and not stored externally, none of whose
// outputs is `valued`: the node with that tensor's data fields (float_data 4, int32_data 5,
// string_data 6, int64_data 7, raw_data 9, double_data 10, uint64_data 11) left out, its
// other fields as they were. Inference reads a Constant's type and dims; a weight's values
// nothing reads (as for initializers). Empty when the node is kept as it is; false when the
// bytes are malformed.
bool constant_without_weight(std::string_view node, const std::vector<uint64_t>& value_types,
                             const Numbers& valued, std::string& out) {
  std::string_view op_type, domain;
  std::vector<std::string_view> outputs;
  bool read = each_field(node, [&](uint32_t field, std::string_view value) {
    if (field == 4) op_type = value;
    if (field == 7) domain = value;
    if (field == 2) outputs.push_back(value);
    return true;
  });
  if (!read) return false;
  if (op_type != "Constant" || (!domain.empty() && domain != "ai.onnx")) return true;
  for (auto name : outputs) {
    if (valued.find(name, SIZE_MAX) != SIZE_MAX) return true;
  }
  std::string rewritten;
  bool changed = false;
  read = each_raw_field(node, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view attribute) {
    if (field != 5 || wire != 2) {
      rewritten.append(whole.data(), whole.size());
      return true;
    }
    std::string_view name, tensor;
    int tensors = 0;
    bool fields = each_raw_field(attribute, [&](uint32_t f, uint32_t w, std::string_view,
                                                std::string_view payload) {
      if (f == 1 && w == 2) name = payload;
      if (f == 5) {
        tensor = payload;
        tensors += w == 2 ? 1 : 2;  // another wire type: not a tensor this reader takes
      }
      return true;
    });
    if (!fields) return false;
    TensorHead head;
    if (name != "value" || tensors != 1 || !read_tensor_head(tensor, head) || head.odd_wire ||
        head.data_location == 1 || !may_be_weight(head, value_types)) {
      rewritten.append(whole.data(), whole.size());
      return true;
    }
    std::string bare, attr;
    fields = each_raw_field(tensor, [&](uint32_t f, uint32_t, std::string_view all, std::string_view) {
      if (f < 4 || f == 8 || f == 12 || f > 11) bare.append(all.data(), all.size());
      return true;
    });
    fields = fields && each_raw_field(attribute, [&](uint32_t f, uint32_t, std::string_view all,
                                                     std::string_view) {
      if (f == 5) {
        put_field(attr, 5, bare);
      } else {
        attr.append(all.data(), all.size());
      }
      return true;
    });
    if (!fields) return false;
    put_field(rewritten, 5, attr);
    changed = true;
    return true;
  });
  if (!read) return false;
  if (changed) put_field(out, 1, rewritten);
  return true;
}

// `graph` without its heavy initializers, which are appended as inputs (unless one is declared
// already) in their order, each (name, serialized type) in `added`, and without the weights of
// its Constant nodes (`constant_without_weight`): false when the bytes are malformed. The
// result is `parts`, in order: spans of `graph` as the file holds them, and what is new (held
// by `owned`).
// The inputs of `graph`'s nodes of an op type in `value_ops`, whose inference may read any
// initializer's values (not weights, then): false when the bytes are malformed.
bool valued_names(std::string_view graph, const std::vector<std::string>& value_ops,
                  Numbers& valued) {
  return each_field(graph, [&](uint32_t field, std::string_view node) {
    if (field != 1) return true;
    std::string_view op_type;
    bool fields = each_field(node, [&](uint32_t f, std::string_view value) {
      if (f == 4) op_type = value;
      return true;
    });
    if (!fields || std::find(value_ops.begin(), value_ops.end(), op_type) == value_ops.end()) {
      return fields;
    }
    return each_field(node, [&](uint32_t f, std::string_view name) {
      if (f == 1) valued.number(name, 0);
      return true;
    });
  });
}

// Whether a node of `graph` has an op type in `readers` (whatever its domain): false also
// when the bytes are malformed (`read` false).
bool has_op_in(std::string_view graph, const std::vector<std::string>& readers, bool& read) {
  bool found = false;
  read = each_field(graph, [&](uint32_t field, std::string_view node) {
    if (field != 1 || found) return true;
    return each_field(node, [&](uint32_t f, std::string_view value) {
      if (f == 4 && std::find(readers.begin(), readers.end(), value) != readers.end()) {
        found = true;
      }
      return true;
    });
  });
  return found && read;
}

// `all_light`: every initializer not declared as an input is heavy too (`weightless`: the
// model's inference reads no initializer's values).
bool weightless_graph(std::string_view graph, size_t max_bytes,
                      const std::vector<uint64_t>& value_types,
                      const std::vector<std::string>& value_ops, bool all_light,
                      std::vector<std::string_view>& parts, std::deque<std::string>& owned,
                      std::vector<std::pair<std::string_view, std::string>>& added) {
  Numbers valued;
  if (!valued_names(graph, value_ops, valued)) return false;
  std::vector<TensorHead> heavy;
  std::vector<TensorHead> light;  // with `all_light`: the others, heavy unless declared
  std::vector<std::string_view> declared;
  // in the graph's order: the initializers (each kept or left out) and the nodes made anew
  struct Edit {
    std::string_view whole, name;
    const std::string* node;  // the node's new bytes (in `owned`); nullptr: an initializer
  };
  std::vector<Edit> edits;
  bool read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                        std::string_view payload) {
    if (field == 11) {  // an input: its last name
      std::string_view name;
      bool named = each_field(payload, [&](uint32_t f, std::string_view value) {
        if (f == 1) name = value;
        return true;
      });
      declared.push_back(name);
      return named;
    }
    if (field == 1 && wire == 2) {
      std::string made;
      if (!constant_without_weight(payload, value_types, valued, made)) return false;
      if (!made.empty()) {
        owned.push_back(std::move(made));
        edits.push_back(Edit{whole, {}, &owned.back()});
      }
      return true;
    }
    if (field != 5) return true;
    TensorHead head;
    if (!read_tensor_head(payload, head)) return false;
    edits.push_back(Edit{whole, head.name, nullptr});
    bool weight = may_be_weight(head, value_types) && valued.find(head.name, SIZE_MAX) == SIZE_MAX;
    if (payload.size() > max_bytes || head.data_location == 1 || weight) {
      heavy.push_back(std::move(head));
    } else if (all_light) {
      light.push_back(std::move(head));
    }
    return true;
  });
  if (!read) return false;
  Numbers heavy_names, declared_names;
  for (auto name : declared) declared_names.number(name, 0);
  if (!light.empty()) {  // in the initializers' order, as `_weightless` appends them
    std::vector<TensorHead> merged;  // every initializer is one of `heavy` or `light`, in order
    size_t next_heavy = 0, next_light = 0;
    for (const auto& edit : edits) {
      if (edit.node != nullptr) continue;
      if (next_heavy < heavy.size() && heavy[next_heavy].name.data() == edit.name.data()) {
        merged.push_back(std::move(heavy[next_heavy++]));
      } else if (next_light < light.size()) {
        TensorHead& head = light[next_light++];
        if (declared_names.find(head.name, SIZE_MAX) == SIZE_MAX) merged.push_back(std::move(head));
      }
    }
    heavy = std::move(merged);
  }
  for (const auto& head : heavy) heavy_names.number(head.name, 0);
  const char* kept = graph.data();  // the start of the span not copied yet
  for (const auto& edit : edits) {
    // every initializer of a heavy one's name goes (as `_weightless`)
    if (edit.node == nullptr && heavy_names.find(edit.name, SIZE_MAX) == SIZE_MAX) continue;
    parts.emplace_back(kept, static_cast<size_t>(edit.whole.data() - kept));
    if (edit.node != nullptr) parts.emplace_back(*edit.node);
    kept = edit.whole.data() + edit.whole.size();
  }
  parts.emplace_back(kept, static_cast<size_t>(graph.data() + graph.size() - kept));
  std::string value;
  for (const auto& head : heavy) {
    if (declared_names.find(head.name, SIZE_MAX) != SIZE_MAX) continue;
    added.emplace_back(head.name, tensor_type(head));
    value.clear();
    put_field(value, 1, head.name);
    put_field(value, 2, added.back().second);
    owned.emplace_back();
    put_field(owned.back(), 11, value);
    parts.push_back(owned.back());
  }
  return read;
}

// A serialized model in parts (`parts`: spans of `model` as it is, and what is new, held by
// `owned`) with its one graph field (7) made anew by `remake(graph, graph_parts)`: false when
// the bytes are malformed, hold more than one graph field (protobuf merges those) or
// `remake` refuses.
template <typename Remake>
bool with_graph_remade(std::string_view model, Remake remake,
                       std::vector<std::string_view>& parts, std::deque<std::string>& owned) {
  int graphs = 0;
  return each_raw_field(model, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view payload) {
    if (field != 7) {
      parts.push_back(whole);
      return true;
    }
    std::vector<std::string_view> graph_parts;
    if (wire != 2 || ++graphs > 1 || !remake(payload, graph_parts)) return false;
    size_t size = 0;
    for (auto part : graph_parts) size += part.size();
    owned.emplace_back();
    put_varint(owned.back(), (7 << 3) | 2);
    put_varint(owned.back(), size);
    parts.push_back(owned.back());
    parts.insert(parts.end(), graph_parts.begin(), graph_parts.end());
    return true;
  });
}

// `parts` copied, in order, into one new bytes object (nullptr with a Python error set when
// it cannot be made).
PyObject* joined(const std::vector<std::string_view>& parts) {
  size_t size = 0;
  for (auto part : parts) size += part.size();
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
  char* at = bytes ? PyBytes_AS_STRING(bytes) : nullptr;
  for (size_t i = 0; at && i < parts.size(); at += parts[i].size(), ++i) {
    std::memcpy(at, parts[i].data(), parts[i].size());
  }
  return bytes;
}

// In a message being remade as `parts` (spans of it as it is, from `kept` on, and what is new,
// held by `owned`): the field `whole` replaced by field `field` holding `payload`.
void replace_field(std::vector<std::string_view>& parts, std::deque<std::string>& owned,
                   const char*& kept, std::string_view whole, uint32_t field,
                   std::string_view payload) {
  owned.emplace_back();
  put_field(owned.back(), field, payload);
  parts.emplace_back(kept, static_cast<size_t>(whole.data() - kept));
  parts.emplace_back(owned.back());
  kept = whole.data() + whole.size();
}

// The serialized model `model` with its graph made anew by `remake(graph, graph_parts, owned,
// changed)` (`with_graph_remade`): a new bytes object; `model` itself when nothing changed;
// None when the bytes are not understood (a Python error `remake` set is cleared).
template <typename Remake>
PyObject* model_remade(PyObject* model, Remake remake) {
  Py_buffer view;
  if (PyObject_GetBuffer(model, &view, PyBUF_SIMPLE) != 0) return nullptr;
  std::string_view source(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  std::vector<std::string_view> parts;
  std::deque<std::string> owned;
  bool changed = false;
  auto graph_remade = [&](std::string_view graph, std::vector<std::string_view>& graph_parts) {
    return remake(graph, graph_parts, owned, changed);
  };
  bool read = with_graph_remade(source, graph_remade, parts, owned);
  PyRef made(read && changed ? joined(parts) : nullptr);
  PyBuffer_Release(&view);
  if (!read) {
    PyErr_Clear();
    return Py_NewRef(Py_None);
  }
  if (!changed) return Py_NewRef(model);
  return made.release();
}

// A sequence of str a caller hands over as op types: false with a Python error set when it is
// not one.
bool read_op_types(PyObject* ops, std::vector<std::string>& op_types) {
  PyRef op_list(PySequence_Fast(ops, "the op types must be a sequence"));
  for (Py_ssize_t i = 0; op_list.obj && i < PySequence_Fast_GET_SIZE(op_list.obj); ++i) {
    Py_ssize_t size;
    const char* text = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(op_list.obj, i), &size);
    if (text == nullptr) break;
    op_types.emplace_back(text, static_cast<size_t>(size));
  }
  return op_list.obj && !PyErr_Occurred();
}

// The element types and op types a caller hands over (`_speculation`'s
// INFERENCE_READS_VALUES_OF and INFERENCE_READS_ANY_RANK_OF): false with a Python error set
// when they are not a sequence of ints and one of str.
// A sequence of ints a caller hands over as element types: false with a Python error set
// when it is not one.
bool read_element_types(PyObject* types, std::vector<uint64_t>& value_types) {
  PyRef listed(PySequence_Fast(types, "the element types must be a sequence"));
  for (Py_ssize_t i = 0; listed.obj && i < PySequence_Fast_GET_SIZE(listed.obj); ++i) {
    long long type = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(listed.obj, i));
    if (type == -1 && PyErr_Occurred()) break;
    value_types.push_back(static_cast<uint64_t>(type));
  }
  return listed.obj && !PyErr_Occurred();
}

bool read_value_readers(PyObject* types, PyObject* ops, std::vector<uint64_t>& value_types,
                        std::vector<std::string>& value_ops) {
  return read_element_types(types, value_types) && read_op_types(ops, value_ops);
}

PyObject* weightless(PyObject*, PyObject* args) {
  Py_buffer view;
  Py_ssize_t max_bytes;
  PyObject* types;
  PyObject* ops;
  PyObject* readers = nullptr;
  if (!PyArg_ParseTuple(args, "y*nOO|O", &view, &max_bytes, &types, &ops, &readers)) {
    return nullptr;
  }
  std::vector<uint64_t> value_types;
  std::vector<std::string> value_ops, reader_ops;
  if (!read_value_readers(types, ops, value_types, value_ops) ||
      (readers != nullptr && !read_op_types(readers, reader_ops))) {
    PyBuffer_Release(&view);
    return nullptr;
  }
  std::string_view source(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  // every initializer light where the model's inference reads no initializer's values: no
  // node of an op in `readers` and no model-local function (ModelProto.functions 25)
  bool functions = false;
  bool all_light = readers != nullptr && each_raw_field(source, [&](uint32_t field, uint32_t,
                                                                   std::string_view,
                                                                   std::string_view) {
    functions = functions || field == 25;
    return true;
  }) && !functions;
  // the result in parts (spans of the model as it is, and what is new), copied once at the end
  std::vector<std::string_view> parts;
  std::deque<std::string> owned;
  std::vector<std::pair<std::string_view, std::string>> added;
  auto remake = [&](std::string_view graph, std::vector<std::string_view>& graph_parts) {
    bool read = true;
    bool light = all_light && !has_op_in(graph, reader_ops, read);
    return read && weightless_graph(graph, static_cast<size_t>(max_bytes), value_types,
                                    value_ops, light, graph_parts, owned, added);
  };
  bool read = max_bytes >= 0 && with_graph_remade(source, remake, parts, owned);
  PyRef inputs(read ? PyList_New(0) : nullptr);
  for (size_t i = 0; inputs.obj && i < added.size(); ++i) {
    PyRef name(make_text(added[i].first));
    PyRef type(make_bytes(added[i].second));
    PyRef pair(name.obj && type.obj ? PyTuple_Pack(2, name.obj, type.obj) : nullptr);
    if (!pair.obj || PyList_Append(inputs.obj, pair.obj) != 0) Py_CLEAR(inputs.obj);
  }
  PyRef model(read && inputs.obj ? joined(parts) : nullptr);
  PyBuffer_Release(&view);  // the parts are copied
  if (!read) return Py_NewRef(Py_None);
  if (!inputs.obj || !model.obj) return nullptr;
  return PyTuple_Pack(2, model.obj, inputs.obj);
}

// -- identities_as_casts -----------------------------------------------------------------------
// ONNX's inference propagates no value through Identity, but does through Cast: a shape read
// through an Identity of a constant leaves a Reshape's dims unknown where TensorRT knows them.
// `identities_as_casts` makes each top-level Identity (default domain) whose one input is an
// INT32/INT64 initializer, or the value of a Constant node, a Cast to that type — as
// `inference._identities_as_casts` does on a parsed model.

// The fields of a serialized NodeProto that the native remakes read: op_type and domain (the
// last written of each, as protobuf reads them), inputs and outputs in order, and whether it
// has attributes. Reads into `head` (its vectors reused); false for bytes not understood.
struct NodeHead {
  std::string_view op, domain;
  std::vector<std::string_view> inputs, outputs;
  bool attributes = false;
};

bool read_node_head(std::string_view node, NodeHead& head) {
  head.op = head.domain = {};
  head.inputs.clear();
  head.outputs.clear();
  head.attributes = false;
  return each_field(node, [&](uint32_t f, std::string_view value) {
    if (f == 1) head.inputs.push_back(value);
    if (f == 2) head.outputs.push_back(value);
    if (f == 4) head.op = value;
    if (f == 7) head.domain = value;
    head.attributes = head.attributes || f == 5;
    return true;
  });
}

bool in_domains(const std::vector<std::string>& domains, std::string_view domain) {
  return std::find(domains.begin(), domains.end(), domain) != domains.end();
}

// The element type of a Constant node's value (its `value` tensor's, INT64 for `value_int`
// and `value_ints`) when `node` is a default-domain Constant of one output, as `name`; 0
// otherwise (false: malformed bytes).
bool constant_type(std::string_view node, std::string_view& name, uint64_t& type) {
  std::string_view op_type, domain;
  std::vector<std::string_view> outputs, attributes;
  type = 0;
  bool read = each_field(node, [&](uint32_t field, std::string_view value) {
    if (field == 4) op_type = value;
    if (field == 7) domain = value;
    if (field == 2) outputs.push_back(value);
    if (field == 5) attributes.push_back(value);
    return true;
  });
  if (!read) return false;
  if (op_type != "Constant" || (!domain.empty() && domain != "ai.onnx") || outputs.size() != 1) {
    return true;
  }
  name = outputs[0];
  for (auto attribute : attributes) {
    std::string_view attr_name, tensor;
    bool has_tensor = false;
    if (!each_field(attribute, [&](uint32_t f, std::string_view value) {
          if (f == 1) attr_name = value;
          if (f == 5) tensor = value, has_tensor = true;
          return true;
        })) {
      return false;
    }
    if (attr_name == "value" && has_tensor) {
      TensorHead head;
      if (!read_tensor_head(tensor, head) || head.odd_wire) return false;
      type = head.data_type;
    } else if (attr_name == "value_int" || attr_name == "value_ints") {
      type = 7;  // INT64
    }
  }
  return true;
}

bool identity_casts_graph(std::string_view graph, std::vector<std::string_view>& parts,
                          std::deque<std::string>& owned, bool& changed) {
  // name -> element type of each initializer and Constant value (the last of a name, a
  // Constant's over an initializer's: as the parsed model's dict is filled)
  std::unordered_map<std::string_view, uint64_t> initializers, constants;
  bool read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view,
                                        std::string_view payload) {
    if (wire != 2) return true;
    if (field == 5) {
      TensorHead head;
      if (!read_tensor_head(payload, head) || head.odd_wire) return false;
      initializers[head.name] = head.data_type;
    } else if (field == 1) {
      std::string_view name;
      uint64_t type;
      if (!constant_type(payload, name, type)) return false;
      if (type != 0) constants[name] = type;
    }
    return true;
  });
  auto integer_type = [&](std::string_view name) -> uint64_t {
    auto found = constants.find(name);
    if (found == constants.end()) {
      found = initializers.find(name);
      if (found == initializers.end()) return 0;
    }
    return found->second == 6 || found->second == 7 ? found->second : 0;
  };
  if (!read) return false;
  const char* kept = graph.data();  // the start of the span not copied yet
  read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view node) {
    if (field != 1 || wire != 2) return true;
    NodeHead head;
    if (!read_node_head(node, head)) return false;
    if (head.op != "Identity" || (!head.domain.empty() && head.domain != "ai.onnx") ||
        head.inputs.size() != 1) {
      return true;
    }
    uint64_t type = integer_type(head.inputs[0]);
    if (type == 0) return true;
    std::string made, attribute;
    if (!each_raw_field(node, [&](uint32_t f, uint32_t, std::string_view all, std::string_view) {
          if (f != 4) made.append(all.data(), all.size());
          return true;
        })) {
      return false;
    }
    put_field(made, 4, "Cast");
    put_field(attribute, 1, "to");
    put_varint(attribute, (3 << 3) | 0);  // i
    put_varint(attribute, type);
    put_varint(attribute, (20 << 3) | 0);  // type: INT
    put_varint(attribute, 2);
    put_field(made, 5, attribute);
    replace_field(parts, owned, kept, whole, 1, made);
    changed = true;
    return true;
  });
  parts.emplace_back(kept, static_cast<size_t>(graph.data() + graph.size() - kept));
  return read;
}

PyObject* identities_as_casts(PyObject*, PyObject* arg) {
  return model_remade(arg, identity_casts_graph);  // (nothing to make a Cast: `arg` itself)
}

// -- unread_dropped ---------------------------------------------------------------------------
// What ONNX's inference never reads, left out of the copy it infers: each top-level node's
// doc_string (NodeProto 6) and metadata_props (9), and the doc_string (ValueInfoProto 3) and
// metadata_props (4) of the graph's inputs, outputs and value_info. PyTorch's dynamo exporter
// writes a stack trace, the FX node and its name scopes on every node (~750 bytes a node: ~90%
// of a transformer's graph without its weights), which ONNX's inference parses, copies and
// writes again on each run. Names, op types, domains, overloads, attributes and types are
// kept byte for byte (an error message names the node), and bodies are left as they are.

// `message` without its fields numbered `drop` (in `made`): false when it is malformed.
bool without_fields(std::string_view message, uint32_t drop_a, uint32_t drop_b, std::string& made,
                    bool& dropped) {
  made.clear();
  dropped = false;
  return each_raw_field(message, [&](uint32_t field, uint32_t, std::string_view all,
                                     std::string_view) {
    if (field == drop_a || field == drop_b) {
      dropped = true;
    } else {
      made.append(all.data(), all.size());
    }
    return true;
  });
}

bool unread_dropped_graph(std::string_view graph, std::vector<std::string_view>& parts,
                          std::deque<std::string>& owned, bool& changed) {
  const char* kept = graph.data();  // the start of the span not copied yet
  std::string made;
  bool read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                        std::string_view payload) {
    bool dropped = false;
    if (wire != 2) return true;
    if (field == 1) {  // a node
      if (!without_fields(payload, 6, 9, made, dropped)) return false;
    } else if (field == 11 || field == 12 || field == 13) {  // input, output, value_info
      if (!without_fields(payload, 3, 4, made, dropped)) return false;
    }
    if (dropped) {
      replace_field(parts, owned, kept, whole, field, made);
      changed = true;
    }
    return true;
  });
  parts.emplace_back(kept, static_cast<size_t>(graph.data() + graph.size() - kept));
  return read;
}

PyObject* unread_dropped(PyObject*, PyObject* arg) {
  return model_remade(arg, unread_dropped_graph);  // (nothing to drop: `arg` itself)
}

// -- declared_dims_cleared --------------------------------------------------------------------
// TensorRT's parser computes every tensor's dims from the network's inputs and never reads
// value_info or the graph outputs' declared shapes, but ONNX's inference keeps a static dim
// that one declares where it computes a symbolic or unknown one, and passes it on to every
// tensor after it: a ConvTranspose whose input's channels are dynamic then looks static.
// `declared_dims_cleared` writes the value_info (and the graph outputs a node reads) of each
// tensor that a node of an ONNX domain computes without its static dims (each Dimension's
// dim_value left out: an unknown dim): the copy `inference._checked_declarations` infers to
// find the declared dims that are the network's symbolic ones (`declared_dims_checked`). The
// declarations of what other nodes make (a plugin's outputs, whose dims only the declaration
// gives) are kept as they are; where no graph input has a symbolic dim nothing is cleared.
//
// GraphProto: node 1, input 11, output 12, value_info 13. NodeProto: input 1, output 2,
// domain 7. ValueInfoProto: name 1,
// type 2. TypeProto: tensor_type 1, sequence_type 4, map_type 5, sparse_tensor_type 8,
// optional_type 9. Tensor and SparseTensor: shape 2. Sequence and Optional: elem_type 1. Map:
// value_type 2. TensorShapeProto: dim 1. Dimension: dim_value 1 (varint), dim_param 2.

// A Dimension as protobuf reads it: its dim_value's presence, its dim_param (which of the two
// oneof fields was written last counts: a Dimension holding both is refused by the callers).
struct DimRead {
  bool value = false;
  bool param = false;
  std::string_view name;
  std::string_view bytes;  // the Dimension's serialized fields
};

// The dims of `type` (a serialized TypeProto) when it is a tensor type with a shape, in
// `dims` (`plain`: it is; false: another kind, or no shape). False (declined) for what the
// callers do not model as protobuf reads it: a type holding several of its oneof's fields or
// one twice, a shape written twice, a Dimension holding a value and a name, a field of
// another wire type.
bool tensor_dims(std::string_view type, std::vector<DimRead>& dims, bool& plain) {
  plain = false;
  dims.clear();
  int kinds = 0;
  std::string_view tensor;
  bool read = each_raw_field(type, [&](uint32_t field, uint32_t wire, std::string_view,
                                       std::string_view payload) {
    if (field == 1 || field == 4 || field == 5 || field == 7 || field == 8 || field == 9) {
      if (wire != 2 || ++kinds > 1) return false;
      if (field == 1) tensor = payload, plain = true;
    }
    return true;
  });
  if (!read) return false;
  if (!plain) return true;
  int shapes = 0;
  std::string_view shape;
  read = each_raw_field(tensor, [&](uint32_t field, uint32_t wire, std::string_view,
                                    std::string_view payload) {
    if (field != 2) return true;
    if (wire != 2 || ++shapes > 1) return false;
    shape = payload;
    return true;
  });
  if (!read) return false;
  if (shapes == 0) {
    plain = false;
    return true;
  }
  return each_raw_field(shape, [&](uint32_t field, uint32_t wire, std::string_view,
                                   std::string_view payload) {
    if (field != 1) return true;
    if (wire != 2) return false;
    DimRead dim;
    dim.bytes = payload;
    bool fine = each_raw_field(payload, [&](uint32_t f, uint32_t w, std::string_view,
                                            std::string_view text) {
      if ((f == 1 && w != 0) || (f == 2 && w != 2)) return false;
      if (f == 1) dim.value = true;
      if (f == 2) dim.param = true, dim.name = text;
      return true;
    });
    if (!fine || (dim.value && dim.param)) return false;
    dims.push_back(dim);
    return true;
  });
}

// The symbolic dims of the graph's inputs (GraphProto.input 11; names that are not empty), in
// `params`; false (declined) as `tensor_dims`.
bool input_dim_params(std::string_view graph, Numbers& params) {
  std::vector<DimRead> dims;
  return each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view,
                                   std::string_view value) {
    if (field != 11) return true;
    if (wire != 2) return false;
    int types = 0;
    std::string_view type;
    if (!each_raw_field(value, [&](uint32_t f, uint32_t w, std::string_view,
                                   std::string_view payload) {
          if (f != 2) return true;
          if (w != 2 || ++types > 1) return false;
          type = payload;
          return true;
        })) {
      return false;
    }
    bool plain;
    if (types == 0) return true;
    if (!tensor_dims(type, dims, plain)) return false;
    for (const DimRead& dim : dims) {
      if (plain && dim.param && !dim.name.empty()) params.number(dim.name, 0);
    }
    return true;
  });
}

// What `cleared_message` reads a message as.
enum class TypeKind { kType, kTensor, kShape, kDim, kElement, kMap };

// The serialized message `message` (of `kind`) without the dim_values of the tensor shapes it
// holds, appended to `out` (nullptr: only read; `changed`: one was, or would be, left out). Each occurrence of a message field is
// cleared on its own, which commutes with protobuf's merging of a field written twice. False
// (declined) for bytes of a wire type the field does not have, a Dimension holding both a
// value and a name (protobuf keeps the last written), or nesting deeper than 64.
bool cleared_message(std::string_view message, TypeKind kind, std::string* out, bool& changed,
                     int depth) {
  if (depth > 64) return false;
  return each_raw_field(message, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                     std::string_view payload) {
    TypeKind inner = kind;
    bool nested = false;
    switch (kind) {
      case TypeKind::kType:
        nested = field == 1 || field == 4 || field == 5 || field == 8 || field == 9;
        inner = field == 1 || field == 8 ? TypeKind::kTensor
                : field == 5             ? TypeKind::kMap
                                         : TypeKind::kElement;
        break;
      case TypeKind::kTensor: nested = field == 2, inner = TypeKind::kShape; break;
      case TypeKind::kShape: nested = field == 1, inner = TypeKind::kDim; break;
      case TypeKind::kElement: nested = field == 1, inner = TypeKind::kType; break;
      case TypeKind::kMap: nested = field == 2, inner = TypeKind::kType; break;
      case TypeKind::kDim:
        if ((field == 1 && wire != 0) || (field == 2 && wire != 2)) return false;
        if (field == 1) {
          changed = true;
          return true;  // the dim_value, left out
        }
        if (out != nullptr) out->append(whole.data(), whole.size());
        return true;
    }
    if (!nested) {
      if (out != nullptr) out->append(whole.data(), whole.size());
      return true;
    }
    if (wire != 2) return false;
    if (inner == TypeKind::kDim) {  // a Dimension holding both a value and a name: declined
      bool value = false, name = false;
      if (!each_raw_field(payload, [&](uint32_t f, uint32_t, std::string_view, std::string_view) {
            value = value || f == 1;
            name = name || f == 2;
            return true;
          }) ||
          (value && name)) {
        return false;
      }
    }
    if (out == nullptr) return cleared_message(payload, inner, nullptr, changed, depth + 1);
    std::string cleared;
    if (!cleared_message(payload, inner, &cleared, changed, depth + 1)) return false;
    put_field(*out, field, cleared);
    return true;
  });
}

// `value_info_cleared`'s `cleared` of the serialized ValueInfoProto `value`, without making
// the copy (`cleared_message` with no output); false (declined) where it declines.
bool value_info_holds(std::string_view value, bool& holds) {
  return each_raw_field(value, [&](uint32_t f, uint32_t w, std::string_view, std::string_view payload) {
    if (f != 2) return true;
    return w == 2 && cleared_message(payload, TypeKind::kType, nullptr, holds, 0);
  });
}

// The graph `graph` with its value_info cleared (above), in `parts`; `changed`: an entry was.
// The serialized ValueInfoProto `value` with its type cleared (`cleared_message`), in `made`
// (`cleared`: a dim_value was left out); false (declined) as `cleared_message`.
bool value_info_cleared(std::string_view value, std::string& made, bool& cleared) {
  return each_raw_field(value, [&](uint32_t f, uint32_t w, std::string_view field_bytes,
                                   std::string_view payload) {
    if (f != 2) {
      made.append(field_bytes.data(), field_bytes.size());
      return true;
    }
    std::string type;
    if (w != 2 || !cleared_message(payload, TypeKind::kType, &type, cleared, 0)) return false;
    put_field(made, 2, type);
    return true;
  });
}

// The serialized NodeProto `node` with each body in its graph attributes (AttributeProto g 6,
// graphs 11) remade by `remake(body, made_body, changed)`, in `made` when one changed
// (`changed`), where the node's domain is one of `domains` (an If, Loop or Scan: ONNX's
// inference merges what their bodies declare). False (declined) for an attribute holding `g`
// twice (protobuf merges the two graphs) or bytes not understood.
template <typename Remake>
bool node_bodies_remade(std::string_view node, const std::vector<std::string>& domains,
                        Remake remake, std::string& made, bool& changed) {
  NodeHead head;
  if (!read_node_head(node, head)) return false;
  if (!head.attributes || !in_domains(domains, head.domain)) return true;
  bool remade = false;
  std::string out;
  bool read = each_raw_field(node, [&](uint32_t f, uint32_t w, std::string_view whole,
                                       std::string_view attribute) {
    if (f != 5 || w != 2) {
      out.append(whole.data(), whole.size());
      return true;
    }
    std::string made_attribute;
    bool body_changed = false;
    int graphs = 0;
    bool fine = each_raw_field(attribute, [&](uint32_t a, uint32_t aw, std::string_view bytes,
                                              std::string_view body) {
      if (a != 6 && a != 11) {
        made_attribute.append(bytes.data(), bytes.size());
        return true;
      }
      if (aw != 2 || (a == 6 && ++graphs > 1)) return false;
      std::string made_body;
      if (!remake(body, made_body, body_changed)) return false;
      put_field(made_attribute, a, made_body);
      return true;
    });
    if (!fine) return false;
    if (body_changed) {
      put_field(out, 5, made_attribute);
      remade = true;
    } else {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
  if (!read) return false;
  if (remade) made = std::move(out), changed = true;
  return true;
}

// The serialized If/Loop/Scan body `body` with its declarations cleared as the top-level
// graph's (`dims_cleared_graph`; a body's outputs always: its node reads them), and its own
// nodes' bodies likewise, in `out` (`changed`: something was).
bool body_cleared(std::string_view body, const std::vector<std::string>& domains,
                  std::string& out, bool& changed, int depth) {
  if (depth > 64) return false;
  Numbers computed;  // the outputs of the body's nodes of `domains`
  NodeHead head;
  bool read = each_raw_field(body, [&](uint32_t field, uint32_t wire, std::string_view,
                                       std::string_view node) {
    if (field != 1) return true;
    if (wire != 2 || !read_node_head(node, head)) return false;
    if (!in_domains(domains, head.domain)) return true;
    for (auto name : head.outputs) computed.number(name, 0);
    return true;
  });
  if (!read) return false;
  return each_raw_field(body, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view value) {
    std::string made;
    bool remade = false;
    if (field == 1) {
      auto inner = [&](std::string_view b, std::string& m, bool& c) {
        return body_cleared(b, domains, m, c, depth + 1);
      };
      if (!node_bodies_remade(value, domains, inner, made, remade)) return false;
    } else if (field == 12 || field == 13) {
      if (wire != 2) return false;
      std::string_view name;
      if (!each_field(value, [&](uint32_t f, std::string_view text) {
            if (f == 1) name = text;
            return true;
          })) {
        return false;
      }
      if (computed.find(name, SIZE_MAX) != SIZE_MAX &&
          !value_info_cleared(value, made, remade)) {
        return false;
      }
    }
    if (remade) {
      put_field(out, field, made);
      changed = true;
    } else {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

// The graph `graph` with its value_info cleared (above), and its outputs that a node reads
// (GraphProto.output 12: ONNX's inference merges their declared types as it does value_info),
// in `parts`; `changed`: an entry was.
// Whether `declared` (names, with `kinds` as `dims_cleared_graph` has them) are all graph
// outputs only (kind 2) that no node of `graph` reads, found without reading the nodes: a
// node's input is written as the bytes of a field 1 holding the name (tag 0x0A, the length,
// the name), as is the name of each graph input, output and value_info entry; where those
// bytes occur in the graph no more often than such entries of that name, no node reads it.
// (False, conservatively, where they occur more: in a string attribute, say; and for more
// than two names, which the node pass then reads faster.)
bool none_read(std::string_view graph, const Numbers& declared, const std::vector<int>& kinds) {
  if (kinds.size() > 2) return false;  // (a search of the whole graph for each: the node pass)
  for (int kind : kinds) {
    if (kind != 2) return false;
  }
  std::vector<size_t> entries(kinds.size(), 0);
  std::vector<std::string> patterns(kinds.size());
  bool read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view,
                                        std::string_view value) {
    if (field != 11 && field != 12 && field != 13) return true;
    if (wire != 2) return false;
    return each_field(value, [&](uint32_t f, std::string_view name) {
      if (f != 1) return true;
      size_t at = declared.find(name, SIZE_MAX);
      if (at != SIZE_MAX) {
        ++entries[at];
        if (patterns[at].empty()) put_field(patterns[at], 1, name);
      }
      return true;
    });
  });
  if (!read) return false;
  for (size_t at = 0; at < kinds.size(); ++at) {
    if (patterns[at].empty()) return false;
    size_t seen = 0;  // (glibc's memmem: a pattern starting with 0x0A, as most fields do)
    const std::string& pattern = patterns[at];
    const char* end = graph.data() + graph.size();
    for (const char* from = graph.data();; ++from) {
      from = static_cast<const char*>(
          memmem(from, static_cast<size_t>(end - from), pattern.data(), pattern.size()));
      if (from == nullptr) break;
      if (++seen > entries[at]) return false;
    }
  }
  return true;
}

bool dims_cleared_graph(std::string_view graph, const std::vector<std::string>& domains,
                        bool bodies, std::vector<std::string_view>& parts,
                        std::deque<std::string>& owned, bool& changed) {
  Numbers params;  // nothing is cleared where no input dim is symbolic (nothing to trace)
  if (!input_dim_params(graph, params)) return false;
  // the names of the declarations that hold a static dim: 1 (value_info), 2 (an output), 3
  // (both); then, in `found`, 1 where a node of `domains` computes it, 2 where a node reads it
  Numbers declared;
  std::vector<int> kinds, found;
  bool read = params.empty() || each_raw_field(graph, [&](uint32_t field, uint32_t wire,
                                                          std::string_view,
                                                          std::string_view value) {
    if (field != 12 && field != 13) return true;
    if (wire != 2) return false;
    std::string_view name;
    bool holds = false;
    if (!each_field(value, [&](uint32_t f, std::string_view text) {
          if (f == 1) name = text;
          return true;
        }) ||
        !value_info_holds(value, holds)) {
      return false;
    }
    if (!holds) return true;
    size_t at = declared.number(name, kinds.size());
    if (at == kinds.size()) kinds.push_back(0), found.push_back(0);
    kinds[at] |= field == 13 ? 1 : 2;
    return true;
  });
  if (!read) return false;
  if (!params.empty() && !kinds.empty() && !bodies && none_read(graph, declared, kinds)) {
    kinds.clear();  // outputs only, and no node reads them: nothing to clear
  }
  if (params.empty() || (kinds.empty() && !bodies)) {
    parts.push_back(graph);
    return true;
  }
  NodeHead head;
  read = kinds.empty() || each_raw_field(graph, [&](uint32_t field, uint32_t wire,
                                                    std::string_view, std::string_view node) {
    if (field != 1) return true;
    if (wire != 2 || !read_node_head(node, head)) return false;
    for (auto name : head.inputs) {
      size_t at = declared.find(name, SIZE_MAX);
      if (at != SIZE_MAX) found[at] |= 2;
    }
    if (!in_domains(domains, head.domain)) return true;
    for (auto name : head.outputs) {
      size_t at = declared.find(name, SIZE_MAX);
      if (at != SIZE_MAX) found[at] |= 1;
    }
    return true;
  });
  if (!read) return false;
  const char* kept = graph.data();  // the start of the span not copied yet
  read = each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view value) {
    if (field == 1 && bodies) {  // a node whose bodies declare static dims
      if (wire != 2) return false;
      std::string made;
      bool remade = false;
      auto inner = [&](std::string_view b, std::string& m, bool& c) {
        return body_cleared(b, domains, m, c, 1);
      };
      if (!node_bodies_remade(value, domains, inner, made, remade)) return false;
      if (remade) replace_field(parts, owned, kept, whole, 1, made), changed = true;
      return true;
    }
    if (field != 13 && field != 12) return true;
    std::string_view name;
    each_field(value, [&](uint32_t f, std::string_view text) {
      if (f == 1) name = text;
      return true;
    });
    size_t at = declared.find(name, SIZE_MAX);
    if (at == SIZE_MAX || !(found[at] & 1)) return true;  // (computed by no such node)
    if (field == 12 && !(found[at] & 2)) return true;  // an output no node reads
    std::string made;
    bool cleared = false;
    if (!value_info_cleared(value, made, cleared)) return false;
    if (!cleared) return true;
    replace_field(parts, owned, kept, whole, field, made);
    changed = true;
    return true;
  });
  parts.emplace_back(kept, static_cast<size_t>(graph.data() + graph.size() - kept));
  return read;
}

PyObject* declared_dims_cleared(PyObject*, PyObject* args) {
  PyObject* model;
  PyObject* domain_list;
  int bodies = 1;
  if (!PyArg_ParseTuple(args, "OO|p", &model, &domain_list, &bodies)) return nullptr;
  std::vector<std::string> domains;
  if (!read_op_types(domain_list, domains)) return nullptr;
  return model_remade(model, [&](std::string_view graph, std::vector<std::string_view>& parts,
                                 std::deque<std::string>& owned, bool& changed) {
    return dims_cleared_graph(graph, domains, bodies != 0, parts, owned, changed);
  });
}

// -- declared_dims_checked --------------------------------------------------------------------
// What `inference._checked_declarations` makes of a serialized model, given the types that
// inference computed without the declared static dims (`computed`: name -> serialized
// TypeProto): each static dim a top-level value_info entry or graph output declares for a
// tensor type where the computed type of the same rank has a symbolic dim of the graph's
// inputs there, written as that symbol instead.

// `message` with its field `field` (length-delimited, the one occurrence) made `payload`, the
// others as they are.
std::string with_field(std::string_view message, uint32_t field, std::string_view payload) {
  std::string out;
  each_raw_field(message, [&](uint32_t f, uint32_t, std::string_view whole, std::string_view) {
    if (f == field) {
      put_field(out, field, payload);
    } else {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
  return out;
}

// The serialized ValueInfoProto `value` with each static dim it declares for a tensor type,
// where the type `computed` gives its name (of the same rank) has a symbolic dim of `params`,
// declared as that symbol: in `made` when one was (`replaced`). False (declined) as
// `tensor_dims`, for a type written twice, a name that is not UTF-8 or a computed type that
// is not bytes (a Python error set then).
bool declaration_checked(std::string_view value, PyObject* computed, const Numbers& params,
                         std::string& made, bool& replaced) {
  std::string_view name, type;
  int types = 0;
  if (!each_raw_field(value, [&](uint32_t f, uint32_t w, std::string_view, std::string_view payload) {
        if ((f == 1 || f == 2) && w != 2) return false;
        if (f == 1) name = payload;
        if (f == 2) type = payload, ++types;
        return true;
      }) ||
      types > 1) {
    return false;
  }
  std::vector<DimRead> declared, found;
  bool plain;
  if (types == 0 || !tensor_dims(type, declared, plain)) return types == 0;
  if (!plain) return true;
  PyRef key(PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "strict"));
  if (!key.obj) return false;
  PyObject* inferred = PyDict_GetItemWithError(computed, key.obj);  // borrowed
  if (inferred == nullptr) return !PyErr_Occurred();
  char* text;
  Py_ssize_t size;
  if (PyBytes_AsStringAndSize(inferred, &text, &size) != 0) return false;
  bool typed;
  if (!tensor_dims(std::string_view(text, static_cast<size_t>(size)), found, typed)) return true;
  if (!typed || found.size() != declared.size()) return true;
  std::string shape;
  bool any = false;
  for (size_t axis = 0; axis < declared.size(); ++axis) {
    const DimRead& given = declared[axis];
    const DimRead& dim = found[axis];
    if (given.value && dim.param && !dim.name.empty() &&
        params.find(dim.name, SIZE_MAX) != SIZE_MAX) {
      std::string named;  // the declared Dimension without its value, named `dim.name`
      each_raw_field(given.bytes, [&](uint32_t f, uint32_t, std::string_view bytes,
                                      std::string_view) {
        if (f != 1) named.append(bytes.data(), bytes.size());
        return true;
      });
      put_field(named, 2, dim.name);
      put_field(shape, 1, named);
      any = true;
    } else {
      put_field(shape, 1, given.bytes);
    }
  }
  if (!any) return true;
  // the shape's other fields (none in ONNX's schema) are kept after its dims
  std::string_view tensor, old_shape;
  each_raw_field(type, [&](uint32_t f, uint32_t, std::string_view, std::string_view payload) {
    if (f == 1) tensor = payload;
    return true;
  });
  each_raw_field(tensor, [&](uint32_t f, uint32_t, std::string_view, std::string_view payload) {
    if (f == 2) old_shape = payload;
    return true;
  });
  each_raw_field(old_shape, [&](uint32_t f, uint32_t, std::string_view bytes, std::string_view) {
    if (f != 1) shape.append(bytes.data(), bytes.size());
    return true;
  });
  made = with_field(value, 2, with_field(type, 1, with_field(tensor, 2, shape)));
  replaced = true;
  return true;
}

// `body` (an If/Loop/Scan body) with its declarations checked (`declaration_checked`) and
// its own nodes' bodies likewise, in `out` (`changed`: something was).
bool body_checked(std::string_view body, PyObject* computed, const Numbers& params,
                  const std::vector<std::string>& domains, std::string& out, bool& changed,
                  int depth) {
  if (depth > 64) return false;
  return each_raw_field(body, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view value) {
    std::string made;
    bool remade = false;
    if (field == 1) {
      auto inner = [&](std::string_view b, std::string& m, bool& c) {
        return body_checked(b, computed, params, domains, m, c, depth + 1);
      };
      if (!node_bodies_remade(value, domains, inner, made, remade)) return false;
    } else if (field == 12 || field == 13) {
      if (wire != 2 || !declaration_checked(value, computed, params, made, remade)) return false;
    }
    if (remade) {
      put_field(out, field, made);
      changed = true;
    } else {
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

bool dims_checked_graph(std::string_view graph, PyObject* computed,
                        const std::vector<std::string>& domains, bool bodies,
                        std::vector<std::string_view>& parts, std::deque<std::string>& owned,
                        bool& changed) {
  Numbers params;
  if (!input_dim_params(graph, params)) return false;
  const char* kept = graph.data();  // the start of the span not copied yet
  bool read = params.empty() || each_raw_field(graph, [&](uint32_t field, uint32_t wire,
                                                          std::string_view whole,
                                                          std::string_view value) {
    std::string made;
    bool remade = false;
    if (field == 1 && bodies) {
      if (wire != 2) return false;
      auto inner = [&](std::string_view b, std::string& m, bool& c) {
        return body_checked(b, computed, params, domains, m, c, 1);
      };
      if (!node_bodies_remade(value, domains, inner, made, remade)) return false;
    } else if (field == 12 || field == 13) {
      if (wire != 2 || !declaration_checked(value, computed, params, made, remade)) return false;
    }
    if (remade) replace_field(parts, owned, kept, whole, field, made), changed = true;
    return true;
  });
  parts.emplace_back(kept, static_cast<size_t>(graph.data() + graph.size() - kept));
  return read;
}

PyObject* declared_dims_checked(PyObject*, PyObject* args) {
  PyObject* model;
  PyObject* computed;
  PyObject* domain_list;
  int bodies = 1;
  if (!PyArg_ParseTuple(args, "OO!O|p", &model, &PyDict_Type, &computed, &domain_list,
                        &bodies)) {
    return nullptr;
  }
  std::vector<std::string> domains;
  if (!read_op_types(domain_list, domains)) return nullptr;
  // (a name that is not UTF-8, a computed type that is not bytes: declined)
  return model_remade(model, [&](std::string_view graph, std::vector<std::string_view>& parts,
                                 std::deque<std::string>& owned, bool& changed) {
    return dims_checked_graph(graph, computed, domains, bodies != 0, parts, owned, changed);
  });
}

// The external_data entries (13: StringStringEntryProto {key 1, value 2}) a TensorProto holds
// for `location`, `offset` and `length`, as a dict over protobuf's entries reads them: each
// entry's last key and value, and of entries with one key, the last. False where malformed.
struct ExternalEntries {
  std::string_view values[3];  // location, offset, length
  bool has[3] = {false, false, false};
};

bool read_external_entries(std::string_view tensor, ExternalEntries& entries) {
  static constexpr std::string_view kKeys[3] = {"location", "offset", "length"};
  return each_raw_field(tensor, [&](uint32_t field, uint32_t wire, std::string_view,
                                    std::string_view entry) {
    if (field != 13) return true;
    if (wire != 2) return false;
    std::string_view key, value;
    bool read = each_raw_field(entry, [&](uint32_t f, uint32_t w, std::string_view,
                                          std::string_view text) {
      if (f == 1 || f == 2) {
        if (w != 2) return false;
        (f == 1 ? key : value) = text;
      }
      return true;
    });
    if (!read) return false;
    for (int i = 0; i < 3; ++i) {
      if (key == kKeys[i]) {
        entries.values[i] = value;
        entries.has[i] = true;
      }
    }
    return true;
  });
}

// -- sound_tensors ----------------------------------------------------------------------------
// A model's own weights are most of its initializers, and all but a damaged file's hold just
// the bytes their element type and dims need (or, stored externally, say so in their length).
// `sound_tensors` finds those in one pass over the file's bytes, so that validity checks the
// others only, without a Python wrapper for each of 50,000 per-layer weights.

// The product of a head's dims into `count`: false where a dim is below 0 or the product
// passes 2^`bits` on the way.
bool dims_product(const TensorHead& head, int bits, unsigned __int128& count) {
  count = 1;
  for (uint64_t size : head.dims) {
    if (static_cast<int64_t>(size) < 0) return false;
    count *= size;
    if (count > (static_cast<unsigned __int128>(1) << bits)) return false;
  }
  return true;
}

// Whether the TensorProto `tensor` (`sound_tensor`; `sound_head`: from its head, read once)
// (as protobuf reads it: the last data_type, data_location and raw_data written; the dims in
// order, packed or not) has raw_data of exactly the bytes
// its dims and element type need, with an element type in `bits` (bits per element), no dim
// below 0 and a data_location of DEFAULT (0) (`read_tensor_head`). Anything else (typed
// fields, external data, a product that overflows, one of those fields written with another
// wire type, malformed bytes) is not known sound.
bool sound_head(const TensorHead& head, const std::vector<int>& bits) {
  if (head.odd_wire || !head.has_raw_data || head.data_location != 0) return false;
  int64_t type = head.element_type();
  if (type <= 0 || type >= static_cast<int64_t>(bits.size()) ||
      bits[static_cast<size_t>(type)] <= 0) {
    return false;
  }
  unsigned __int128 count;
  if (!dims_product(head, 64, count)) return false;
  auto per = static_cast<unsigned>(bits[static_cast<size_t>(type)]);
  return (count * per + 7) / 8 == head.raw_data_bytes;
}

// The bits per element of `head`'s element type in `bits` (0: not known).
int type_bits(const TensorHead& head, const std::vector<int>& bits) {
  const int64_t type = head.element_type();
  return type > 0 && type < static_cast<int64_t>(bits.size()) ? bits[static_cast<size_t>(type)] : 0;
}

// Whether the external tensor `tensor` (data_location EXTERNAL, `head` its head) has an
// element type in `bits`, no dim below 0, and a `length` entry, if any and not empty, of ASCII
// digits giving exactly the bytes its dims and element type need (validity's check of one: a
// length of other text is not known sound).
bool sound_external(std::string_view tensor, const TensorHead& head, const std::vector<int>& bits) {
  const int per = type_bits(head, bits);
  if (per <= 0) return false;
  unsigned __int128 count;
  ExternalEntries entries;
  if (!dims_product(head, 64, count) || !read_external_entries(tensor, entries)) return false;
  std::string_view length = entries.values[2];
  if (!entries.has[2] || length.empty()) return true;
  if (length.size() > 19) return false;
  uint64_t value = 0;
  for (char digit : length) {
    if (digit < '0' || digit > '9') return false;
    value = value * 10 + static_cast<uint64_t>(digit - '0');
  }
  return (count * static_cast<unsigned>(per) + 7) / 8 == value;
}

bool sound_tensor(std::string_view tensor, const std::vector<int>& bits) {
  TensorHead head;
  if (!read_tensor_head(tensor, head)) return false;
  if (!head.odd_wire && head.data_location == 1) return sound_external(tensor, head, bits);
  return sound_head(head, bits);
}

// The bits-per-element table a caller hands over (`validity.raw_data_bits()`): false with a
// Python error set when it is not a sequence of ints.
bool read_bits(PyObject* table, std::vector<int>& bits) {
  PyRef listed(PySequence_Fast(table, "bits must be a sequence of ints"));
  for (Py_ssize_t i = 0; listed.obj && i < PySequence_Fast_GET_SIZE(listed.obj); ++i) {
    long value = PyLong_AsLong(PySequence_Fast_GET_ITEM(listed.obj, i));
    if (value == -1 && PyErr_Occurred()) return false;
    bits.push_back(static_cast<int>(value));
  }
  return listed.obj != nullptr;
}

PyObject* sound_tensors(PyObject*, PyObject* args) {
  Py_buffer view;
  PyObject* table;
  if (!PyArg_ParseTuple(args, "y*O", &view, &table)) return nullptr;
  std::vector<int> bits;  // element type -> bits per element in raw_data; 0: not known sound
  if (!read_bits(table, bits)) {
    PyBuffer_Release(&view);
    return nullptr;
  }
  std::string flags;
  bool read = each_raw_field(
      std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
      [&](uint32_t field, uint32_t wire, std::string_view, std::string_view payload) {
        if (field == 5) {
          if (wire != 2) return false;
          flags.push_back(sound_tensor(payload, bits) ? 1 : 0);
        }
        return true;
      });
  PyBuffer_Release(&view);
  if (!read) return Py_NewRef(Py_None);
  return PyBytes_FromStringAndSize(flags.data(), static_cast<Py_ssize_t>(flags.size()));
}

// -- external_initializers ---------------------------------------------------------------------
// A model saved with external data names a file, an offset and a length in each weight: tens
// of thousands of them in a 100,000-node export. `external_initializers` reads them all from
// the graph's bytes in one pass, for `loading` to check against the files without a Python
// wrapper per weight (~0.2 s for 26,000).

// Text as a str where it is UTF-8; nullptr (no Python error) where it is not.
PyObject* utf8_text(std::string_view text) {
  PyObject* made = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict");
  if (made == nullptr && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
  return made;
}

PyObject* external_initializers(PyObject*, PyObject* args) {
  Py_buffer view;
  PyObject* table;
  if (!PyArg_ParseTuple(args, "y*O", &view, &table)) return nullptr;
  std::vector<int> bits;  // element type -> bits per element in raw_data; 0: not known
  if (!read_bits(table, bits)) {
    PyBuffer_Release(&view);
    return nullptr;
  }
  std::string_view graph(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
  PyRef found(PyList_New(0));
  bool failed = found.obj == nullptr;  // a Python error is set
  bool declined = false;               // what this reader does not model: no error set
  Py_ssize_t index = -1;
  bool read = !failed && each_raw_field(graph, [&](uint32_t field, uint32_t wire,
                                                    std::string_view, std::string_view payload) {
    if (field != 5) return true;
    ++index;
    TensorHead head;
    if (wire != 2 || !read_tensor_head(payload, head)) return false;
    if (head.odd_wire || head.data_location > 1) {  // (protobuf's reading of those: not modelled)
      declined = true;
      return false;
    }
    if (head.data_location != 1) return true;
    ExternalEntries entries;
    if (!read_external_entries(payload, entries)) return false;
    // the bytes its dims and element type need (None: an element type without a size, a dim
    // below 0, as `loading.tensor_nbytes`); more than 2^60 elements are declined (their bytes
    // may pass what an unsigned 64-bit value holds)
    const int per = type_bits(head, bits);
    const bool sized = per > 0 && std::none_of(head.dims.begin(), head.dims.end(), [](uint64_t d) {
      return static_cast<int64_t>(d) < 0;
    });
    unsigned __int128 count = 0;
    if (sized && !dims_product(head, 60, count)) {
      declined = true;
      return false;
    }
    PyRef nbytes(sized ? PyLong_FromUnsignedLongLong(static_cast<unsigned long long>(
                             (count * static_cast<unsigned>(per) + 7) / 8))
                       : Py_NewRef(Py_None));
    PyRef name(utf8_text(head.name));
    PyRef texts[3];
    for (int i = 0; i < 3; ++i) {
      texts[i].obj = entries.has[i] ? utf8_text(entries.values[i]) : Py_NewRef(Py_None);
    }
    if (!nbytes.obj || PyErr_Occurred()) {
      failed = true;
      return false;
    }
    if (!name.obj || !texts[0].obj || !texts[1].obj || !texts[2].obj) {  // not UTF-8
      declined = true;
      return false;
    }
    PyObject* entry = Py_BuildValue("(nOOOOO)", index, name.obj, texts[0].obj, texts[1].obj,
                                    texts[2].obj, nbytes.obj);
    if (!append(found.obj, entry)) {
      failed = true;
      return false;
    }
    return true;
  });
  // any other tensor of the graph stored externally: a sparse initializer's values, a node's
  // tensor attribute, a body's tensor
  WeightFacts others;
  if (read && !failed && !declined) read = read_weight_facts(graph, others, true, 1, false);
  PyBuffer_Release(&view);
  if (failed) return nullptr;
  if (!read || declined) return Py_NewRef(Py_None);
  return Py_BuildValue("(OO)", found.obj, others.external ? Py_True : Py_False);
}

// -- lean_model --------------------------------------------------------------------------------
// A 1 GB model is nearly all weights, and protobuf copies every byte of them into the parsed
// message (~1 s) though a check reads none of their values. `lean_model` copies the model once
// without the raw data of its large sound top-level initializers, for the parent to parse in a
// few milliseconds (`loading.LoadedModel.structure`); the whole model is parsed only for those
// who read weights (`LoadedModel.proto`).
//
// ModelProto.graph 7; GraphProto.initializer 5; TensorProto.raw_data 9.

// The number of elements of a sound tensor's head (`sound_head` bounds their bytes).
unsigned __int128 element_count(const TensorHead& head) {
  unsigned __int128 count = 1;
  for (uint64_t size : head.dims) count *= size;
  return count;
}

PyObject* lean_model(PyObject*, PyObject* args) {
  Py_buffer view;
  PyObject* table;
  Py_ssize_t min_elements, max_bytes;
  PyObject* types;
  PyObject* ops;
  if (!PyArg_ParseTuple(args, "y*OnnOO", &view, &table, &min_elements, &max_bytes, &types,
                        &ops)) {
    return nullptr;
  }
  std::vector<int> bits;
  std::vector<uint64_t> value_types;
  std::vector<std::string> value_ops;
  if (!read_bits(table, bits) || !read_value_readers(types, ops, value_types, value_ops)) {
    PyBuffer_Release(&view);
    return nullptr;
  }
  const char* base = static_cast<const char*>(view.buf);
  std::vector<std::string_view> parts;  // spans of the model as it is, and what is new
  std::deque<std::string> owned;
  // each initializer left without data: its position, and where its raw data is
  struct Elided {
    Py_ssize_t index;
    std::string_view raw;
  };
  std::vector<Elided> elided;
  // the graph's fields, each initializer to leave out (sound, of more than `min_elements`
  // elements, and one shape inference runs without: more than `max_bytes` of raw data, or a
  // weight, `may_be_weight`, that no node of `value_ops` reads) rebuilt without its raw_data
  // fields (they are all length-delimited in a sound one)
  auto lean_graph = [&](std::string_view graph, std::vector<std::string_view>& graph_parts) {
    Numbers valued;
    if (!valued_names(graph, value_ops, valued)) return false;
    Py_ssize_t index = -1;
    return each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                     std::string_view payload) {
      if (field != 5) {
        graph_parts.push_back(whole);
        return true;
      }
      ++index;
      TensorHead head;
      if (wire != 2 || !read_tensor_head(payload, head)) return false;
      bool weight = may_be_weight(head, value_types) && valued.find(head.name, SIZE_MAX) == SIZE_MAX;
      bool heavy = weight || (max_bytes >= 0 && head.raw_data_bytes > static_cast<size_t>(max_bytes));
      if (min_elements < 0 || !heavy || !sound_head(head, bits) ||
          element_count(head) <= static_cast<unsigned __int128>(min_elements)) {
        graph_parts.push_back(whole);
        return true;
      }
      std::string tensor;
      std::string_view raw;  // the last raw_data, the one protobuf keeps
      bool copied = each_raw_field(payload, [&](uint32_t f, uint32_t, std::string_view kept,
                                                std::string_view data) {
        if (f == 9) {
          raw = data;
        } else {
          tensor.append(kept.data(), kept.size());
        }
        return true;
      });
      if (!copied) return false;
      owned.emplace_back();
      put_field(owned.back(), 5, tensor);
      graph_parts.push_back(owned.back());
      elided.push_back(Elided{index, raw});
      return true;
    });
  };
  bool read = with_graph_remade(
      std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
      lean_graph, parts, owned);
  PyRef model, positions;
  if (read && elided.empty()) model.obj = Py_NewRef(Py_None);  // nothing to copy
  if (read && !elided.empty()) model.obj = joined(parts);
  if (read) {
    positions.obj = PyList_New(static_cast<Py_ssize_t>(elided.size()));
    for (size_t i = 0; positions.obj && i < elided.size(); ++i) {
      PyObject* entry = Py_BuildValue("(nnn)", elided[i].index,
                                      static_cast<Py_ssize_t>(elided[i].raw.data() - base),
                                      static_cast<Py_ssize_t>(elided[i].raw.size()));
      if (entry == nullptr) {
        Py_CLEAR(positions.obj);
        break;
      }
      PyList_SET_ITEM(positions.obj, static_cast<Py_ssize_t>(i), entry);
    }
  }
  PyBuffer_Release(&view);  // the parts are copied
  if (!read) return Py_NewRef(Py_None);
  if (!model.obj || !positions.obj) return nullptr;
  return PyTuple_Pack(2, model.obj, positions.obj);
}

// --- sparse read ---------------------------------------------------------------------------
// A file of a gigabyte of weights read without them: the model's bytes from its file into a
// buffer of the file's size, every field read in order but the raw_data payloads of more
// than `skip_bytes` in the initializers of its graph — and of weights, of more than
// `weight_bytes` — which are left as the buffer held them (`model_bytes.read_sparse` gives a
// zeroed one). What the check reads of such a tensor — its name, type, dims and the length
// of its data — is all there; its data is read when a weight's values are asked for.

// What the sparse read skips of an initializer's raw_data payload of `size` bytes: one of
// more than `skip_bytes`, or a weight's (rank 2 or more, and an element type not in
// `value_types`, read before the payload, as protobuf writes them) of more than
// `weight_bytes`: what the lean structure leaves without data (`_wire.lean_model`).
struct SkipRule {
  size_t skip_bytes;
  size_t weight_bytes;
  std::vector<uint64_t> value_types;
};

class SparseFile {
 public:
  SparseFile(int fd, uint8_t* buffer, size_t size) : fd_(fd), buffer_(buffer), size_(size) {}

  // Reads the bytes up to `upto` (and some more ahead, never past the end) that are not read
  // or skipped yet; false on a read error or a file shorter than it was. The read ahead grows
  // from kMinAhead while nothing is skipped, to kMaxAhead: a weight of a few kilobytes after
  // another is skipped, not read ahead, and a graph's nodes are read in large pieces.
  bool fill(size_t upto) {
    if (upto > size_) return false;
    while (filled_ < upto) {
      size_t until = std::min(size_, std::max(upto, filled_ + ahead_));
      ssize_t got = pread(fd_, buffer_ + filled_, until - filled_, static_cast<off_t>(filled_));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      filled_ += static_cast<size_t>(got);
      ahead_ = std::min(ahead_ * 2, kMaxAhead);
    }
    return true;
  }

  // Leaves [start, start + size) unread (what was read ahead into it stays).
  void skip(size_t start, size_t size) {
    filled_ = std::max(filled_, start + size);
    ahead_ = kMinAhead;
  }

  // A varint at `at`, within `end`.
  bool varint(size_t& at, size_t end, uint64_t& value) {
    if (!fill(std::min(end, at + 10))) return false;
    Reader r{buffer_ + at, buffer_ + end};
    if (!r.varint(value)) return false;
    at = static_cast<size_t>(r.p - buffer_);
    return true;
  }

  // Walks the message at [start, end): the model (depth 0), its graph (1), an initializer
  // (2); records the payloads left unread in `skipped`.
  bool walk(size_t start, size_t end, int depth, const SkipRule& rule,
            std::vector<std::pair<size_t, size_t>>& skipped) {
    size_t at = start;
    size_t rank = 0;  // an initializer's dims and element type read so far
    uint64_t data_type = 0;
    bool typed = false;
    while (at < end) {
      uint64_t tag, length;
      if (!varint(at, end, tag) || (tag >> 3) == 0) return false;
      uint64_t field = tag >> 3;
      switch (tag & 7) {
        case 0:
          if (!varint(at, end, length)) return false;
          if (depth == 2 && field == 1) ++rank;
          if (depth == 2 && field == 2) data_type = length, typed = true;
          break;
        case 1:
        case 5: {
          size_t width = (tag & 7) == 1 ? 8 : 4;
          if (end - at < width) return false;
          at += width;
          break;
        }
        case 2: {
          if (!varint(at, end, length) || length > end - at) return false;
          size_t size = static_cast<size_t>(length);
          bool inner = (depth == 0 && field == 7) || (depth == 1 && field == 5);
          if (inner && !walk(at, at + size, depth + 1, rule, skipped)) return false;
          if (depth == 2 && field == 1) {  // packed dims: a varint each
            if (!fill(at + size)) return false;
            Reader dims{buffer_ + at, buffer_ + at + size};
            for (uint64_t dim; dims.p < dims.end; ++rank) {
              if (!dims.varint(dim)) return false;
            }
          }
          if (depth == 2 && field == 9 && skipped_payload(size, rank, typed, data_type, rule)) {
            if (!fill(at)) return false;
            skip(at, size);
            skipped.emplace_back(at, size);
          }
          at += size;
          break;
        }
        default:
          return false;  // a group: not a model this reader understands
      }
    }
    return true;
  }

 private:
  // (data_type as protobuf reads an int32: its low 32 bits, sign-extended, as `may_be_weight`)
  static bool skipped_payload(size_t size, size_t rank, bool typed, uint64_t data_type,
                              const SkipRule& rule) {
    if (size > rule.skip_bytes) return true;
    return size > rule.weight_bytes && typed && weight_type(data_type, rank, rule.value_types);
  }

  static constexpr size_t kMinAhead = 512;
  static constexpr size_t kMaxAhead = 64 << 10;
  size_t ahead_ = kMaxAhead;
  int fd_;
  uint8_t* buffer_;
  size_t size_;
  size_t filled_ = 0;
};

PyObject* sparse_read(PyObject*, PyObject* args) {
  int fd;
  Py_buffer view;
  Py_ssize_t skip_bytes, weight_bytes = -1;
  PyObject* types = nullptr;
  if (!PyArg_ParseTuple(args, "iw*n|nO", &fd, &view, &skip_bytes, &weight_bytes, &types)) {
    return nullptr;
  }
  SkipRule rule;
  if (types != nullptr && !read_element_types(types, rule.value_types)) {
    PyBuffer_Release(&view);
    return nullptr;
  }
  if (skip_bytes < 0) {
    PyBuffer_Release(&view);
    PyErr_SetString(PyExc_ValueError, "skip_bytes must not be negative");
    return nullptr;
  }
  rule.skip_bytes = static_cast<size_t>(skip_bytes);
  rule.weight_bytes = weight_bytes < 0 ? rule.skip_bytes : static_cast<size_t>(weight_bytes);
  std::vector<std::pair<size_t, size_t>> skipped;
  size_t size = static_cast<size_t>(view.len);
  bool read;
  Py_BEGIN_ALLOW_THREADS
  SparseFile file(fd, static_cast<uint8_t*>(view.buf), size);
  read = file.walk(0, size, 0, rule, skipped) && file.fill(size);
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&view);
  if (!read) return Py_NewRef(Py_None);
  PyRef out(PyList_New(static_cast<Py_ssize_t>(skipped.size())));
  for (size_t i = 0; out.obj && i < skipped.size(); ++i) {
    PyObject* entry = Py_BuildValue("(nn)", static_cast<Py_ssize_t>(skipped[i].first),
                                    static_cast<Py_ssize_t>(skipped[i].second));
    if (entry == nullptr) return nullptr;
    PyList_SET_ITEM(out.obj, static_cast<Py_ssize_t>(i), entry);
  }
  return out.release();
}

// --- initializer heads -------------------------------------------------------------------
// What the verdict memo keys an initializer by (`VerdictMemo._key_initializers_alike`): its
// name, element type and dims, read from the wire for every initializer at load instead of
// through 50,000 protobuf wrappers after the types arrive.

PyObject* initializer_heads(PyObject*, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) != 0) return nullptr;
  PyRef names(PyList_New(0)), kinds(PyList_New(0)), table(PyList_New(0));
  Texts texts(64);
  PyRef numbers(PyDict_New());  // (element type, dims) -> its number in `table`
  bool failed = !names.obj || !kinds.obj || !table.obj || !numbers.obj;
  bool read = !failed && each_raw_field(
      std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
      [&](uint32_t field, uint32_t wire, std::string_view, std::string_view payload) {
        if (field != 5) return true;
        TensorHead head;
        if (wire != 2 || !read_tensor_head(payload, head)) return false;
        PyRef dims(PyTuple_New(static_cast<Py_ssize_t>(head.dims.size())));
        for (size_t i = 0; dims.obj && i < head.dims.size(); ++i) {
          PyObject* size = PyLong_FromLongLong(static_cast<long long>(head.dims[i]));
          if (size == nullptr) {
            Py_CLEAR(dims.obj);
            break;
          }
          PyTuple_SET_ITEM(dims.obj, static_cast<Py_ssize_t>(i), size);
        }
        PyRef type(PyLong_FromLongLong(head.element_type()));
        PyRef kind(dims.obj && type.obj ? PyTuple_Pack(2, type.obj, dims.obj) : nullptr);
        auto fail = [&failed] {
          failed = true;  // a Python error is set
          return false;
        };
        if (!kind.obj) return fail();
        PyObject* number = PyDict_GetItemWithError(numbers.obj, kind.obj);  // borrowed
        if (number == nullptr) {
          if (PyErr_Occurred()) return fail();
          PyRef made(PyLong_FromSsize_t(PyList_GET_SIZE(table.obj)));
          if (!made.obj || PyDict_SetItem(numbers.obj, kind.obj, made.obj) != 0 ||
              PyList_Append(table.obj, kind.obj) != 0) {
            return fail();
          }
          number = made.obj;  // held by the dict
        }
        if (PyList_Append(kinds.obj, number) != 0 || !append(names.obj, texts.get(head.name))) {
          return fail();
        }
        return true;
      });
  PyBuffer_Release(&view);
  if (failed) return nullptr;
  if (!read) return Py_NewRef(Py_None);
  return PyTuple_Pack(3, names.obj, kinds.obj, table.obj);
}

// --- initializer raw data ----------------------------------------------------------------
// A quantized model has a scale and a zero point per node, read one protobuf wrapper each
// (`GraphView.constant_rows`: ~3 us a tensor, most of what its Q/DQ rules cost).
// `raw_data_rows` reads the raw data of the initializers at the positions asked for in one pass
// over the graph's bytes.

// The raw_data of the TensorProto `tensor` as protobuf reads it (the last one written), when it
// has one, no segment (3), a data_location (14) of DEFAULT and none of raw_data, data_location
// or data_type (2) written with another wire type; false otherwise.
bool embedded_raw_data(std::string_view tensor, std::string_view& raw) {
  Reader r{reinterpret_cast<const uint8_t*>(tensor.data()),
           reinterpret_cast<const uint8_t*>(tensor.data()) + tensor.size()};
  bool has_raw = false;
  uint64_t location = 0;
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    uint32_t field = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    if (field == 9 && wire == 2) {
      if (!r.bytes(raw)) return false;
      has_raw = true;
    } else if (field == 14 && wire == 0) {
      if (!r.varint(location)) return false;
    } else if (field == 3 || field == 9 || field == 14 || (field == 2 && wire != 0)) {
      return false;
    } else if (!r.skip(wire)) {
      return false;
    }
  }
  return has_raw && location == 0;
}

// `raw_data_rows`: the raw data of the initializers at the positions asked for
// (`embedded_raw_data`), grouped by the initializers' kinds (their element type and dims,
// `initializer_heads`) and joined, one buffer a kind: a quantized model's 33,000 scales, read
// as one array each kind instead of a bytes object a tensor.
PyObject* raw_data_rows(PyObject*, PyObject* args) {
  Py_buffer view;
  PyObject *wanted, *kinds_of, *sizes_of;
  if (!PyArg_ParseTuple(args, "y*OOO", &view, &wanted, &kinds_of, &sizes_of)) return nullptr;
  struct Release {
    Py_buffer* v;
    ~Release() { PyBuffer_Release(v); }
  } release{&view};
  PyRef listed(PySequence_Fast(wanted, "positions must be a sequence of ints"));
  PyRef kinds(PySequence_Fast(kinds_of, "kinds must be a sequence of ints"));
  PyRef sizes(PySequence_Fast(sizes_of, "sizes must be a sequence of ints"));
  if (!listed.obj || !kinds.obj || !sizes.obj) return nullptr;
  auto as_int = [](PyObject* item, long long& out) {
    out = PyLong_AsLongLong(item);
    return !(out == -1 && PyErr_Occurred());
  };
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(listed.obj);
  const Py_ssize_t n_kinds = PySequence_Fast_GET_SIZE(kinds.obj);
  const Py_ssize_t n_sizes = PySequence_Fast_GET_SIZE(sizes.obj);
  std::unordered_map<uint64_t, std::vector<Py_ssize_t>> slots;  // position -> its places
  slots.reserve(static_cast<size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) {
    long long position;
    if (!as_int(PySequence_Fast_GET_ITEM(listed.obj, i), position)) return nullptr;
    if (position >= 0) slots[static_cast<uint64_t>(position)].push_back(i);
  }
  // kind -> (place, raw data) of each wanted initializer of that kind whose raw data has the
  // kind's size
  std::unordered_map<long long, std::vector<std::pair<Py_ssize_t, std::string_view>>> groups;
  uint64_t position = 0;
  bool failed = false;
  bool read = each_raw_field(
      std::string_view(static_cast<const char*>(view.buf), static_cast<size_t>(view.len)),
      [&](uint32_t field, uint32_t wire, std::string_view, std::string_view payload) {
        if (field != 5) return true;
        if (wire != 2) return false;
        const uint64_t at = position++;
        auto found = slots.find(at);
        std::string_view raw;
        if (found == slots.end() || !embedded_raw_data(payload, raw)) return true;
        if (static_cast<Py_ssize_t>(at) >= n_kinds) return true;
        long long kind, size;
        if (!as_int(PySequence_Fast_GET_ITEM(kinds.obj, static_cast<Py_ssize_t>(at)), kind) ||
            kind < 0 || kind >= n_sizes ||
            !as_int(PySequence_Fast_GET_ITEM(sizes.obj, static_cast<Py_ssize_t>(kind)), size)) {
          failed = PyErr_Occurred() != nullptr;
          return !failed;
        }
        if (size < 0 || raw.size() != static_cast<size_t>(size)) return true;
        auto& group = groups[kind];
        for (Py_ssize_t place : found->second) group.emplace_back(place, raw);
        return true;
      });
  if (failed) return nullptr;
  if (!read) return Py_NewRef(Py_None);
  // the groups in the order of their first place, each in the order of its places
  std::vector<std::pair<Py_ssize_t, long long>> order;
  for (auto& [kind, members] : groups) {
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    order.emplace_back(members.front().first, kind);
  }
  std::sort(order.begin(), order.end());
  PyRef out(PyList_New(0));
  if (!out.obj) return nullptr;
  for (const auto& [first, kind] : order) {
    const auto& members = groups[kind];
    PyRef places(PyList_New(static_cast<Py_ssize_t>(members.size())));
    size_t total = 0;
    for (const auto& m : members) total += m.second.size();
    PyRef joined(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total)));
    PyRef number(PyLong_FromLongLong(kind));
    if (!places.obj || !joined.obj || !number.obj) return nullptr;
    char* into = PyBytes_AS_STRING(joined.obj);
    for (size_t k = 0; k < members.size(); ++k) {
      PyObject* place = PyLong_FromSsize_t(members[k].first);
      if (!place) return nullptr;
      PyList_SET_ITEM(places.obj, static_cast<Py_ssize_t>(k), place);
      std::memcpy(into, members[k].second.data(), members[k].second.size());
      into += members[k].second.size();
    }
    PyRef entry(PyTuple_Pack(3, number.obj, places.obj, joined.obj));
    if (!entry.obj || PyList_Append(out.obj, entry.obj) != 0) return nullptr;
  }
  PyRef seen(PyLong_FromUnsignedLongLong(position));
  return seen.obj ? PyTuple_Pack(2, seen.obj, out.obj) : nullptr;
}

// --- attribute keys --------------------------------------------------------------------
// What a node's verdict may depend on of a tensor attribute (a Constant's weights): its type,
// dims and every other field, but not its values, as long as those are sound (`sound_tensor`)
// and whoever reads them says so (`NodeContext.attrs`). A key leaves the values out, so the
// nodes of a model whose weights are Constants fall into a few signatures instead of one each;
// and it leaves a tensor's name and doc string out, whoever reads them saying so alike.
//
// AttributeProto: t 5, g 6, graphs 11. TensorProto: name 8, raw_data 9, doc_string 12.

// A tensor's name and doc string name it for people and tools; the parser builds the same
// weights whatever they say. A model made with onnx.helper names every Constant's tensor, so
// equal shape constants (a Reshape's, an Unsqueeze's axes) would each be a key of its own
// (100,000 nodes of a TorchScript-like export: 3.9 s instead of 1 s). A small tensor's key
// therefore leaves them out and keeps everything else, its values included.
//
// The key of one serialized AttributeProto: (None, the attribute's fields but its tensor, the
// tensor's fields but name, raw_data or its typed field, and doc_string), both in the order
// the bytes hold them, for a sound tensor (`sound_head`, or `sound_typed`: onnx.helper's
// make_tensor writes float_data, int64_data...) of `min_bytes` of values or more; (1, the same, the tensor's fields but
// name and doc_string) for another tensor that has a name or a doc string; nullptr (no error
// set) when the attribute keeps its own bytes as its key: it has no single tensor, a graph, or
// a tensor of neither kind.
// The typed field (TensorProto: float_data 4, int32_data 5, int64_data 7, double_data 10,
// uint64_data 11) that holds the values of an element type, as onnx.proto assigns them, for
// the types of at least 8 bits a value whose values sit one to an entry; 0 for the others
// (8-bit floats, packed 4- and 2-bit types, complex, string: their values stay in the key).
uint32_t typed_field_of(int64_t type) {
  switch (type) {
    case 1: return 4;                                          // FLOAT
    case 11: return 10;                                        // DOUBLE
    case 7: return 7;                                          // INT64
    case 2: case 3: case 4: case 5: case 6: case 9: case 10:   // UINT8, INT8, UINT16,
    case 16: return 5;                                         // INT16, INT32, BOOL, FLOAT16,
                                                               // BFLOAT16
    case 12: case 13: return 11;                               // UINT32, UINT64
    default: return 0;
  }
}

// Whether the TensorProto `tensor`, of head `head`, is sound with its values in a typed field:
// no raw_data, data_location DEFAULT, no segment, no dim below 0, and one packed run of the
// field its element type is assigned (`typed_field_of`) holding exactly as many values as its
// dims multiply to, and no other typed field (validity's check then finds nothing: it counts
// the first typed field that holds values). Its values' bytes as raw_data would hold them go
// to `bytes` (what `min_bytes` is compared with). Unpacked runs, fields written twice or with
// another wire type are not known sound.
bool sound_typed(std::string_view tensor, const TensorHead& head, const std::vector<int>& bits,
                 uint64_t& bytes) {
  if (head.odd_wire || head.has_raw_data || head.data_location != 0) return false;
  const int64_t type = head.element_type();
  const uint32_t wanted = typed_field_of(type);
  if (wanted == 0 || type >= static_cast<int64_t>(bits.size()) ||
      bits[static_cast<size_t>(type)] < 8) {
    return false;
  }
  unsigned __int128 count;
  if (!dims_product(head, 40, count)) return false;
  int runs = 0;
  uint64_t values = 0;
  bool read = each_raw_field(tensor, [&](uint32_t field, uint32_t wire, std::string_view,
                                         std::string_view payload) {
    switch (field) {
      case 3: case 6: return false;  // a segment, string_data
      case 4: case 5: case 7: case 10: case 11: break;
      default: return true;
    }
    if (field != wanted || wire != 2 || ++runs > 1) return false;
    if (field == 4 || field == 10) {  // fixed 4 or 8 bytes a value
      const size_t width = field == 4 ? 4 : 8;
      if (payload.size() % width != 0) return false;
      values = payload.size() / width;
      return true;
    }
    Reader r{reinterpret_cast<const uint8_t*>(payload.data()),
             reinterpret_cast<const uint8_t*>(payload.data()) + payload.size()};
    uint64_t value;
    while (r.p < r.end) {
      if (!r.varint(value)) return false;
      ++values;
    }
    return true;
  });
  if (!read || runs != 1 || count != values) return false;
  bytes = values * static_cast<uint64_t>(bits[static_cast<size_t>(type)] / 8);
  return true;
}

PyObject* attribute_key(std::string_view attribute, const std::vector<int>& bits,
                        size_t min_bytes) {
  std::string outside;
  std::string_view tensor;
  int tensors = 0;
  bool graph = false;
  bool read = each_raw_field(attribute, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                            std::string_view payload) {
    if (field == 6 || field == 11) graph = true;
    if (field == 5 && wire == 2) {
      tensor = payload;
      ++tensors;
    } else {
      if (field == 5) graph = true;  // a tensor written with another wire type: left alone
      outside.append(whole.data(), whole.size());
    }
    return true;
  });
  if (!read || graph || tensors != 1) return nullptr;
  TensorHead head;
  const bool known = read_tensor_head(tensor, head);
  uint64_t typed_bytes = 0;
  uint32_t values_field = 0;  // the field whose values the key leaves out (0: none)
  if (known && sound_head(head, bits) && head.raw_data_bytes >= min_bytes) {
    values_field = 9;
  } else if (known && sound_typed(tensor, head, bits, typed_bytes) && typed_bytes >= min_bytes) {
    values_field = typed_field_of(head.element_type());
  }
  const bool values_left_out = values_field != 0;
  std::string inside;
  bool named = false;
  read = tensor_fields_but_names(tensor, values_field, inside, named);
  if (!read || (!values_left_out && !named)) return nullptr;
  PyRef first(make_bytes(outside)), second(make_bytes(inside));
  PyRef kind(values_left_out ? Py_NewRef(Py_None) : PyLong_FromLong(1));
  if (!first.obj || !second.obj || !kind.obj) return nullptr;
  return PyTuple_Pack(3, kind.obj, first.obj, second.obj);
}

PyObject* attribute_keys(PyObject*, PyObject* args) {
  PyObject* column;
  PyObject* table;
  Py_ssize_t min_bytes;
  if (!PyArg_ParseTuple(args, "O!On", &PyList_Type, &column, &table, &min_bytes)) return nullptr;
  std::vector<int> bits;
  if (!read_bits(table, bits)) return nullptr;
  Py_ssize_t count = PyList_GET_SIZE(column);
  PyRef keys(PyList_New(count));
  if (!keys.obj) return nullptr;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* attributes = PyList_GET_ITEM(column, i);
    PyRef made;  // a tuple of the node's keys, once one differs from its attribute
    Py_ssize_t n = PyList_Check(attributes) ? PyList_GET_SIZE(attributes) : 0;
    for (Py_ssize_t a = 0; a < n; ++a) {
      PyObject* attribute = PyList_GET_ITEM(attributes, a);
      Py_buffer held;  // bytes, or a view of them (node_columns' large attributes)
      if (!PyObject_CheckBuffer(attribute) ||
          PyObject_GetBuffer(attribute, &held, PyBUF_SIMPLE) != 0) {
        PyErr_Clear();
        continue;
      }
      PyObject* key = attribute_key(
          std::string_view(static_cast<const char*>(held.buf), static_cast<size_t>(held.len)),
          bits, static_cast<size_t>(std::max<Py_ssize_t>(min_bytes, 0)));
      PyBuffer_Release(&held);
      if (key == nullptr) {
        if (PyErr_Occurred()) return nullptr;
        continue;
      }
      if (!made.obj) {
        made.obj = PyList_AsTuple(attributes);
        if (!made.obj) {
          Py_DECREF(key);
          return nullptr;
        }
      }
      PyObject* old = PyTuple_GET_ITEM(made.obj, a);
      PyTuple_SET_ITEM(made.obj, a, key);
      Py_DECREF(old);
    }
    PyObject* entry = made.obj ? made.release() : Py_NewRef(attributes);
    PyList_SET_ITEM(keys.obj, i, entry);
  }
  return keys.release();
}

// --- attribute forms -------------------------------------------------------------------
// What validity reads of an attribute, and what tells apart the attributes a verdict key may
// hold without their values: every field but the payloads of the value fields a number, a
// string or a list of them is held in (f 2, i 3, s 4, floats 7, ints 8, strings 9), which stand
// for whether they hold something. A run of one repeated field (a list written element by
// element) is one mark. A graph of 100,000 LeakyRelus, each with its own `alpha`, then has one
// form where it has 100,000 signatures (`NodeFields.forms`).

// Whether `field` is one of those value fields, written with a wire type protobuf reads for it.
bool value_field(uint32_t field, uint32_t wire) {
  switch (field) {
    case 2: return wire == 5;                // f
    case 3: return wire == 0;                // i
    case 4: case 9: return wire == 2;        // s, strings
    case 7: return wire == 5 || wire == 2;   // floats (packed or not)
    case 8: return wire == 0 || wire == 2;   // ints (packed or not)
    default: return false;
  }
}

// The form of one serialized AttributeProto (see above), into `out`; false when the bytes are
// malformed, hold no value field or a graph (g 6, graphs 11: the attribute is its own form,
// and a body is not copied).
bool attribute_form(std::string_view attribute, std::string& out) {
  bool changed = false;
  uint32_t run = 0;   // the value field of the mark last written (0: none)
  size_t mark = 0;    // where that mark's "holds something" byte is in `out`
  bool read = each_raw_field(attribute, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                            std::string_view payload) {
    if (field == 6 || field == 11) return false;
    if (!value_field(field, wire)) {
      out.append(whole.data(), whole.size());
      run = 0;
      return true;
    }
    changed = true;
    // a packed list of no element holds nothing; a string, even empty, is a value
    const bool holds = !(wire == 2 && (field == 7 || field == 8) && payload.empty());
    if (run == field) {
      if (holds) out[mark] = '\1';
      return true;
    }
    // a mark: the field's tag with the wire type of a group's start, which no bytes read
    // here hold (`each_raw_field` declines groups), so a form is never another's bytes
    put_varint(out, (static_cast<uint64_t>(field) << 3) | 3);
    mark = out.size();
    out.push_back(holds ? '\1' : '\0');
    run = field;
    return true;
  });
  return read && changed;
}

PyObject* attribute_forms(PyObject*, PyObject* arg) {
  if (!PyList_Check(arg)) {
    PyErr_SetString(PyExc_TypeError, "attribute_forms takes a list");
    return nullptr;
  }
  const Py_ssize_t count = PyList_GET_SIZE(arg);
  PyRef forms(PyList_New(count));
  if (!forms.obj) return nullptr;
  std::string form;
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* attributes = PyList_GET_ITEM(arg, i);
    if (!PyList_Check(attributes) && !PyTuple_Check(attributes)) {
      PyErr_SetString(PyExc_TypeError, "attribute_forms takes a list of lists or tuples");
      return nullptr;
    }
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(attributes);
    PyRef made(PyTuple_New(n));
    if (!made.obj) return nullptr;
    for (Py_ssize_t a = 0; a < n; ++a) {
      PyObject* attribute = PySequence_Fast_GET_ITEM(attributes, a);
      PyObject* entry = nullptr;
      if (PyBytes_Check(attribute)) {
        form.clear();
        std::string_view bytes(PyBytes_AS_STRING(attribute),
                               static_cast<size_t>(PyBytes_GET_SIZE(attribute)));
        if (attribute_form(bytes, form)) {
          entry = make_bytes(form);
          if (!entry) return nullptr;
        }
      }
      PyTuple_SET_ITEM(made.obj, a, entry ? entry : Py_NewRef(attribute));
    }
    PyList_SET_ITEM(forms.obj, i, made.release());
  }
  return forms.release();
}

PyMethodDef methods[] = {
    {"short_names", short_names, METH_O,
     "short_names(serialized_model) -> (renamed model, renaming): the model with every tensor "
     "name of its graph and its bodies made short (its number in base 62, in order of first "
     "appearance; one renaming for all scopes), node names and doc strings left out and "
     "equal top-level Constant nodes merged, and what restored_types needs to give the names "
     "and the merged Constants' types back; None when the model has what this pass leaves "
     "alone (sparse initializers, quantization annotations, training info, bodies nested "
     "deeper than 32) or is not understood."},
    {"restored_types", restored_types, METH_VARARGS,
     "restored_types(inferred, renaming) -> a ModelProto holding only the graph's node "
     "op_types and the inputs, outputs and value_info of `inferred` (an inferred copy of a "
     "model short_names renamed, `renaming` its second result) under their original names, "
     "the same of the bodies of its nodes' graph attributes (held in attributes with no "
     "other field), the outputs of merged Constants after the value_info, typed as the kept "
     "ones; "
     "None when a name is not one of short_names' or the bytes are not understood."},
    {"weight_facts", weight_facts, METH_O,
     "weight_facts(serialized_model) -> (largest top-level initializer's bytes, whether an "
     "initializer, a sparse initializer's values or a node's tensor attribute, in the graph "
     "or its bodies, is stored externally, whether "
     "a node has a graph attribute); None when the bytes are not a model this reader "
     "understands."},
    {"body_nodes", body_nodes, METH_O,
     "body_nodes(serialized_model) -> the number of nodes of the bodies of the graph's If, "
     "Loop and Scan nodes, nested bodies included; None when the bytes are not understood."},
    {"body_types", body_types, METH_O,
     "body_types(serialized_model) -> [types, ...]: for each body of the graph's If, Loop and "
     "Scan nodes, in the order the type table adds them (node by node, an attribute's g "
     "before its graphs, a body before its own nodes' bodies), name -> serialized TypeProto "
     "of its value_info, outputs and inputs (each name's first, in that order); None when "
     "the bytes are not a model this reader understands."},
    {"declared_once", declared_once, METH_O,
     "declared_once(serialized_model) -> whether no name is declared twice, with two types, "
     "among the graph's value_info, outputs and inputs; None when the bytes are not a model "
     "this reader understands."},
    {"merges_unchanged", merges_unchanged, METH_VARARGS,
     "merges_unchanged(declared, computed) -> whether each declared type (name -> serialized\n"
     "TypeProto), merged with its name's computed type as ONNX's inference merges them, gives\n"
     "the computed type byte for byte."},
    {"model_types", model_types, METH_O,
     "model_types(serialized_model) -> (op_types, types): the op_type of each top-level node, "
     "and name -> serialized TypeProto of the graph's value_info, outputs and inputs (each "
     "name's first, in that order; equal types share one bytes object); None when the bytes "
     "are not a model this reader understands."},
    {"node_columns", node_columns, METH_O,
     "node_columns(serialized_graph) -> (names, op_types, domains, inputs, outputs, "
     "attributes), one entry per node of the serialized GraphProto (inputs and outputs: lists "
     "of names; attributes: lists of serialized AttributeProtos); None when the bytes are not "
     "a graph this reader understands (read them through protobuf instead)."},
    {"unread_dropped", unread_dropped, METH_O,
     "unread_dropped(model) -> bytes | None: the serialized model without what ONNX's\n"
     "inference never reads (top-level nodes' doc_string and metadata_props, the graph's\n"
     "inputs', outputs' and value_info's); `model` itself when it holds none; None when\n"
     "its bytes are not understood."},
    {"identities_as_casts", identities_as_casts, METH_O,
     "identities_as_casts(serialized_model) -> the model with each top-level default-domain "
     "Identity node whose one input is an INT32/INT64 initializer or a Constant node's value "
     "made a Cast to that type (ONNX propagates values through Cast, not Identity); "
     "serialized_model itself when there is none; None when the bytes are not understood."},
    {"weightless", weightless, METH_VARARGS,
     "weightless(serialized_model, max_bytes, value_types, value_ops[, readers]) -> (model, "
     "added): the "
     "model without the top-level initializers serialized in more than max_bytes, stored "
     "externally, or of rank 2 or more, an element type not in value_types and read by no "
     "top-level node of an op type in value_ops (every initializer of such a one's name) "
     "— with `readers` (op types), when no top-level node has one of them and the model "
     "has no local function, without every initializer not declared as an input — "
     "each declared instead as a graph input of its "
     "element type and dims (appended in their order, unless an input of that name is "
     "declared), the top-level Constant nodes holding a weight in `value` (rank 2 or more, "
     "an element type not in value_types, none of their outputs read by a node of value_ops) "
     "without the weight's data fields, everything else as it was; added: (name, "
     "serialized TypeProto) of each input appended. None when the bytes are not a model this reader understands (more "
     "than one graph field among them)."},
    {"declared_dims_cleared", declared_dims_cleared, METH_VARARGS,
     "declared_dims_cleared(serialized_model, domains[, bodies]) -> the model with each "
     "top-level "
     "value_info entry (and graph output a node reads) naming an output of a top-level "
     "node of one of `domains` written without the dim_values of the tensor shapes its "
     "type holds (unknown dims instead), "
     "where a graph input has a symbolic dim; serialized_model itself when there is none "
     "(or no input dim is symbolic); with `bodies` (the default; False where no node of "
     "the model holds a graph), the If/Loop/Scan bodies of the nodes of `domains` likewise "
     "(a body's outputs always); None when the bytes are not understood "
     "(a Dimension holding a value and a name, a field of another wire type, more than one "
     "graph field)."},
    {"declared_dims_checked", declared_dims_checked, METH_VARARGS,
     "declared_dims_checked(serialized_model, computed, domains[, bodies]) -> the model "
     "with each "
     "static dim "
     "that a top-level value_info entry or graph output declares for a tensor type, where "
     "the type "
     "`computed` (a dict: name -> serialized TypeProto) gives the tensor, of the same rank, "
     "has a symbolic dim of the graph's inputs, written as that symbol; serialized_model "
     "itself when there is none; with `bodies`, in the bodies of the nodes of `domains` "
     "too; None when the bytes are not understood."},
    {"sound_tensors", sound_tensors, METH_VARARGS,
     "sound_tensors(serialized_graph, bits) -> one byte per initializer of the GraphProto, in "
     "order: 1 where the tensor has raw_data of exactly the bytes its dims and element type "
     "need (bits[element type] bits per element, 0 or absent: not known), no dim below 0 and "
     "data_location DEFAULT, as protobuf reads it, or is stored externally with such an "
     "element type and dims and a `length` entry, if any, of exactly those bytes; 0 for "
     "anything else. None when the bytes are not a graph this reader understands."},
    {"external_initializers", external_initializers, METH_VARARGS,
     "external_initializers(serialized_graph, bits) -> ([(index, name, location, offset, "
     "length, nbytes)], others): each top-level initializer of the GraphProto whose "
     "data_location is EXTERNAL, in order: its external_data's location, offset and length "
     "(None where absent), and the bytes its dims and element type need (bits[element type] "
     "bits per element; None for an unknown size or a dim below 0); `others`: whether another "
     "tensor of the graph (a sparse initializer's values, a node's tensor attribute, a body's) "
     "is stored externally. None when the bytes are not a graph this reader understands, or "
     "hold what it does not model (a text that is not UTF-8, a data_location other than 0 or 1, "
     "more than 2^60 elements)."},
    {"graph_nodes", graph_nodes, METH_VARARGS,
     "graph_nodes(serialized_graph[, always_copy]) -> bytes: the node fields of the serialized "
     "GraphProto copied in order (a GraphProto holding only its nodes: what node_columns "
     "reads, without the initializers), or serialized_graph itself when its nodes make more "
     "than half of it (unless always_copy); None when the bytes are not a graph this reader "
     "understands."},
    {"attribute_forms", attribute_forms, METH_O,
     "attribute_forms(column) -> for each entry of `column` (a list of attribute keys, as "
     "NodeFields.attribute_keys has them), a tuple of their forms: a serialized attribute "
     "with the payloads of its number, string and list fields (f, i, s, floats, ints, "
     "strings) replaced by one mark each, saying whether it holds something; any other "
     "entry (a tensor's key, malformed bytes, an attribute without those fields or with a "
     "graph) as it is."},
    {"attribute_keys", attribute_keys, METH_VARARGS,
     "attribute_keys(attributes, bits, min_bytes) -> one entry per node of `attributes` (a "
     "list of lists of serialized AttributeProtos: node_columns' last column): the node's own "
     "list when no attribute is elided, else a tuple of its attributes in which each "
     "attribute holding one sound tensor (raw_data of exactly the bytes its dims and element "
     "type need: bits[element type] bits per element; or one packed run of the typed field "
     "its element type is assigned, of exactly as many values as its dims need) of at least "
     "min_bytes, and no graph, is (None, its other fields, the tensor's fields but name, its "
     "values and doc_string), and "
     "each attribute holding one other tensor, named or with a doc string, and no graph, is "
     "(1, its other fields, the tensor's fields but name and doc_string)."},
    {"lean_model", lean_model, METH_VARARGS,
     "lean_model(serialized_model, bits, min_elements, max_bytes, value_types, value_ops) -> "
     "(model, elided): the model with every top-level initializer that is sound (raw_data of "
     "exactly the bytes its dims and element type need: bits[element type] bits per "
     "element; no dim below 0; data_location DEFAULT), holds more than min_elements "
     "elements and has more than max_bytes of raw data or is a weight (rank 2 or more, an "
     "element type not in value_types, read by no top-level node of an op type in "
     "value_ops: as weightless) written without its raw_data fields, everything else as "
     "the bytes hold it (None when no initializer is such); elided: (position among the "
     "graph's initializers, offset of its raw data in serialized_model, its length) of each "
     "of those initializers. None when the bytes are not a model this reader "
     "understands (more than one graph field among them)."},
    {"sparse_read", sparse_read, METH_VARARGS,
     "sparse_read(fd, buffer, skip_bytes[, weight_bytes, value_types]) -> skipped: reads the "
     "file open at fd (from offset 0, with pread) into buffer, a writable buffer of the file's "
     "size, but the raw_data payloads of more than skip_bytes of the initializers of the "
     "model's graph fields — and of more than weight_bytes of those of rank 2 or more and an "
     "element type not in value_types (dims and data_type written before raw_data) — which "
     "keep what buffer held; skipped: (offset, length) of each of those, in order. None when "
     "the file is shorter than buffer, cannot be read, or its bytes are not a model this "
     "reader understands."},
    {"initializer_heads", initializer_heads, METH_O,
     "initializer_heads(serialized_graph) -> (names, kinds, table): for each initializer of "
     "the GraphProto, in order, its name and the number of its (element type, dims) in "
     "table, a list of those pairs in order of first appearance, as protobuf reads them; "
     "None when the bytes are not a graph this reader understands."},
    {"raw_data_rows", raw_data_rows, METH_VARARGS,
     "raw_data_rows(serialized_graph, positions, kinds, sizes) -> (initializers, groups): the "
     "number of the GraphProto's initializers, and the raw_data (as protobuf reads it: the last "
     "written; none with a segment, data stored elsewhere than DEFAULT, or such a field of "
     "another wire type) of the initializers at the positions asked for (-1: none), where it "
     "has the size sizes[kinds[position]] (-1: not "
     "grouped), grouped by kind: a list of (kind, places, joined raw data), the places being "
     "indices into positions, in order, the groups in the order of their first place; None "
     "when the bytes are not a graph this reader understands."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wire",
    "A GraphProto's node fields read straight from the wire format (see wire.cpp).", -1,
    methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__wire() { return PyModule_Create(&module); }
