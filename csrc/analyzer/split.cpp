// trtforge.analyzer._split — ONNX's shape inference of a model with many If/Loop/Scan bodies,
// made as two runs in which every body sees a small scope (`analyzer/_split_inference.py`).
//
// Why: ONNX's inference copies the enclosing scope's table of value types (every value
// defined so far) into each body it infers. A 100,000-node graph with an If every 1,000
// nodes spends ~2 s copying, one with an If every 250 nodes ~7 s.
//
// How. A model-local function is inferred in a scope of its own, which holds its inputs; a
// call is inferred where the node stood, with the same symbol table (so the same made-up
// `unk__<n>` dims, in the same order) and the values propagated to its inputs. Its outputs
// get the types of the function's outputs; nothing inside it is written back. So:
//   run A (`models`, first model): each top-level If/Loop/Scan becomes the call of a
//     function holding that node (its names made local, so that nodes equal but for their
//     names share one function); the function's inputs are the names the node and its
//     bodies read from the graph. The graph's own types come out as one run's; the bodies'
//     are not written back.
//   run B (second model): each run of the other top-level nodes becomes the call of a
//     function holding those nodes (its names made local, so that equal runs share one
//     function); its outputs are the names read after it. The nodes with bodies stay in the
//     graph, in a scope that holds only what the calls hand on (and the Constants, moved
//     first: `chunked`), and their bodies' types come out as one run's.
//   `joined` makes one inferred model of them: A's graph, with B's nodes that hold bodies.
//
// That the types are one run's is what `tests/perf/test_split_inference.py` holds (types,
// and their order, on every model with bodies at hand, and on graphs built to break it). It
// rests on these conditions, checked here (else None, and one run is made):
//   - every name is defined once in the whole model, bodies included (no body shadows an
//     outer name, whose type a body would otherwise change, and no name is reused for
//     values propagated in two scopes, which ONNX keeps in one table by name);
//   - every top-level node reads only names defined before it (a value declared in
//     value_info but produced later would be visible in one run and not in a function);
//   - IR version 4 or later (bodies inside a function are inferred under the current IR
//     version's rules), no sparse initializer, no attribute that refers to a function's
//     attribute, no graph attribute given twice, bodies nested at most kMaxDepth deep, and
//     nothing in the model uses the functions' domain;
//   - no value the graph declares (value_info, outputs) is defined in a body (ONNX would
//     merge the body's type into the graph's declaration);
//   - in B, a node whose output is declared (value_info or a graph output) ends its run, so
//     that nothing reads that value before ONNX merges it with the declaration; and the
//     Constant nodes stay in the graph (ONNX hands a Constant's value to its readers within
//     one scope only).
// Under them, what a call changes is only where ONNX keeps what it infers: a function's
// inference sees its inputs' types and propagated values as the graph's nodes would, makes
// up dims from the same symbol table in the same order, and hands back its outputs' types
// and values. Errors: ONNX ignores the errors of the nodes after one it has no schema for
// (within a scope); any other error fails a strict run. Run A keeps every such node in the
// graph, so it fails exactly when one run does. Run B may fail where one run ignored errors
// (in a function, they fail the call); it is then made again with the nodes whose
// inference may have failed left in the graph, as run A's types tell (`chunked`). A run
// that raises otherwise makes the caller run once, whose outcome is then the result.
//
// Field numbers (onnx.proto): ModelProto: ir_version 1, graph 7, opset_import 8, functions
// 25; GraphProto: node 1, initializer 5, input 11, output 12, value_info 13,
// sparse_initializer 15; NodeProto: input 1, output 2, op_type 4, attribute 5, domain 7;
// AttributeProto: g 6, graphs 11, ref_attr_name 21; TensorProto.name 8; ValueInfoProto.name
// 1; FunctionProto: name 1, input 4, output 5, node 7, opset_import 9, domain 10;
// OperatorSetIdProto: domain 1, version 2.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "wire_format.h"

namespace {

using namespace trtforge::wire_format;
using Name = std::string_view;

constexpr int kMaxDepth = 32;
// The functions' domain. A model that uses it anywhere is declined. Short, as the functions'
// names (`Functions`): ONNX copies its table of functions, keyed "domain:name", for every
// scope it opens, and keys of up to 15 bytes are stored without an allocation of their own.
constexpr std::string_view kDomain = "tf.split";

struct NodeView {
  std::string_view raw;
  std::vector<Name> inputs, outputs;
  Name op_type, domain;
  std::vector<std::string_view> bodies;  // the graphs of its attributes
  bool refers = false;                   // an attribute refers to a function's attribute
  bool graph_twice = false;              // an attribute holds `g` twice (protobuf merges)
};

bool read_node(std::string_view raw, NodeView& node) {
  node.raw = raw;
  return each_field(raw, [&](uint32_t field, std::string_view value) {
    if (field == 1) node.inputs.push_back(value);
    if (field == 2) node.outputs.push_back(value);
    if (field == 4) node.op_type = value;
    if (field == 7) node.domain = value;
    if (field != 5) return true;
    int graphs = 0;
    return each_field(value, [&](uint32_t f, std::string_view v) {
      if (f == 6) graphs += 1;
      if (f == 6 || f == 11) node.bodies.push_back(v);
      if (f == 21 && !v.empty()) node.refers = true;
      node.graph_twice = node.graph_twice || graphs > 1;
      return true;
    });
  });
}

// A message's `field`, a string (its last occurrence, as protobuf reads it).
bool read_name(std::string_view message, uint32_t field, std::vector<Name>& into) {
  Name name;
  if (!each_field(message, [&](uint32_t f, std::string_view v) {
        if (f == field) name = v;
        return true;
      }))
    return false;
  into.push_back(name);
  return true;
}

struct GraphView {
  std::vector<NodeView> nodes;
  std::vector<Name> inputs, initializers, outputs, value_info;
  bool sparse = false;
};

bool read_graph(std::string_view raw, GraphView& graph) {
  return each_field(raw, [&](uint32_t field, std::string_view value) {
    switch (field) {
      case 1: graph.nodes.emplace_back(); return read_node(value, graph.nodes.back());
      case 5: return read_name(value, 8, graph.initializers);
      case 11: return read_name(value, 1, graph.inputs);
      case 12: return read_name(value, 1, graph.outputs);
      case 13: return read_name(value, 1, graph.value_info);
      case 15: graph.sparse = true; return true;
      default: return true;
    }
  });
}

// Names in first-seen order, each once.
struct Ordered {
  std::vector<Name> names;
  std::unordered_set<Name> seen;
  void add(Name name) {
    if (!name.empty() && seen.insert(name).second) names.push_back(name);
  }
};

// Every name the model defines, each once: where it is defined, and the last top-level node
// that reads it. One flat table (open addressing), as a 100,000-node graph makes ~600,000
// lookups of ~200,000 names: a table of nodes, one allocation per name, spent a third of the
// planning time missing the cache.
struct Defined {
  static constexpr uint32_t kInBody = UINT32_MAX;
  struct Where {
    uint32_t by;         // 0: the graph's inputs or initializers; i + 1: top-level node i; kInBody
    uint32_t last_read;  // i + 1: top-level node i; 0: none
    uint32_t run = 0;    // the last run of nodes (`chunked`) that names it (1, 2, ...) ...
    uint32_t local = 0;  // ... and its name there
    bool declared = false;  // in value_info or a graph output
  };

  void reserve(size_t count) {
    size_t capacity = 16;
    while (capacity < count * 2) capacity <<= 1;
    slots_.assign(capacity, 0);
    names_.reserve(count);
    wheres_.reserve(count);
  }
  size_t size() const { return names_.size(); }

  // Defines `name` (nothing for ""); false when it is defined already.
  bool define(Name name, uint32_t by) {
    if (name.empty()) return true;
    if (names_.size() * 2 >= slots_.size()) grow();
    uint32_t& slot = slot_of(name);
    if (slot != 0) return false;
    names_.push_back(name);
    wheres_.push_back(Where{by, 0});
    slot = static_cast<uint32_t>(names_.size());
    return true;
  }
  Where* find(Name name) {
    if (slots_.empty()) return nullptr;
    uint32_t slot = slot_of(name);
    return slot == 0 ? nullptr : &wheres_[slot - 1];
  }

 private:
  std::vector<uint32_t> slots_;  // 1 + the index of a name, or 0 (empty)
  std::vector<Name> names_;
  std::vector<Where> wheres_;

  uint32_t& slot_of(Name name) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = std::hash<Name>{}(name) & mask;; i = (i + 1) & mask) {
      uint32_t& slot = slots_[i];
      if (slot == 0 || names_[slot - 1] == name) return slot;
    }
  }
  void grow() {
    std::vector<Name> names = std::move(names_);
    std::vector<Where> wheres = std::move(wheres_);
    reserve(std::max<size_t>(names.size() * 2, 8));
    for (size_t k = 0; k < names.size(); ++k) {
      names_.push_back(names[k]);
      wheres_.push_back(wheres[k]);
      slot_of(names[k]) = static_cast<uint32_t>(names_.size());
    }
  }
};

// A graph's inputs and initializers (an initializer may also be listed as an input): the
// names it starts with, each defined once in the model; added to `bound` when given.
bool define_start(const GraphView& graph, std::unordered_set<Name>* bound, Defined& defined,
                  uint32_t by) {
  std::unordered_set<Name> start(graph.inputs.begin(), graph.inputs.end());
  start.insert(graph.initializers.begin(), graph.initializers.end());
  for (Name name : start) {
    if (!defined.define(name, by)) return false;
    if (bound != nullptr) bound->insert(name);
  }
  return true;
}

bool usable(const NodeView& node) {
  return !node.refers && !node.graph_twice && node.domain != kDomain;
}

struct Scope {
  std::unordered_set<Name> bound;
  const Scope* outer;
  bool has(Name name) const {
    for (const Scope* s = this; s != nullptr; s = s->outer)
      if (s->bound.count(name)) return true;
    return false;
  }
};

// Adds to `reads` the names a body reads from outside the top-level node that holds it
// (`outer`: the enclosing bodies' scopes, null for that node's own bodies).
bool body_reads(std::string_view raw, const Scope* outer, Ordered& reads, Defined& defined,
                int depth) {
  if (depth > kMaxDepth) return false;
  GraphView graph;
  if (!read_graph(raw, graph) || graph.sparse) return false;
  Scope scope{{}, outer};
  if (!define_start(graph, &scope.bound, defined, Defined::kInBody)) return false;
  for (const NodeView& node : graph.nodes) {
    if (!usable(node)) return false;
    for (Name name : node.inputs)
      if (!name.empty() && !scope.has(name)) reads.add(name);
    for (std::string_view body : node.bodies)
      if (!body_reads(body, &scope, reads, defined, depth + 1)) return false;
    for (Name name : node.outputs) {
      if (!defined.define(name, Defined::kInBody)) return false;
      if (!name.empty()) scope.bound.insert(name);
    }
  }
  for (Name name : graph.outputs)
    if (!name.empty() && !scope.has(name)) reads.add(name);
  return true;
}

bool is_control_flow(const NodeView& node) {
  return (node.domain.empty() || node.domain == "ai.onnx") &&
         (node.op_type == "If" || node.op_type == "Loop" || node.op_type == "Scan");
}

struct Model {
  uint64_t ir_version = 0;
  std::string_view graph;
  int graphs = 0;
  std::vector<std::string_view> opset_imports;  // OperatorSetIdProto payloads
  size_t functions = 0;
  std::unordered_set<Name> function_domains;
  bool uses_domain = false;  // an opset import or a function in kDomain
};

bool read_model(std::string_view raw, Model& model) {
  return each_raw_field(raw, [&](uint32_t field, uint32_t wire, std::string_view,
                                 std::string_view payload) {
    if (field == 7 && wire == 2) {
      model.graph = payload;
      model.graphs += 1;
    }
    if ((field == 8 || field == 25) && wire == 2) {
      std::vector<Name> domain;
      if (!read_name(payload, field == 8 ? 1 : 10, domain)) return false;
      model.uses_domain = model.uses_domain || domain.back() == kDomain;
      if (field == 8) {
        model.opset_imports.push_back(payload);
      } else {
        model.functions += 1;
        model.function_domains.insert(domain.back());
      }
    }
    return true;
  });
}

// The IR version: ModelProto field 1, a varint (its last occurrence); 0 when absent.
bool read_ir_version(std::string_view raw, uint64_t& version) {
  Reader r{reinterpret_cast<const uint8_t*>(raw.data()),
           reinterpret_cast<const uint8_t*>(raw.data()) + raw.size()};
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag) || (tag >> 3) == 0) return false;
    if (tag == ((1u << 3) | 0)) {
      if (!r.varint(version)) return false;
    } else if (!r.skip(static_cast<uint32_t>(tag & 7))) {
      return false;
    }
  }
  return true;
}

std::string call_node(std::string_view op_type, const std::vector<Name>& inputs,
                      const std::vector<Name>& outputs) {
  std::string node;
  for (Name name : inputs) put_field(node, 1, name);
  for (Name name : outputs) put_field(node, 2, name);
  put_field(node, 4, op_type);
  put_field(node, 7, kDomain);
  return node;
}

// The functions a run calls, each once: runs of nodes, or nodes with bodies, that serialize
// alike once their names are local are one function, called at each place. Names are
// "<kind><n in base 62>" (short_name): at most 5 bytes below 14.7 million functions.
class Functions {
 public:
  Functions(char kind, const Model& model) : kind_(kind), model_(model) {}

  // The name of the function whose inputs, outputs and nodes `fields` serializes (its opset
  // imports the model's, its domain kDomain): a new one, or that of an equal one.
  const std::string& named(std::string fields) {
    for (std::string_view opset : model_.opset_imports) put_field(fields, 9, opset);
    put_field(fields, 10, kDomain);
    auto [found, added] = names_.emplace(std::move(fields), std::string());
    if (added) {
      found->second = short_name(serialized_.size(), std::string_view(&kind_, 1));
      std::string function;
      put_field(function, 1, found->second);
      function.append(found->first);
      serialized_.push_back(std::move(function));
    }
    return found->second;
  }
  const std::vector<std::string>& serialized() const { return serialized_; }

 private:
  char kind_;
  const Model& model_;
  std::unordered_map<std::string, std::string> names_;  // a function but for its name -> it
  std::vector<std::string> serialized_;
};

// `raw` (a ModelProto) with its graph replaced by `graph`, and, when `functions` is given,
// the functions' domain imported and those functions added.
std::string with_graph(std::string_view raw, const std::string& graph,
                       const std::vector<std::string>* functions) {
  std::string out;
  out.reserve(raw.size() + 1024);
  each_raw_field(raw, [&](uint32_t field, uint32_t wire, std::string_view whole,
                          std::string_view) {
    if (field == 7 && wire == 2) put_field(out, 7, graph);
    else out.append(whole.data(), whole.size());
    return true;
  });
  if (functions != nullptr) {
    std::string opset;
    put_field(opset, 1, kDomain);
    put_varint(opset, (2u << 3) | 0);
    put_varint(opset, 1);
    put_field(out, 8, opset);
    for (const std::string& f : *functions) put_field(out, 25, f);
  }
  return out;
}

// The graph's top-level nodes and what the split needs to know of them.
struct Plan {
  GraphView graph;
  std::vector<std::vector<Name>> reads;  // per node with bodies: its inputs, then its bodies'
                                         // outer reads (each once); empty for the others
  Defined defined;
  std::unordered_set<Name> declared;  // value_info and graph outputs
  uint64_t single_entries = 0;        // the scope sizes one run copies into top-level bodies
  bool foreign = false;  // a top-level node of a domain ONNX defines no op of (nor the model)

};

bool make_plan(const Model& model, Plan& plan) {
  GraphView& graph = plan.graph;
  if (!read_graph(model.graph, graph) || graph.sparse) return false;
  Defined& defined = plan.defined;
  defined.reserve(graph.nodes.size() * 2 + graph.inputs.size() + graph.initializers.size());
  if (!define_start(graph, nullptr, defined, 0)) return false;
  plan.declared.insert(graph.value_info.begin(), graph.value_info.end());
  plan.declared.insert(graph.outputs.begin(), graph.outputs.end());
  const uint64_t start = defined.size() + graph.value_info.size() + graph.outputs.size();
  uint64_t produced = 0;
  plan.reads.resize(graph.nodes.size());
  // a top-level read: of a name defined before, at the top level (else declined)
  auto read = [&](Name name, uint32_t at) {
    Defined::Where* found = defined.find(name);
    if (found == nullptr || found->by == Defined::kInBody) return false;
    found->last_read = at;
    return true;
  };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeView& node = graph.nodes[i];
    const uint32_t at = static_cast<uint32_t>(i + 1);
    if (!usable(node)) return false;
    plan.foreign = plan.foreign || !(node.domain.empty() || node.domain == "ai.onnx" ||
                                     node.domain == "ai.onnx.ml" ||
                                     node.domain == "ai.onnx.preview.training" ||
                                     model.function_domains.count(node.domain));
    if (node.bodies.empty()) {
      for (Name name : node.inputs)
        if (!name.empty() && !read(name, at)) return false;
    } else {
      Ordered outer;
      for (Name name : node.inputs) outer.add(name);
      for (std::string_view body : node.bodies)
        if (!body_reads(body, nullptr, outer, defined, 1)) return false;
      for (Name name : outer.names)
        if (!read(name, at)) return false;
      plan.reads[i] = std::move(outer.names);
      plan.single_entries += start + produced;
    }
    for (Name name : node.outputs) {
      if (!defined.define(name, at)) return false;
      if (!name.empty()) produced += 1;
    }
  }
  // a value a body defines but the graph declares: ONNX would merge the body's type into the
  // graph's declaration (its scope), not write it in the body, and a function does not see it
  for (Name name : plan.declared) {
    Defined::Where* found = defined.find(name);
    if (found == nullptr) continue;
    if (found->by == Defined::kInBody) return false;
    found->declared = true;
  }
  return true;
}

// Names made local to one function: each name becomes "v<n>", n its order of first
// appearance, so that nodes equal but for their names serialize alike (names are unique in
// the model, so one table serves every scope inside the function). Node and graph names and
// doc strings, which inference only quotes in errors, are left out.
struct LocalNames {
  std::unordered_map<Name, std::string> names;
  const std::string& of(Name name) {
    auto [found, added] = names.emplace(name, std::string());
    if (added) found->second = short_name(names.size() - 1, "v");
    return found->second;
  }
};

bool local_graph(std::string_view graph, LocalNames& local, std::string& out);

// A ValueInfoProto's (field 1) or TensorProto's (field 8) name made local.
bool local_named(std::string_view message, uint32_t name_field, LocalNames& local,
                 std::string& out) {
  return each_raw_field(message, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                     std::string_view payload) {
    if (field == name_field && wire == 2) put_field(out, field, local.of(payload));
    else out.append(whole.data(), whole.size());
    return true;
  });
}

bool local_node(std::string_view node, LocalNames& local, std::string& out) {
  return each_raw_field(node, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view payload) {
    if ((field == 1 || field == 2) && wire == 2) {
      put_field(out, field, payload.empty() ? std::string() : local.of(payload));
    } else if (field == 5 && wire == 2) {  // an attribute: its graphs too
      std::string attribute;
      bool ok = each_raw_field(payload, [&](uint32_t f, uint32_t w, std::string_view whole_f,
                                            std::string_view graph) {
        if ((f == 6 || f == 11) && w == 2) {
          std::string body;
          if (!local_graph(graph, local, body)) return false;
          put_field(attribute, f, body);
        } else {
          attribute.append(whole_f.data(), whole_f.size());
        }
        return true;
      });
      if (!ok) return false;
      put_field(out, 5, attribute);
    } else if (field != 3 && field != 6) {  // not its name, nor its doc string
      out.append(whole.data(), whole.size());
    }
    return true;
  });
}

bool local_graph(std::string_view graph, LocalNames& local, std::string& out) {
  return each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view payload) {
    if (wire != 2) {
      out.append(whole.data(), whole.size());
      return true;
    }
    std::string part;
    switch (field) {
      case 1:
        if (!local_node(payload, local, part)) return false;
        break;
      case 5:
        if (!local_named(payload, 8, local, part)) return false;
        break;
      case 11: case 12: case 13:
        if (!local_named(payload, 1, local, part)) return false;
        break;
      case 2: case 10:  // its name, its doc string
        return true;
      case 14: case 15:  // annotations and sparse tensors name tensors in fields of their own
        return false;
      default:
        out.append(whole.data(), whole.size());
        return true;
    }
    put_field(out, field, part);
    return true;
  });
}

// Run A: the graph with each top-level If/Loop/Scan called as a function, its names local
// (`LocalNames`) so that nodes equal but for their names share one function; a node whose
// names cannot all be made local keeps them, in a function of its own.
std::string hoisted(std::string_view raw, const Model& model, const Plan& plan, size_t& count) {
  Functions functions('n', model);
  std::string graph;
  size_t i = 0;
  each_raw_field(model.graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view payload) {
    if (field != 1 || wire != 2) {
      graph.append(whole.data(), whole.size());
      return true;
    }
    const NodeView& node = plan.graph.nodes[i];
    bool outputs_named = true;
    for (Name name : node.outputs) outputs_named = outputs_named && !name.empty();
    if (is_control_flow(node) && !node.bodies.empty() && outputs_named) {
      LocalNames local;
      std::vector<std::string> inputs, outputs;
      for (Name name : plan.reads[i]) inputs.push_back(local.of(name));
      for (Name name : node.outputs) outputs.push_back(local.of(name));
      std::string held;
      std::string fields;  // the function's inputs, outputs and node
      if (local_node(payload, local, held)) {
        for (const std::string& input : inputs) put_field(fields, 4, input);
        for (const std::string& output : outputs) put_field(fields, 5, output);
        put_field(fields, 7, held);
      } else {  // as it is
        for (Name input : plan.reads[i]) put_field(fields, 4, input);
        for (Name output : node.outputs) put_field(fields, 5, output);
        put_field(fields, 7, payload);
      }
      const std::string& name = functions.named(std::move(fields));
      put_field(graph, 1, call_node(name, plan.reads[i], node.outputs));
    } else {
      graph.append(whole.data(), whole.size());
    }
    ++i;
    return true;
  });
  count = functions.serialized().size();
  return with_graph(raw, graph, &functions.serialized());
}

bool is_constant(const NodeView& node) {
  return (node.domain.empty() || node.domain == "ai.onnx") && node.op_type == "Constant";
}

// Run B: the graph with each run of top-level nodes without bodies called as a function.
// The graph's Constant nodes come first, outside the runs: ONNX hands the values of Constants
// (and initializers) to the nodes that read them only within one scope, so a Constant inside
// a function would not be seen as a constant by the nodes of the next. They read nothing and
// make up no symbol, so that moving them first changes no type.
//
// `inferred` (run A's inferred values, when given): only nodes that ONNX's inference
// certainly did not fail — one of their outputs, not declared, got an inferred type — go
// into functions; the others stay in the graph, in their place. One run ignores the errors
// of the nodes after an op it has no schema for; a function's error fails its call, and
// with it every output of the call. So in a graph where one run ignored errors, a run B
// without that knowledge fails; with it, B's functions hold no node that fails, and the
// nodes that do fail, or have no schema, are where they are in one run.
std::string chunked(std::string_view raw, const Model& model, Plan& plan, size_t& count,
                    uint64_t& entries, const std::unordered_set<Name>* inferred) {
  const GraphView& g = plan.graph;
  std::vector<std::string> nodes;  // in B's order, serialized
  Functions functions('c', model);
  uint64_t start = plan.declared.size() + g.inputs.size() + g.initializers.size();
  for (const NodeView& node : g.nodes)
    if (is_constant(node) && node.bodies.empty()) {
      nodes.emplace_back(node.raw);
      start += node.outputs.size();
    }
  uint64_t handed = 0;
  std::vector<size_t> run;
  uint32_t runs = 0;
  auto call = [&]() {  // the run so far, called
    if (run.empty()) return;
    // what each name is, in the plan's one table (no set per run): a node of the run reads
    // it from outside when its producer is not a node of the run before it (within the
    // run's span, only Constants are not of the run); it leaves the run when read after it
    // or declared.
    // Inside the function every name is local (its order of appearance), so that runs of
    // equal nodes are one function, called many times: ONNX copies its table of functions
    // into every scope it opens, and a graph cut into thousands of runs (blocks of a
    // transformer between bodies) would copy thousands of entries each time.
    const uint32_t first = static_cast<uint32_t>(run.front() + 1);
    const uint32_t end = static_cast<uint32_t>(run.back() + 1);
    const uint32_t id = ++runs;
    uint32_t locals = 0;
    auto local = [&](Defined::Where& where) {
      if (where.run != id) {
        where.run = id;
        where.local = locals++;
      }
      return short_name(where.local, "v");
    };
    std::vector<Name> inputs, outputs;
    std::vector<std::string> local_inputs, local_outputs, held;
    for (size_t k : run) {
      for (Name name : g.nodes[k].inputs) {
        if (name.empty()) continue;
        Defined::Where& where = *plan.defined.find(name);  // read, so defined
        const bool within = where.by != Defined::kInBody && where.by >= first &&
                            where.by <= end && !is_constant(g.nodes[where.by - 1]);
        if (within || where.run == id) continue;
        inputs.push_back(name);
        local_inputs.push_back(local(where));
      }
      std::string node;  // the node, its names local, without its own name (field 3)
      each_raw_field(g.nodes[k].raw, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                         std::string_view payload) {
        if ((field == 1 || field == 2) && wire == 2) {
          put_field(node, field,
                    payload.empty() ? std::string() : local(*plan.defined.find(payload)));
        } else if (field != 3) {
          node.append(whole.data(), whole.size());
        }
        return true;
      });
      held.push_back(std::move(node));
      for (Name name : g.nodes[k].outputs) {
        if (name.empty()) continue;
        Defined::Where& where = *plan.defined.find(name);
        if (where.last_read > end || where.declared) {
          outputs.push_back(name);
          local_outputs.push_back(local(where));
        }
      }
    }
    std::string fields;  // the function's inputs, outputs and nodes
    for (const std::string& input : local_inputs) put_field(fields, 4, input);
    for (const std::string& output : local_outputs) put_field(fields, 5, output);
    for (const std::string& node : held) put_field(fields, 7, node);
    nodes.push_back(call_node(functions.named(std::move(fields)), inputs, outputs));
    handed += outputs.size();
    run.clear();
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const NodeView& node = g.nodes[i];
    if (!node.bodies.empty()) {
      call();
      entries += start + handed;
      handed += node.outputs.size();
      nodes.emplace_back(node.raw);
      continue;
    }
    if (is_constant(node)) continue;
    if (inferred != nullptr) {
      bool inferred_fine = false;
      for (Name name : node.outputs)
        inferred_fine = inferred_fine || (inferred->count(name) && !plan.declared.count(name));
      if (!inferred_fine) {  // in the graph, as in one run
        call();
        handed += node.outputs.size();
        nodes.emplace_back(node.raw);
        continue;
      }
    }
    run.push_back(i);
    bool declared = false;  // a run ends where a declared value is produced
    for (Name name : node.outputs) declared = declared || plan.declared.count(name);
    if (declared) call();
  }
  call();
  std::string graph;
  bool placed = false;
  each_raw_field(model.graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                  std::string_view) {
    if (field != 1 || wire != 2) {
      graph.append(whole.data(), whole.size());
    } else if (!placed) {  // B's nodes, where the graph's first node was
      for (const std::string& node : nodes) put_field(graph, 1, node);
      placed = true;
    }
    return true;
  });
  count = functions.serialized().size();
  return with_graph(raw, graph, &functions.serialized());
}

PyObject* make_bytes(const std::string& data) {
  return PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size()));
}

bool as_view(PyObject* arg, std::string_view& view) {
  char* data;
  Py_ssize_t size;
  if (PyBytes_AsStringAndSize(arg, &data, &size) < 0) return false;
  view = std::string_view(data, static_cast<size_t>(size));
  return true;
}

// The names a serialized inferred model's graph types in its value_info: what inference
// added (and what the model declared there).
bool value_info_names(std::string_view raw, std::unordered_set<Name>& names) {
  Model model;
  GraphView graph;
  if (!read_model(raw, model) || model.graphs != 1) return false;
  if (!each_field(model.graph, [&](uint32_t field, std::string_view value) {
        return field != 13 || read_name(value, 1, graph.value_info);
      }))
    return false;
  names.insert(graph.value_info.begin(), graph.value_info.end());
  return true;
}

PyObject* models(PyObject*, PyObject* args) {
  PyObject *model_arg, *inferred_arg = Py_None;
  if (!PyArg_ParseTuple(args, "S|O", &model_arg, &inferred_arg)) return nullptr;
  std::string_view raw, inferred_a;
  if (!as_view(model_arg, raw)) return nullptr;
  std::unordered_set<Name> inferred;
  if (inferred_arg != Py_None) {
    if (!PyBytes_Check(inferred_arg)) {
      PyErr_SetString(PyExc_TypeError, "inferred_a must be bytes or None");
      return nullptr;
    }
    if (!as_view(inferred_arg, inferred_a)) return nullptr;
    if (!value_info_names(inferred_a, inferred)) Py_RETURN_NONE;
  }
  Model model;
  Plan plan;
  if (!read_model(raw, model) || !read_ir_version(raw, model.ir_version) || model.graphs != 1 ||
      model.ir_version < 4 || model.uses_domain || !make_plan(model, plan))
    Py_RETURN_NONE;
  size_t calls_a = 0, calls_b = 0;
  uint64_t split_entries = 0;
  PyRef a(make_bytes(hoisted(raw, model, plan, calls_a)));
  if (a.obj == nullptr) return nullptr;
  PyRef b(make_bytes(chunked(raw, model, plan, calls_b, split_entries,
                             inferred_arg != Py_None ? &inferred : nullptr)));
  if (b.obj == nullptr) return nullptr;
  if (calls_a == 0) Py_RETURN_NONE;
  return Py_BuildValue("(OOKKnnO)", a.obj, b.obj,
                       static_cast<unsigned long long>(plan.single_entries),
                       static_cast<unsigned long long>(split_entries),
                       static_cast<Py_ssize_t>(calls_a + model.functions),
                       static_cast<Py_ssize_t>(calls_b + model.functions),
                       plan.foreign ? Py_True : Py_False);
}

// The top-level node fields of a ModelProto's graph: (whole field, node) each.
bool top_nodes(std::string_view raw, std::string_view& graph,
               std::vector<std::pair<std::string_view, NodeView>>& nodes) {
  Model model;
  if (!read_model(raw, model) || model.graphs != 1) return false;
  graph = model.graph;
  return each_raw_field(graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                   std::string_view payload) {
    if (field != 1 || wire != 2) return true;
    nodes.emplace_back(whole, NodeView{});
    return read_node(payload, nodes.back().second);
  });
}

PyObject* joined(PyObject*, PyObject* args) {
  PyObject *original_arg, *a_arg, *b_arg;
  if (!PyArg_ParseTuple(args, "SSS", &original_arg, &a_arg, &b_arg)) return nullptr;
  std::string_view original, a, b;
  if (!as_view(original_arg, original) || !as_view(a_arg, a) || !as_view(b_arg, b)) return nullptr;
  std::string_view a_graph, b_graph;
  std::vector<std::pair<std::string_view, NodeView>> a_nodes, b_nodes;
  if (!top_nodes(a, a_graph, a_nodes) || !top_nodes(b, b_graph, b_nodes)) Py_RETURN_NONE;
  std::vector<std::string_view> with_bodies;  // B's nodes that hold bodies, inferred
  for (auto& [whole, node] : b_nodes)
    if (!node.bodies.empty()) with_bodies.push_back(whole);
  std::string graph;
  size_t i = 0, next = 0;
  bool ok = each_raw_field(a_graph, [&](uint32_t field, uint32_t wire, std::string_view whole,
                                        std::string_view) {
    if (field != 1 || wire != 2) {
      graph.append(whole.data(), whole.size());
      return true;
    }
    const NodeView& node = a_nodes[i++].second;
    if (node.domain == kDomain || !node.bodies.empty()) {
      if (next == with_bodies.size()) return false;
      graph.append(with_bodies[next].data(), with_bodies[next].size());
      ++next;
    } else {
      graph.append(whole.data(), whole.size());
    }
    return true;
  });
  if (!ok || next != with_bodies.size()) Py_RETURN_NONE;
  return make_bytes(with_graph(original, graph, nullptr));
}

PyMethodDef methods[] = {
    {"models", models, METH_VARARGS,
     "models(serialized_model, inferred_a=None) -> (a, b, single_entries, split_entries, "
     "a_functions, b_functions, foreign): the two models whose inference `joined` makes one "
     "(see split.cpp), the sizes of the scopes one run and run B copy into top-level bodies, "
     "how many functions each holds, and whether a top-level node is of a domain ONNX "
     "defines no op of (likely without a schema); None when the model does not meet the "
     "conditions, or "
     "has no top-level If/Loop/Scan to move. `inferred_a`: run A's result, from which run B "
     "keeps in the graph the nodes whose inference may have failed (`chunked`)."},
    {"joined", joined, METH_VARARGS,
     "joined(serialized_model, inferred_a, inferred_b) -> bytes: the model's inferred form, "
     "from run A's graph and run B's nodes with bodies; None when the two do not fit "
     "together."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_split",
    "ONNX's shape inference of a model with many If/Loop/Scan bodies in two runs (see "
    "split.cpp).",
    -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__split() { return PyModule_Create(&module); }
