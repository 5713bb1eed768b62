// trtforge.analyzer._infer — the types ONNX's shape inference gives a plain graph of common
// ops, computed without it, or nothing.
//
// ONNX's inference costs ~5 µs a node (~0.5 s for 100,000 nodes), which made it the longest
// part of a large model's check: the parent process had its own work done and waited for
// the types. For a graph made only of the ops below, this module computes the same types
// in a fraction of that time: what onnx 1.23's strict run (check_type off, as
// `_speculation.strict_run` calls it) would write, the same element types, dims, symbolic
// names (`unk__<n>`, numbered as ONNX's symbol table numbers them) and merges with the
// declared outputs and value_info (a model saved after inference, an exporter's
// declarations: read from the start, merged where a node infers the name).
//
// It either gives exactly ONNX's result or declines (None): the caller then runs ONNX. It
// declines wherever it is not certain — an op it does not model, an opset outside what it
// was checked for, value_info without a type or named twice, a declaration the inferred type
// does not merge with (ONNX's strict run fails), functions, bodies other than If branches of
// these ops (with
// inputs, initializers or value_info of their own, an output passed through, a name the
// graph defines too, a constant of the enclosing graph read as a value, a node of a domain
// without a schema, an If that fails where ONNX's run would fail), sparse or external
// initializers, a type that is not a plain tensor type serialized canonically, a name defined
// twice, a shape or attribute ONNX would refuse (ONNX's strict run would raise there), data
// propagation that would fail (a run with it fails where one without it passes).
//
// Data propagation is modelled as ONNX's DataPropagationContext makes it: the values (a dim
// value, a dim_param or unknown each) Shape, Gather, Slice, Squeeze, Unsqueeze, Cast,
// Concat, Add, Sub and Mul (from opset 14) give their output, read by a Reshape's, an
// Expand's, a ConstantOfShape's shape and a Resize's sizes (onnx's getShapeInput: a constant's values, else the propagated ones, else as many unknown
// values as a rank-1 shape's static dim) — `inferred(model, data_prop=False)` gives the run
// without it. `tests/perf/test_native_inference.py` holds its result equal to ONNX's, with
// data propagation and without, on random graphs of these ops and on every model of the test
// corpus it does not decline.
//
// What it models, per onnx 1.23's inference functions (defs/*.cc):
//   first-input ops (Relu, Erf, Sqrt, Exp, Log, Tanh, Sigmoid, Neg, Abs, Reciprocal, Floor,
//   Ceil, Sign, Round, InstanceNormalization; with attributes inference does not read: LeakyRelu, Elu, Selu, HardSigmoid,
//   ThresholdedRelu, Celu, Softplus, Softsign, HardSwish, Mish, Sin, Cos, Tan, Asin, Acos,
//   Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Shrink, Swish, BitwiseNot, Gelu, LRN,
//   LpNormalization; CumSum, PRelu and ScatterND, their other inputs aside; Clip, its min
//   and max inputs aside; LayerNormalization with one output, RMSNormalization;
//   Dropout, its mask BOOL, its ratio and training_mode checked as scalars): the input's
//   type; IsNaN and IsInf (BOOL, the input's shape); Gather
//   (the data's dims, the indices' at `axis`); Unsqueeze and Squeeze (constant axes); Slice
//   (constant starts, ends, axes and steps); Softmax, LogSoftmax and Hardmax (also check rank
//   and axis); Min, Max, Sum and Mean (all inputs broadcast); Add, Sub, Mul, Div, Pow:
//   the first input's element type, the shapes broadcast; MatMul; Transpose; Reshape (from
//   14: of a shape the graph computes too); Concat; Expand; Where; Trilu; Split (sizes a
//   constant, or num_outputs); the reductions of ReduceOpGenerator (ReduceMean, ReduceMax,
//   ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum,
//   ReduceLogSumExp: an axes attribute below 18, a constant input from 18; ReduceSum: a
//   constant input); ArgMax and ArgMin (INT64); Shape (the rank, or the dims from `start` to
//   `end`); Cast; Constant (a `value` tensor); Identity; Not (BOOL); Tile and Pad (constant
//   repeats, pads and axes; else the rank); Resize (constant FLOAT scales, or sizes read as
//   a shape input; axes); Conv, MaxPool and
//   AveragePool without ceil_mode (convPoolShapeInference); ConvTranspose
//   (convTransposeShapeInference); DepthToSpace and SpaceToDepth; Einsum
//   (einsumShapeInference); GlobalAveragePool and
//   GlobalMaxPool; BatchNormalization in inference mode (its parameters' ranks and channels
//   checked from opset 14); QuantizeLinear and DequantizeLinear (the data's shape; the zero
//   point's, UINT8, FLOAT or the scale's element type); MatMulInteger (INT32, MatMul's
//   shape) and DynamicQuantizeLinear (UINT8 data, FLOAT and UINT8 scalars), as
//   onnxruntime's dynamic quantization writes them; a detector's post-processing: NonZero,
//   TopK, RoiAlign, ScatterElements, Mod, GatherND, NonMaxSuppression; If (onnx's
//   IfInferenceFunction: the then branch
//   inferred, then the else branch, in scopes that see the enclosing graphs' names and share
//   one symbol table; each output the then branch's type united with the else branch's; a
//   failing branch fails its If, which after an op without a schema is no error); and ops
//   of the default domain ONNX has no schema for (onnxruntime's SimplifiedLayerNormalization
//   written there by onnxruntime-genai's builder; LayerNormalization below opset 17, as
//   onnxruntime's transformer optimizer writes it in opset-14 BERTs) and
//   of a domain ONNX defines no schema for (outputs untyped; later errors are then not
//   errors, as in ONNX).

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "wire_format.h"

namespace {

using namespace trtforge::wire_format;

// The default-domain opsets this module was checked for (tests/perf/test_native_inference.py
// compares it with onnx over each): a model importing another declines. Below 13 an op is
// inferred as its version of that opset infers (`changed_at_13`: declined where that is not
// modelled), which is what a TorchScript export at opset 11 or 12 holds. Opsets 26 to 28
// (onnx 1.23's newest, what `helper.make_model` writes by default) changed the modelled ops
// only in their type constraints (not checked: ONNX runs without `check_type`) and in two
// attributes: SpaceToDepth-28's `mode` and Range-27's `stash_type`, neither read by inference.
constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 28;

// Unknown values made for a rank-1 tensor's static dim (data propagation, a Reshape's shape
// inferred from its rank) beyond this many are declined.
constexpr int64_t kMaxValues = 1 << 16;

// onnx's bound on the rank a shape input's own static dim gives (getShapeInput).
constexpr int64_t kMaxMaterializedRank = 1024;

// -- types -----------------------------------------------------------------------------------
struct Dim {
  enum Kind : uint8_t { kNone, kValue, kParam } kind = kNone;
  int64_t value = 0;
  std::string_view param;  // into the model's bytes, or a symbol made up here (`Inference`)
  bool has_denotation = false;
  std::string_view denotation;
};

struct Type {
  bool known = false;  // a TypeProto with a tensor_type (else: no type)
  int64_t elem = 0;
  bool has_shape = false;
  std::vector<Dim> dims;
};

struct Declined {};  // thrown where this module is not certain: the caller runs ONNX
struct Failed {};    // thrown where ONNX's inference function would fail for the node

// The source line of the last decline (`declined_at`: what a test or a developer asks when a
// model it expected to be modelled is not).
std::atomic<int> g_declined_at{0};  // (runs in two threads at once: `inferred` lets go of the GIL)
[[noreturn]] void decline_at(int line) {
  g_declined_at = line;
  throw Declined{};
}
#define decline() decline_at(__LINE__)

// One field of a message: number, wire type, payload (length-delimited) or value (varint,
// fixed).
struct Field {
  uint32_t number;
  uint32_t wire;
  std::string_view payload;
  uint64_t value;
};

template <typename On>
void each(std::string_view message, On on) {
  Reader r{reinterpret_cast<const uint8_t*>(message.data()),
           reinterpret_cast<const uint8_t*>(message.data()) + message.size()};
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF) decline();
    Field f{static_cast<uint32_t>(tag >> 3), static_cast<uint32_t>(tag & 7), {}, 0};
    switch (f.wire) {
      case 0:
        if (!r.varint(f.value)) decline();
        break;
      case 1:
        if (r.end - r.p < 8) decline();
        std::memcpy(&f.value, r.p, 8);
        r.p += 8;
        break;
      case 2:
        if (!r.bytes(f.payload)) decline();
        break;
      case 5: {
        if (r.end - r.p < 4) decline();
        uint32_t v;
        std::memcpy(&v, r.p, 4);
        f.value = v;
        r.p += 4;
        break;
      }
      default:
        decline();
    }
    on(f);
  }
}

void put_tag(std::string& out, uint32_t field, uint32_t wire) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | wire);
}

// The bytes of a varint.
size_t varint_size(uint64_t value) {
  size_t size = 1;
  for (; value >= 0x80; value >>= 7) ++size;
  return size;
}

// The bytes of a length-delimited field (of a number below 16) whose payload is `size` bytes.
size_t field_size(size_t size) { return 1 + varint_size(size) + size; }

// The bytes of a TensorShapeProto.Dimension's payload.
size_t dim_size(const Dim& d) {
  size_t size = 0;
  if (d.kind == Dim::kValue) size += 1 + varint_size(static_cast<uint64_t>(d.value));
  if (d.kind == Dim::kParam) size += field_size(d.param.size());
  if (d.has_denotation) size += field_size(d.denotation.size());
  return size;
}

// The bytes of the TensorShapeProto's and the TypeProto.Tensor's payloads of `type`.
void tensor_sizes(const Type& type, size_t& shape, size_t& tensor) {
  shape = 0;
  for (const Dim& d : type.dims) shape += field_size(dim_size(d));
  tensor = 1 + varint_size(static_cast<uint64_t>(type.elem));
  if (type.has_shape) tensor += field_size(shape);
}

// The bytes of `type` serialized (`serialize_to`).
size_t serialized_size(const Type& type) {
  size_t shape, tensor;
  tensor_sizes(type, shape, tensor);
  return field_size(tensor);
}

// Appends a TypeProto as protobuf serializes it (fields in number order), each message's
// size computed first: no buffer of its own (a 100,000-node LLM's declarations and
// inferred types are each serialized once or twice).
void serialize_to(std::string& out, const Type& type) {
  size_t shape, tensor;
  tensor_sizes(type, shape, tensor);
  put_tag(out, 1, 2);
  put_varint(out, tensor);
  put_tag(out, 1, 0);
  put_varint(out, static_cast<uint64_t>(type.elem));
  if (!type.has_shape) return;
  put_tag(out, 2, 2);
  put_varint(out, shape);
  for (const Dim& d : type.dims) {
    put_tag(out, 1, 2);
    put_varint(out, dim_size(d));
    if (d.kind == Dim::kValue) {
      put_tag(out, 1, 0);
      put_varint(out, static_cast<uint64_t>(d.value));
    } else if (d.kind == Dim::kParam) {
      put_field(out, 2, d.param);
    }
    if (d.has_denotation) put_field(out, 3, d.denotation);
  }
}

// Whether `bytes` are `type` as `serialize_to` writes it (compared in a buffer of the
// thread's, reused).
bool serializes_as(const Type& type, std::string_view bytes) {
  if (serialized_size(type) != bytes.size()) return false;
  thread_local std::string scratch;
  scratch.clear();
  serialize_to(scratch, type);
  return scratch == bytes;
}

// A declared TypeProto: a tensor type whose bytes are the ones protobuf would write again
// (so that ONNX's output holds them unchanged), else declined.
Type parse_declared(std::string_view bytes) {
  Type type;
  int tensors = 0;
  std::string_view tensor;
  each(bytes, [&](const Field& f) {
    if (f.number != 1 || f.wire != 2) decline();  // another kind of type, a denotation
    tensor = f.payload;
    ++tensors;
  });
  if (tensors != 1) decline();
  bool elem_seen = false;
  int shapes = 0;
  each(tensor, [&](const Field& f) {
    if (f.number == 1 && f.wire == 0 && !elem_seen) {
      type.elem = static_cast<int64_t>(static_cast<int32_t>(f.value));
      elem_seen = true;
    } else if (f.number == 2 && f.wire == 2 && shapes++ == 0) {
      type.has_shape = true;
      size_t rank = 0;
      each(f.payload, [&](const Field&) { ++rank; });
      type.dims.reserve(rank);
      each(f.payload, [&](const Field& d) {
        if (d.number != 1 || d.wire != 2) decline();
        Dim dim;
        each(d.payload, [&](const Field& x) {
          if (x.number == 1 && x.wire == 0 && dim.kind == Dim::kNone) {
            dim.kind = Dim::kValue;
            dim.value = static_cast<int64_t>(x.value);
          } else if (x.number == 2 && x.wire == 2 && dim.kind == Dim::kNone) {
            dim.kind = Dim::kParam;
            dim.param = x.payload;
          } else if (x.number == 3 && x.wire == 2 && !dim.has_denotation) {
            dim.has_denotation = true;
            dim.denotation = x.payload;
          } else {
            decline();
          }
        });
        type.dims.push_back(std::move(dim));
      });
    } else {
      decline();
    }
  });
  if (!elem_seen || type.elem <= 0) decline();  // ONNX refuses an unknown element type
  type.known = true;
  if (!serializes_as(type, bytes)) decline();
  return type;
}

// -- the model -------------------------------------------------------------------------------
struct Attribute {
  std::string_view name;
  bool has_f = false;
  bool has_i = false;
  int64_t i = 0;
  bool has_ints = false;
  std::vector<int64_t> ints;
  bool has_t = false;
  std::string_view t;
  bool has_g = false;
  std::string_view g;  // a graph (an If's branch)
  bool has_s = false;
  std::string_view s;
  int64_t type = 0;
};

struct ValueInfo {
  std::string_view name, type, whole;
  bool has_type = false;
};

struct Node;

// An If's branch: its declared outputs and its nodes (it has no inputs, initializers or
// value_info: declined), inferred in a scope of its own (`Inference::scopes_`).
struct Body {
  std::string_view attribute;  // then_branch or else_branch
  std::vector<ValueInfo> outputs;
  std::vector<Node> nodes;
  int scope = -1;
};

struct Node {
  std::vector<std::string_view> inputs, outputs;
  std::vector<uint32_t> in, out;  // their ids (`Inference::id`)
  std::string_view op, domain;
  std::string_view name;  // (named in ONNX's error messages)
  bool has_name = false;
  std::vector<Attribute> attributes;
  std::vector<Body> bodies;  // an If's branches, in the order of its attributes

  const Attribute* attribute(std::string_view name) const {
    const Attribute* found = nullptr;
    for (const Attribute& a : attributes) {
      if (a.name == name) {
        if (found) decline();  // ONNX reads one of several: not modelled
        found = &a;
      }
    }
    return found;
  }
};

struct Tensor {  // an initializer's or a Constant's value, as far as read here
  int64_t elem = 0;
  std::vector<int64_t> dims;
  bool has_raw = false;
  std::string_view raw;
  std::vector<int64_t> int64_data;
  bool other_data = false;  // float_data, int32_data, ..., external or a segment
  std::string_view name;
};

void read_packed_or_not(const Field& f, std::vector<int64_t>& out) {
  if (f.wire == 0) {
    out.push_back(static_cast<int64_t>(f.value));
  } else if (f.wire == 2) {
    Reader r{reinterpret_cast<const uint8_t*>(f.payload.data()),
             reinterpret_cast<const uint8_t*>(f.payload.data()) + f.payload.size()};
    while (r.p < r.end) {
      uint64_t v;
      if (!r.varint(v)) decline();
      out.push_back(static_cast<int64_t>(v));
    }
  } else {
    decline();
  }
}

Tensor parse_tensor(std::string_view bytes) {
  Tensor t;
  int data_types = 0, names = 0;
  each(bytes, [&](const Field& f) {
    switch (f.number) {
      case 1: read_packed_or_not(f, t.dims); break;
      case 2:
        if (f.wire != 0) decline();
        t.elem = static_cast<int64_t>(static_cast<int32_t>(f.value));
        ++data_types;
        break;
      case 7: read_packed_or_not(f, t.int64_data); break;
      case 8:
        if (f.wire != 2) decline();
        t.name = f.payload;
        ++names;
        break;
      case 9:
        if (f.wire != 2 || t.has_raw) decline();
        t.has_raw = true;
        t.raw = f.payload;
        break;
      case 12: break;  // doc_string
      case 3: case 4: case 5: case 6: case 10: case 11: case 13: case 14: case 16:
        t.other_data = true;  // other data, a segment, external data or its location
        break;
      default:
        decline();
    }
  });
  if (data_types > 1 || names > 1) decline();
  return t;
}

// The element count of a constant whose values are read here (at most 2^20; declined
// beyond, or for a negative dim).
int64_t read_count(const Tensor& t) {
  int64_t count = 1;
  for (int64_t d : t.dims) {
    if (d < 0 || d > (1 << 20)) decline();
    count *= d;
    if (count > (1 << 20)) decline();
  }
  return count;
}

// An INT64 tensor's values, as ONNX's ParseData<int64_t> reads them; declined where it
// would fail or read anything else.
std::vector<int64_t> int64_values(const Tensor& t) {
  if (t.elem != 7 || t.other_data) decline();
  const int64_t count = read_count(t);
  std::vector<int64_t> values;
  if (t.has_raw) {
    if (!t.int64_data.empty() || t.raw.size() != static_cast<size_t>(count) * 8) decline();
    values.resize(static_cast<size_t>(count));
    if (count) std::memcpy(values.data(), t.raw.data(), t.raw.size());
  } else {
    if (static_cast<int64_t>(t.int64_data.size()) != count) decline();
    values = t.int64_data;
  }
  return values;
}

// A FLOAT tensor's values held in raw_data, as ONNX's ParseData<float> reads them (an empty
// tensor: none); declined where they are held otherwise or would not be read.
std::vector<float> float_values(const Tensor& t) {
  if (t.elem != 1 || t.other_data) decline();
  const int64_t count = read_count(t);
  std::vector<float> values;
  if (!t.has_raw) {
    if (count != 0) decline();  // (float_data: not read here)
    return values;
  }
  if (t.raw.size() != static_cast<size_t>(count) * 4) decline();
  values.resize(static_cast<size_t>(count));
  if (count) std::memcpy(values.data(), t.raw.data(), t.raw.size());
  return values;
}

Attribute parse_attribute(std::string_view bytes) {
  Attribute a;
  int names = 0;
  each(bytes, [&](const Field& f) {
    switch (f.number) {
      case 1:
        if (f.wire != 2) decline();
        a.name = f.payload;
        ++names;
        break;
      case 3:
        if (f.wire != 0 || a.has_i) decline();
        a.has_i = true;
        a.i = static_cast<int64_t>(f.value);
        break;
      case 5:
        if (f.wire != 2 || a.has_t) decline();
        a.has_t = true;
        a.t = f.payload;
        break;
      case 8:
        a.has_ints = true;
        read_packed_or_not(f, a.ints);
        break;
      case 6:
        if (f.wire != 2 || a.has_g) decline();
        a.has_g = true;
        a.g = f.payload;
        break;
      case 4:
        if (f.wire != 2 || a.has_s) decline();
        a.has_s = true;
        a.s = f.payload;
        break;
      case 20:
        if (f.wire != 0) decline();
        a.type = static_cast<int64_t>(f.value);
        break;
      case 2:
        if (f.wire != 5 || a.has_f) decline();
        a.has_f = true;
        break;
      case 7: case 9: case 13: case 14: case 15: case 23: break;  // other values
      default:
        decline();  // graphs, a reference to a function's attribute, ...
    }
  });
  if (names != 1) decline();
  return a;
}

Node parse_node(std::string_view bytes) {
  Node n;
  int ops = 0, domains = 0;
  size_t inputs = 0, outputs = 0, attributes = 0;  // (each vector allocated once)
  each(bytes, [&](const Field& f) {
    inputs += f.number == 1;
    outputs += f.number == 2;
    attributes += f.number == 5;
  });
  n.inputs.reserve(inputs);
  n.outputs.reserve(outputs);
  n.attributes.reserve(attributes);
  each(bytes, [&](const Field& f) {
    if (f.wire != 2) decline();
    switch (f.number) {
      case 1: n.inputs.push_back(f.payload); break;
      case 2: n.outputs.push_back(f.payload); break;
      case 3: n.name = f.payload, n.has_name = true; break;
      case 6: break;  // doc_string
      case 4: n.op = f.payload; ++ops; break;
      case 5: n.attributes.push_back(parse_attribute(f.payload)); break;
      case 7: n.domain = f.payload; ++domains; break;
      default: decline();  // overload, metadata, device configurations: not modelled
    }
  });
  if (ops != 1 || domains > 1) decline();
  return n;
}

ValueInfo parse_value_info(std::string_view bytes) {
  ValueInfo v;
  v.whole = bytes;
  int names = 0, types = 0;
  each(bytes, [&](const Field& f) {
    if (f.wire != 2) decline();
    if (f.number == 1) v.name = f.payload, ++names;
    else if (f.number == 2) v.type = f.payload, ++types;
    else if (f.number != 3) decline();  // doc_string only
  });
  if (names != 1 || types > 1) decline();
  v.has_type = types == 1;
  return v;
}

// Elementwise ops whose output is their input's type (onnx's
// propagateShapeAndTypeFromFirstInput) that take attributes: the opset that defines each
// first, and its attributes (FLOAT ones; Gelu's `approximate`, a STRING), which inference
// does not read.
struct Activation {
  std::string_view op;
  int64_t since;
  std::initializer_list<std::string_view> floats;
  std::string_view text;  // a STRING attribute's name, or empty
};

const Activation* activation(std::string_view op) {
  static const Activation table[] = {
      {"LeakyRelu", 6, {"alpha"}, {}},
      {"Elu", 6, {"alpha"}, {}},
      {"Selu", 6, {"alpha", "gamma"}, {}},
      {"HardSigmoid", 6, {"alpha", "beta"}, {}},
      {"ThresholdedRelu", 10, {"alpha"}, {}},
      {"Celu", 12, {"alpha"}, {}},
      {"Softplus", 1, {}, {}},
      {"Softsign", 1, {}, {}},
      {"HardSwish", 14, {}, {}},
      {"Mish", 18, {}, {}},
      {"Sin", 7, {}, {}},
      {"Cos", 7, {}, {}},
      {"Tan", 7, {}, {}},
      {"Asin", 7, {}, {}},
      {"Acos", 7, {}, {}},
      {"Atan", 7, {}, {}},
      {"Sinh", 9, {}, {}},
      {"Cosh", 9, {}, {}},
      {"Asinh", 9, {}, {}},
      {"Acosh", 9, {}, {}},
      {"Atanh", 9, {}, {}},
      {"Shrink", 9, {"bias", "lambd"}, {}},
      {"Swish", 24, {"alpha"}, {}},
      {"BitwiseNot", 18, {}, {}},
      {"Gelu", 20, {}, "approximate"},
  };
  for (const Activation& a : table) {
    if (a.op == op) return &a;
  }
  return nullptr;
}

// The default-domain ops `Inference::infer` models.
// The first opset with a schema of each modelled default-domain op defined after kMinOpset
// (`onnx.defs.get_all_schemas_with_history()`); below it the op has no schema, and ONNX's
// inference leaves its outputs untyped and ignores later errors, as for a custom domain's
// (an onnxruntime-fused export of opset 14 writes LayerNormalization, defined at 17).
int64_t introduced(std::string_view op) {
  if (op == "LayerNormalization") return 17;
  if (op == "RMSNormalization") return 23;
  if (op == "Trilu") return 14;
  if (op == "IsInf") return 10;
  if (op == "Einsum" || op == "LessOrEqual" || op == "GreaterOrEqual") return 12;
  if (op == "CumSum") return 11;
  if (const Activation* a = activation(op)) return a->since;
  return 1;
}

// The reductions of onnx's ReduceOpGenerator (axes an attribute, then an input).
bool reduction(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {
      "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
      "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"};
  return ops.count(op) != 0;
}

// Whether `op` at `opset` is one whose inference at opsets 11 and 12 (its schema of
// defs/*/old.cc in onnx 1.23) is not the one of opset 13 modelled here: If-11 (its own type
// checks and union of the branches' types, not modelled), declined below 13. The others
// infer alike there (the same function, or one that differs only as the code says:
// Softmax's default axis, a Transpose without dims, Gemm's rank-2 inputs, Squeeze and
// Unsqueeze of an `axes` attribute, ReduceSum's axes attribute, Slice-11's dims of 0,
// Expand-8's constant shape, Split-11's `split` attribute, ArgMax-11 and ArgMin-11 without
// `select_last_index`, Resize-11 with both sizes and scales or neither, Dropout-10's `ratio`
// attribute, GatherND-11 without `batch_dims`, Q/DQ-10 without `axis`, and no data
// propagation but Shape's and Gather's). MaxPool-11's convPoolShapeInference_opset1_to_11
// gives what opset 12's does: the kernel_shape size it checks first makes the one check
// the newer adds unreachable.
bool changed_at_13(std::string_view op, int64_t opset) {
  return opset < 13 && op == "If";
}

bool modelled(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {
      "Relu", "Erf", "Sqrt", "Exp", "Log", "Tanh", "Sigmoid", "Neg", "Abs", "Reciprocal",
      "Floor", "Ceil", "Identity", "Add", "Sub", "Mul", "Div", "Pow", "Softmax", "MatMul", "Transpose",
      "Concat", "Expand", "Where", "Trilu", "Split", "Equal", "Less", "Greater", "LessOrEqual",
      "GreaterOrEqual", "And", "Or", "Xor", "Min", "Max", "GatherElements", "Flatten", "Gemm",
      "ConstantOfShape", "Range", "MatMulInteger", "DynamicQuantizeLinear", "MaxPool",
      "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ArgMax", "ArgMin",
      "BatchNormalization", "InstanceNormalization", "Not", "Sign", "Round", "Tile", "Pad", "Resize", "TopK", "RoiAlign", "NonZero", "ScatterElements",
      "Mod", "BitShift", "GatherND", "NonMaxSuppression", "Sum", "Mean", "LogSoftmax", "Hardmax",
      "CumSum", "PRelu", "Dropout", "IsNaN", "IsInf", "LRN", "ConvTranspose", "DepthToSpace",
      "SpaceToDepth", "LpNormalization", "ScatterND", "RMSNormalization", "Einsum",
      "Reshape", "ReduceMean", "Cast", "Constant", "If", "QuantizeLinear",
      "DequantizeLinear", "Conv", "Clip", "Gather", "LayerNormalization", "Unsqueeze",
      "Squeeze", "Slice", "Shape", "ReduceSum"};
  return ops.count(op) != 0 || reduction(op) || activation(op) != nullptr;
}

// Every op of the default domain onnx 1.23 has a schema for, at some opset
// (`onnx.defs.get_all_schemas_with_history()`; `tests/perf/test_native_inference.py` holds
// the list equal to it). A node of any other op type in the default domain has no schema:
// ONNX's inference leaves its outputs untyped and ignores later errors, as for a custom
// domain's (one of these ops not modelled is declined, whatever the opset).
const std::unordered_set<std::string_view>& onnx_ops() {
  static const std::unordered_set<std::string_view> ops = {
      "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin",
      "Asinh", "Atan", "Atanh", "Attention", "AveragePool", "BatchNormalization",
      "Bernoulli", "BitCast", "BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr",
      "BitwiseXor", "BlackmanWindow", "Cast", "CastLike", "CausalConvWithState", "Ceil",
      "Celu", "CenterCropPad", "Clip", "Col2Im", "Compress", "Concat", "ConcatFromSequence",
      "Constant", "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh",
      "CumProd", "CumSum", "DFT", "DeformConv", "DepthToSpace", "DequantizeLinear", "Det",
      "Div", "Dropout", "DynamicQuantizeLinear", "Einsum", "Elu", "Equal", "Erf", "Exp",
      "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements",
      "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool",
      "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "HammingWindow",
      "HannWindow", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If", "ImageDecoder",
      "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LayerNormalization",
      "LeakyRelu", "Less", "LessOrEqual", "LinearAttention", "Log", "LogSoftmax", "Loop",
      "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool",
      "MaxRoiPool", "MaxUnpool", "Mean", "MeanVarianceNormalization", "MelWeightMatrix",
      "Min", "Mish", "Mod", "Mul", "Multinomial", "Neg", "NegativeLogLikelihoodLoss",
      "NonMaxSuppression", "NonZero", "Not", "OneHot", "Optional", "OptionalGetElement",
      "OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv", "QLinearMatMul",
      "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike",
      "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2",
      "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
      "ReduceProd", "ReduceSum", "ReduceSumSquare", "RegexFullMatch", "Relu", "Reshape",
      "Resize", "ReverseSequence", "RoiAlign", "RotaryEmbedding", "Round", "STFT", "Scan",
      "Scatter", "ScatterElements", "ScatterND", "Selu", "SequenceAt", "SequenceConstruct",
      "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap",
      "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax",
      "SoftmaxCrossEntropyLoss", "Softplus", "Softsign", "SpaceToDepth", "Split",
      "SplitToSequence", "Sqrt", "Squeeze", "StringConcat", "StringNormalizer",
      "StringSplit", "Sub", "Sum", "SwiGLU", "Swish", "Tan", "Tanh", "TensorScatter",
      "TfIdfVectorizer", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unique",
      "Unsqueeze", "Upsample", "Where", "Xor"};
  return ops;
}

bool onnx_op(std::string_view op) { return onnx_ops().count(op) != 0; }

// The domains ONNX defines schemas for: a node of any other (imported) domain has none.
bool onnx_domain(std::string_view domain) {
  return domain.empty() || domain == "ai.onnx" || domain == "ai.onnx.ml" ||
         domain == "ai.onnx.preview.training" || domain == "ai.onnx.training" ||
         domain == "ai.onnx.preview";
}

// Bodies nested deeper than this are declined.
constexpr int kMaxBodyDepth = 8;

Node parse_node_deep(std::string_view bytes, int depth);

// An If's branch (a GraphProto): declined where it holds what is not modelled in a body —
// inputs, initializers, value_info, a node of an op or domain not modelled.
Body parse_body(std::string_view attribute, std::string_view graph, int depth) {
  if (depth > kMaxBodyDepth) decline();
  Body body;
  body.attribute = attribute;
  each(graph, [&](const Field& f) {
    if (f.wire != 2) decline();
    switch (f.number) {
      case 1: body.nodes.push_back(parse_node_deep(f.payload, depth)); break;
      case 12: body.outputs.push_back(parse_value_info(f.payload)); break;
      case 2: case 10: break;  // name, doc_string
      default: decline();  // inputs, initializers, value_info, ...
    }
  });
  for (const Node& n : body.nodes) {
    if (!n.domain.empty() || !modelled(n.op)) decline();
  }
  return body;
}

// `parse_node`, with an If's branches parsed into `bodies` (`depth`: the nesting of the
// graph the node is in).
Node parse_node_deep(std::string_view bytes, int depth) {
  Node n = parse_node(bytes);
  bool graphs = false;
  for (const Attribute& a : n.attributes) graphs = graphs || a.has_g;
  if (n.op != "If" || !n.domain.empty()) {
    if (graphs) decline();
    return n;
  }
  if (n.attributes.size() != 2) decline();
  for (const Attribute& a : n.attributes) {
    if (!a.has_g || a.type != 5 || a.has_i || a.has_t || a.has_ints) decline();
    if (a.name != "then_branch" && a.name != "else_branch") decline();
  }
  if (n.attributes[0].name == n.attributes[1].name) decline();
  for (const Attribute& a : n.attributes) n.bodies.push_back(parse_body(a.name, a.g, depth + 1));
  return n;
}

// -- inference -------------------------------------------------------------------------------
class Inference {
 public:
  Inference(std::vector<ValueInfo> inputs, std::vector<ValueInfo> outputs,
            std::vector<ValueInfo> value_info, std::vector<Tensor> inits, int64_t opset,
            int64_t ir_version, std::unordered_set<std::string_view> foreign_domains,
            size_t expected_names, bool data_prop, bool strict)
      : inputs_(std::move(inputs)), outputs_(std::move(outputs)),
        value_info_(std::move(value_info)), inits_(std::move(inits)), opset_(opset),
        foreign_(std::move(foreign_domains)), data_prop_(data_prop), strict_(strict) {
    ids_.reserve(expected_names);
    slots_.reserve(expected_names);
    scopes_.emplace_back();  // the graph's
    for (const ValueInfo& v : inputs_) collect_symbols(v, true);
    for (const ValueInfo& v : outputs_) collect_symbols(v, true);
    for (const ValueInfo& v : value_info_) collect_symbols(v, true);
    for (const ValueInfo& v : inputs_) {
      Slot& slot = slots_[id(v.name)];
      if (!v.has_type || slot.defined) decline();
      slot.type = parse_declared(v.type);
      slot.defined = true;
    }
    declare_outputs(outputs_, 0);
    declare_value_info();
    for (const Tensor& t : inits_) {
      Slot& slot = slots_[id(t.name)];
      if (t.elem <= 0 || slot.output >= 0 || slot.data) decline();
      Type type;
      type.known = true;
      type.elem = t.elem;
      type.has_shape = true;
      for (int64_t d : t.dims) {
        Dim dim;
        dim.kind = Dim::kValue;
        dim.value = d;
        type.dims.push_back(dim);
      }
      slot.data = &t;
      if (slot.defined || slot.declared >= 0) {  // a graph input or value_info: it must agree
        check_compatible(type, slot.type);
        slot.defined = true;
      } else {
        if (ir_version < 4) decline();
        slot.type = std::move(type);
        slot.defined = true;
      }
    }
  }

  void run(std::vector<Node>& nodes) {
    collect_body_symbols(nodes);
    run_nodes(nodes);
  }

  // The "inferred model": its nodes' op types, inputs, outputs and value_info (what
  // `_speculation.model_types` reads).
  std::string result(const std::vector<Node>& nodes) const {
    std::string graph;
    graph.reserve(scopes_[0].added.size() * 64 + nodes.size() * 16);
    put_nodes(graph, nodes);
    for (const ValueInfo& v : inputs_) put_named(graph, 11, v.name, v.type);
    put_outputs_and_value_info(graph, outputs_, 0);
    std::string model;
    put_field(model, 7, graph);
    return model;
  }

 private:
  static constexpr uint32_t kNoName = 0xFFFFFFFFu;

  struct Slot {  // what ONNX's maps hold for one name
    Type type;
    const Tensor* data = nullptr;  // an initializer's or a Constant's value
    int32_t output = -1;           // its index among the graph outputs
    int32_t declared = -1;         // its index among the graph's value_info (merged into)
    bool in_value_info = false;    // a value_info entry names it
    bool defined = false;          // a graph input or an initializer
    bool produced = false;         // a node's output
    int32_t scope = 0;             // the graph it belongs to (`scopes_`): 0, or an If's branch
    // the values data propagation made for it (ONNX's generatedShapeData: a dim value, a
    // dim_param or unknown each), their index in `values_`, or -1
    int32_t generated = -1;
  };

  struct Scope {  // a graph being inferred: the top-level one (0), or an If's branch
    int parent = -1;
    std::vector<Type> output_types;  // its outputs' (declared, then merged) types
    std::vector<uint32_t> added;     // its value_info, in ONNX's order
    bool failed = false;             // a node's inference failed (a branch: its If fails)
  };

  // The outputs `outputs` of graph `scope` declared: typed ones readable before they are
  // produced (in that graph), as in ONNX.
  void declare_outputs(const std::vector<ValueInfo>& outputs, int scope) {
    scopes_[scope].output_types.resize(outputs.size());
    for (size_t k = 0; k < outputs.size(); ++k) {
      const ValueInfo& v = outputs[k];
      Slot& slot = slots_[id(v.name)];
      if (slot.defined || slot.produced || slot.output >= 0) decline();
      slot.output = static_cast<int32_t>(k);
      slot.scope = scope;
      if (v.has_type) {
        scopes_[scope].output_types[k] = parse_declared(v.type);
        slot.type = scopes_[scope].output_types[k];
      }
    }
  }

  // The graph's value_info declared, as ONNX's maps hold it: each entry's type readable from
  // the start and merged into where a node infers its name (`update`), unless a graph input
  // or output of that name declares it (ONNX's map then holds theirs: the entry is left as it
  // is). An initializer of that name is checked against it and read as it declares. An entry
  // without a type, or named as another entry, is not modelled.
  void declare_value_info() {
    declared_.reserve(value_info_.size());
    for (const ValueInfo& v : value_info_) {
      if (!v.has_type || v.name.empty()) decline();
      const Type& type = declared_.emplace_back(parse_declared(v.type));
      Slot& slot = slots_[id(v.name)];
      if (slot.in_value_info) decline();
      slot.in_value_info = true;
      // (inputs and outputs are declared first; an output declared without a type is not in
      // ONNX's map of types: the entry is)
      if (slot.defined || (slot.output >= 0 && scopes_[0].output_types[slot.output].known)) {
        continue;
      }
      slot.declared = static_cast<int32_t>(declared_.size() - 1);
      slot.type = type;
    }
  }

  // The symbols the branches' declared outputs hold (ONNX's symbol table is filled from the
  // whole model, its bodies included, before inference).
  void collect_body_symbols(const std::vector<Node>& nodes) {
    for (const Node& n : nodes) {
      for (const Body& body : n.bodies) {
        for (const ValueInfo& v : body.outputs) collect_symbols(v);
        collect_body_symbols(body.nodes);
      }
    }
  }

  void run_nodes(std::vector<Node>& nodes) {
    for (Node& n : nodes) {
      n.in.reserve(n.inputs.size());
      n.out.reserve(n.outputs.size());
      for (std::string_view name : n.inputs) n.in.push_back(name.empty() ? kNoName : id(name));
      for (std::string_view name : n.outputs) n.out.push_back(name.empty() ? kNoName : id(name));
      node(n);
    }
  }

  // Whether the graph being inferred sees `slot`: its own names and its enclosing graphs'.
  bool visible(const Slot& slot) const {
    for (int scope = current_; scope >= 0; scope = scopes_[scope].parent) {
      if (slot.scope == scope) return true;
    }
    return false;
  }

  void put_nodes(std::string& graph, const std::vector<Node>& nodes) const {
    std::string node;
    for (const Node& n : nodes) {
      node.clear();
      put_field(node, 4, n.op);
      for (const Body& body : n.bodies) {  // an If's branches, as graph attributes
        std::string attribute, branch;
        put_field(attribute, 1, body.attribute);
        put_nodes(branch, body.nodes);
        if (body.scope >= 0) {
          put_outputs_and_value_info(branch, body.outputs, body.scope);
        } else {  // not inferred (the then branch failed first): as declared
          for (const ValueInfo& v : body.outputs) put_field(branch, 12, v.whole);
        }
        put_field(attribute, 6, branch);
        put_tag(attribute, 20, 0);
        put_varint(attribute, 5);  // GRAPH
        put_field(node, 5, attribute);
      }
      put_field(graph, 1, node);
    }
  }

  void put_outputs_and_value_info(std::string& graph, const std::vector<ValueInfo>& outputs,
                                  int scope) const {
    std::string scratch;
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Type& type = scopes_[scope].output_types[k];
      if (!type.known) {
        scratch.clear();
        put_field(scratch, 1, outputs[k].name);
        put_field(graph, 12, scratch);
      } else {
        put_named(graph, 12, outputs[k].name, type);
      }
    }
    if (scope == 0) {  // the declared entries (merged), then those inference added
      for (size_t k = 0; k < value_info_.size(); ++k) {
        put_named(graph, 13, value_info_[k].name, declared_[k]);
      }
    }
    for (uint32_t at : scopes_[scope].added) {
      put_named(graph, 13, names_[at], slots_[at].type);
    }
  }

  uint32_t id(std::string_view name) {
    size_t at = ids_.number(name, slots_.size());
    if (at == slots_.size()) {
      slots_.emplace_back();
      names_.push_back(name);
    }
    return static_cast<uint32_t>(at);
  }

  // Appends field `field` holding a ValueInfoProto of `name` and the serialized `type`.
  static void put_named(std::string& out, uint32_t field, std::string_view name,
                        std::string_view type) {
    put_tag(out, field, 2);
    put_varint(out, field_size(name.size()) + field_size(type.size()));
    put_field(out, 1, name);
    put_field(out, 2, type);
  }

  // Appends field `field` holding a ValueInfoProto of `name` and `type` (as `serialize_to`).
  static void put_named(std::string& out, uint32_t field, std::string_view name,
                        const Type& type) {
    put_tag(out, field, 2);
    put_varint(out, field_size(name.size()) + field_size(serialized_size(type)));
    put_field(out, 1, name);
    put_tag(out, 2, 2);
    put_varint(out, serialized_size(type));
    serialize_to(out, type);
  }

  // The made-up names (`unk__<n>`, the only ones `new_symbol` asks about) that `v` declares
  // dims of. `parsed_later`: the graph declares `v` itself, parsing its type (a type whose
  // bytes do not hold the prefix is then not parsed here: 100,000 declarations of an LLM).
  void collect_symbols(const ValueInfo& v, bool parsed_later = false) {
    if (!v.has_type) return;
    if (parsed_later && v.type.find(kMadeUp) == std::string_view::npos) return;
    for (const Dim& d : parse_declared(v.type).dims) {
      if (d.kind == Dim::kParam && d.param.substr(0, kMadeUp.size()) == kMadeUp) {
        symbols_.insert(d.param);
      }
    }
  }

  static constexpr std::string_view kMadeUp = "unk__";

  std::string_view new_symbol() {
    for (;;) {
      std::string name = std::string(kMadeUp) + std::to_string(next_symbol_++);
      if (symbols_.count(name)) continue;
      std::string_view made = generated_.emplace_back(std::move(name));
      symbols_.insert(made);
      return made;
    }
  }

  // ONNX's checkShapesAndTypes between an inferred and an existing type: where it would
  // fail, the run would fail.
  static bool compatible(const Type& inferred, const Type& existing) {
    return merge_error(inferred, existing).empty();
  }

  static void check_compatible(const Type& inferred, const Type& existing) {
    if (!compatible(inferred, existing)) decline();
  }

  // ONNX's UpdateType: unknown dims get new symbols; a declared graph output is merged.
  // False where the merge fails (an error of the node).
  bool update(uint32_t at, Type type, const Node& n) {
    if (!type.known) return true;
    for (Dim& d : type.dims) {
      if (d.kind == Dim::kNone) {
        d.kind = Dim::kParam;
        d.param = new_symbol();
      }
    }
    Slot& slot = slots_[at];
    std::vector<Type>& output_types = scopes_[slot.scope].output_types;
    Type* declared = nullptr;  // the type a graph output or a value_info entry declares
    if (slot.output >= 0 && output_types[slot.output].known) declared = &output_types[slot.output];
    if (slot.declared >= 0) declared = &declared_[slot.declared];
    if (declared) {
      Type& existing = *declared;
      if (std::string error = merge_error(type, existing); !error.empty()) {
        failed(n, std::move(error));  // an error of the node (after its dims were named)
        return false;
      }
      if (existing.has_shape && type.has_shape) {
        for (size_t k = 0; k < type.dims.size(); ++k) {
          Dim& e = existing.dims[k];
          if (e.kind == Dim::kNone || type.dims[k].kind == Dim::kValue) e = type.dims[k];
        }
      } else if (type.has_shape) {
        existing.has_shape = true;
        existing.dims = type.dims;
      }
      slot.type = existing;
      return true;
    }
    if (slot.output >= 0) output_types[slot.output] = type;  // declared without a type
    slot.type = std::move(type);
    scopes_[current_].added.push_back(at);
    return true;
  }

  const Type* input_type(const Node& n, size_t k) const {
    if (k >= n.in.size() || n.in[k] == kNoName) return nullptr;
    const Slot& slot = slots_[n.in[k]];
    return slot.type.known && visible(slot) ? &slot.type : nullptr;
  }

  const Tensor* input_data(const Node& n, size_t k) const {
    if (k >= n.in.size() || n.in[k] == kNoName) return nullptr;
    const Slot& slot = slots_[n.in[k]];
    // an enclosing graph's constant: ONNX gives a branch no values of its scope
    if (slot.data && slot.scope != current_) decline();
    return slot.data;
  }

  // onnx's getShapeInput: the values of input `k` read as a shape — a constant's, else what
  // data propagation made for it, else, for a rank-1 tensor of a static dim, that many
  // unknown values (none beyond kMaxMaterializedRank) — in `out`; false for none. A shape of
  // another rank fails the node.
  bool shape_input(const Node& n, size_t k, std::vector<Dim>& out) const {
    out.clear();
    if (const Tensor* data = input_data(n, k)) {
      for (int64_t v : int64_values(*data)) {
        Dim& d = out.emplace_back();
        d.kind = Dim::kValue;
        d.value = v;
      }
      return true;
    }
    if (data_prop_ && k < n.in.size() && n.in[k] != kNoName && slots_[n.in[k]].generated >= 0) {
      if (current_ != 0) decline();  // (what a branch sees of them: not modelled)
      out = values_[slots_[n.in[k]].generated];
      return true;
    }
    const Type* t = input_type(n, k);
    if (!has_shape(t)) return false;
    if (t->dims.size() != 1) throw Failed{};
    if (t->dims[0].kind != Dim::kValue) return false;
    if (t->dims[0].value < 0) return false;
    // (beyond the bound ONNX gives no shape, unless data propagation read the tensor before
    // and noted that many unknown values for it: not modelled)
    if (t->dims[0].value > kMaxMaterializedRank) decline();
    out.resize(static_cast<size_t>(t->dims[0].value));
    return true;
  }

  // The length of the values ONNX's data propagation reads for input `k`
  // (DataPropagationContext::getInputData), or -1 for none: what a propagation made for it;
  // else a constant's (INT32 and INT64 of rank 0 or 1: their elements; a constant of another
  // type: none); else, for a rank-1 tensor of a static dim, that many unknown values.
  int64_t data_length(const Node& n, size_t k) const {
    if (k >= n.in.size() || n.in[k] == kNoName) return -1;
    const Slot& slot = slots_[n.in[k]];
    if (slot.generated >= 0) return static_cast<int64_t>(values_[slot.generated].size());
    // an enclosing graph's constant, read in a branch: ONNX's branch sees no value of it but
    // what its map of propagated values holds, and notes unknown values for it there, which
    // later readers of the enclosing graph see too (not modelled)
    if (slot.data && slot.scope != current_) decline();
    if (slot.data && slot.data->dims.size() <= 1) {
      if (slot.data->elem != 6 && slot.data->elem != 7) return -1;
      return slot.data->dims.empty() ? 1 : slot.data->dims[0];
    }
    const Type* t = input_type(n, k);
    if (has_shape(t) && t->dims.size() == 1 && t->dims[0].kind == Dim::kValue) {
      return t->dims[0].value;
    }
    return -1;
  }

  // The values `data_length` counts (false for none): a constant's INT64 values (an INT32
  // constant's are declined), or unknown values.
  bool data_values(const Node& n, size_t k, std::vector<Dim>& out) const {
    out.clear();
    const int64_t length = data_length(n, k);
    if (length < 0) return false;
    const Slot& slot = slots_[n.in[k]];
    if (slot.generated >= 0) {
      out = values_[slot.generated];
    } else if (slot.data && slot.data->dims.size() <= 1) {
      for (int64_t v : int64_values(*slot.data)) {
        Dim& d = out.emplace_back();
        d.kind = Dim::kValue;
        d.value = v;
      }
    } else {
      if (length > kMaxValues) decline();
      out.resize(static_cast<size_t>(length));
    }
    return true;
  }

  // What a node's data propagation gives its output (ONNX's addOutputData).
  void propagate(std::vector<Dim> values) const {
    propagated_ = true;
    propagated_values_ = std::move(values);
  }

  // onnx's PropagateShapeDataFromInputToOutput: the first input's values, if any, passed on.
  void pass_values_on(const Node& n) const {
    std::vector<Dim> values;
    if (data_values(n, 0, values)) propagate(std::move(values));
  }

  // propagateElemTypeFromInputToOutput(ctx, k, 0)
  Type elem_from(const Node& n, size_t k) const {
    const Type* t = input_type(n, k);
    if (!t) throw Failed{};
    Type out;
    out.known = true;
    out.elem = t->elem;
    return out;
  }

  static bool has_shape(const Type* t) { return t && t->has_shape; }

  // onnx's MatMulShapeInference: numpy's matmul of a and b's shapes, into `out` (nothing
  // where either has no shape).
  static void matmul_shape(const Type* a, const Type* b, Type& out) {
    if (!has_shape(a) || !has_shape(b)) return;
    if (a->dims.empty() || b->dims.empty()) throw Failed{};
    std::vector<Dim> left, right;
    if (a->dims.size() == 1) {
      Dim one;
      one.kind = Dim::kValue;
      one.value = 1;
      left.push_back(one);
      left.push_back(a->dims[0]);
    } else {
      left = a->dims;
    }
    if (b->dims.size() == 1) {
      Dim one;
      one.kind = Dim::kValue;
      one.value = 1;
      right.push_back(b->dims[0]);
      right.push_back(one);
    } else {
      right = b->dims;
    }
    const Dim &l = left[left.size() - 1], &r = right[right.size() - 2];
    if (l.kind == Dim::kValue && r.kind == Dim::kValue && l.value != r.value) throw Failed{};
    std::vector<Dim> prefix_l(left.begin(), left.end() - 2), prefix_r(right.begin(), right.end() - 2);
    out.has_shape = true;
    broadcast(prefix_l, prefix_r, out.dims);
    if (a->dims.size() != 1) out.dims.push_back(left[left.size() - 2]);
    if (b->dims.size() != 1) out.dims.push_back(right[right.size() - 1]);
  }

  static void broadcast(const std::vector<Dim>& a, const std::vector<Dim>& b, std::vector<Dim>& out) {
    broadcast_all({&a, &b}, out);
  }

  // onnx's multidirectionalBroadcastShapeInference
  static void broadcast_all(const std::vector<const std::vector<Dim>*>& shapes,
                            std::vector<Dim>& out) {
    size_t rank = 0;
    for (const std::vector<Dim>* shape : shapes) rank = std::max(rank, shape->size());
    for (size_t i = 0; i < rank; ++i) {
      int64_t value = 1;
      const Dim* symbolic = nullptr;
      int symbolic_count = 0;
      for (const std::vector<Dim>* shape : shapes) {
        if (i < rank - shape->size()) continue;
        const Dim& d = (*shape)[i - (rank - shape->size())];
        if (d.kind == Dim::kValue) {
          if (d.value != 1) {
            if (value != d.value && value != 1) throw Failed{};
            value = d.value;
          }
        } else if (symbolic_count == 0) {
          symbolic = &d;
          ++symbolic_count;
        } else if (d.param != symbolic->param) {
          ++symbolic_count;
        }
      }
      Dim dim;
      if (value != 1 || symbolic_count == 0) {
        dim.kind = Dim::kValue;
        dim.value = value;
      } else if (symbolic_count == 1) {
        dim = *symbolic;
      }
      out.push_back(std::move(dim));
    }
  }

  void count(const Node& n, size_t min_in, size_t max_in, size_t outputs) const {
    if (n.inputs.size() < min_in || n.inputs.size() > max_in || n.outputs.size() != outputs) {
      decline();
    }
    for (size_t k = 0; k < min_in; ++k) {
      if (n.inputs[k].empty()) decline();
    }
    if (n.outputs[0].empty()) decline();
  }

  // QuantizeLinear and DequantizeLinear (onnx's functions of opsets 10 to 28): the output
  // has the data's shape; its element type is the zero point's (Q; UINT8 without one), FLOAT
  // (DQ below 19) or the scale's (DQ). An `output_dtype` attribute, a zero point given without
  // a type (ONNX then leaves the output's element type unset), an attribute this opset does
  // not define: declined.
  Type quantize_linear(const Node& n) const {
    const bool quantize = n.op == "QuantizeLinear";
    count(n, 2, 3, 1);
    for (const Attribute& a : n.attributes) {
      const bool defined = (a.name == "axis" && opset_ >= 13) ||  // (Q/DQ-10: no axis)
                           (a.name == "saturate" && quantize && opset_ >= 19) ||
                           (a.name == "block_size" && opset_ >= 21);
      if (!defined || !a.has_i || a.type != 2) decline();
      n.attribute(a.name);  // (declines a name given twice)
    }
    const bool zero_point = n.inputs.size() > 2 && !n.inputs[2].empty();
    Type out;
    if (quantize) {
      out.known = true;
      if (zero_point) {
        const Type* type = input_type(n, 2);
        if (!type) decline();
        out.elem = type->elem;
      } else {
        out.elem = 2;  // UINT8
      }
    } else if (opset_ < 19) {
      out.known = true;
      out.elem = 1;  // FLOAT
    } else {
      if (untyped(n, 1)) return {};
      out = elem_from(n, 1);
    }
    const Type* in = input_type(n, 0);
    if (has_shape(in)) {
      out.has_shape = true;
      out.dims = in->dims;
    }
    return out;
  }

  // An INTS attribute's values (`getRepeatedAttribute`), or false where the node has none;
  // declined where it has another type.
  static bool ints_attribute(const Node& n, std::string_view name, std::vector<int64_t>& out) {
    const Attribute* a = n.attribute(name);
    if (!a) return false;
    if (a->type != 7 || a->has_i || a->has_t || a->has_s) decline();
    out = a->ints;
    return true;
  }

  // An INTS attribute of one positive value per spatial dim (dilations, strides), all 1s
  // where the node has none; a failure of the node otherwise.
  static std::vector<int64_t> positive_ints(const Node& n, std::string_view name, size_t spatial) {
    std::vector<int64_t> values;
    if (!ints_attribute(n, name, values)) return std::vector<int64_t>(spatial, 1);
    if (values.size() != spatial) throw Failed{};
    for (int64_t v : values) {
      if (v <= 0) throw Failed{};
    }
    return values;
  }

  // onnx's checkedAdd, checkedSubtract, checkedMultiply: an overflow fails the node.
  static int64_t add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) throw Failed{};
    return r;
  }
  static int64_t sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) throw Failed{};
    return r;
  }
  static int64_t mul(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) throw Failed{};
    return r;
  }

  // An auto_pad of SAME_UPPER (the larger half at the end) or SAME_LOWER (at the start):
  // `total` (not negative) split between spatial axis `i`'s two pads (others: none set).
  static void same_pads(std::string_view mode, int64_t total, size_t i, std::vector<int64_t>& pads) {
    const size_t spatial = pads.size() / 2;
    const int64_t small = total >> 1, big = total - small;
    if (mode == "SAME_UPPER") {
      pads[i] = small;
      pads[i + spatial] = big;
    } else if (mode == "SAME_LOWER") {
      pads[i] = big;
      pads[i + spatial] = small;
    }
  }

  // The attributes of a Conv (`transpose`: a ConvTranspose's, output_shape and
  // output_padding too) that are modelled, of their types: any other declined.
  static void conv_attributes(const Node& n, bool transpose) {
    for (const Attribute& a : n.attributes) {
      if (a.name == "group") {
        if (a.type != 2 || !a.has_i) decline();
      } else if (a.name == "auto_pad") {
        if (a.type != 3 || !a.has_s) decline();
      } else if (a.name != "kernel_shape" && a.name != "dilations" && a.name != "strides" &&
                 a.name != "pads" &&
                 !(transpose && (a.name == "output_shape" || a.name == "output_padding"))) {
        decline();
      }
      if (transpose) n.attribute(a.name);  // (declines a name given twice)
    }
  }

  // The kernel's spatial dims (`kernel_shape`, else the weight `w`'s dims after the first
  // two; a pool's w is null) and their extent dilated: false where a weight dim is not a
  // value (no shape); a size other than `spatial` or a dim not positive fails the node.
  static bool kernel_of(const Node& n, const Type* w, size_t spatial,
                        const std::vector<int64_t>& dilations, std::vector<int64_t>& effective) {
    std::vector<int64_t> kernel;
    if (ints_attribute(n, "kernel_shape", kernel)) {
      if (kernel.size() != spatial) throw Failed{};
    } else {
      if (!w) throw Failed{};  // (a pool's kernel_shape is required)
      for (size_t i = 2; i < w->dims.size(); ++i) {
        if (w->dims[i].kind != Dim::kValue) return false;
        kernel.push_back(w->dims[i].value);
      }
      if (kernel.size() != spatial) throw Failed{};
    }
    for (int64_t k : kernel) {
      if (k <= 0) throw Failed{};
    }
    effective.resize(spatial);
    for (size_t i = 0; i < spatial; ++i) effective[i] = add(mul(sub(kernel[i], 1), dilations[i]), 1);
    return true;
  }

  // Conv and ConvTranspose (`conv_transpose_shape`). Conv (onnx's convPoolShapeInference
  // and its opset-19 form, alike for Conv): batch from
  // the data, channels from the weight, each spatial dim from the input size, pads, dilated
  // kernel and stride where the input's is a value (else unknown).
  Type conv(const Node& n) const {
    count(n, 2, 3, 1);
    conv_attributes(n, n.op == "ConvTranspose");
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type *x = input_type(n, 0), *w = input_type(n, 1);
    if (!has_shape(x) || !has_shape(w)) return out;
    if (n.op == "ConvTranspose") {
      conv_transpose_shape(n, x, w, out);
    } else {
      conv_pool_shape(n, *x, w, true, out);
    }
    return out;
  }

  // Einsum (12: onnx's einsumShapeInference): the first input's element type; where every
  // input has a shape and the equation is not empty (spaces then left out), each term's letters
  // name its dims (an ellipsis the dims between, the first ellipsis's dims kept, a later
  // one's raising a 1 to its value), and the output is the right-hand side's labels, or
  // without one the ellipsis's dims and then the labels seen once, in ASCII order.
  Type einsum(const Node& n) const {
    if (n.inputs.empty() || n.outputs.size() != 1 || n.outputs[0].empty()) decline();
    for (const Attribute& a : n.attributes) {
      if (a.name != "equation" || a.type != 3 || !a.has_s) decline();
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Attribute* equation_attr = n.attribute("equation");
    if (!equation_attr || equation_attr->s.empty()) return out;  // (" " is inferred: as "")
    std::string equation;
    for (char c : equation_attr->s) {
      if (c != ' ') equation.push_back(c);
    }
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!has_shape(input_type(n, k))) return out;
    }
    auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    // a character the spec does not allow: onnx 1.23's run never ends on one in a term of the
    // left-hand side (".,"; `inference_guard` stops it), so none is modelled
    for (size_t i = 0; i < equation.size(); ++i) {
      const char c = equation[i];
      if (is_letter(c) || c == ',') continue;
      if (c == '-' && i + 1 < equation.size() && equation[i + 1] == '>') {
        ++i;
        continue;
      }
      if (equation.compare(i, 3, "...") == 0) {
        i += 2;
        continue;
      }
      decline();
    }
    const size_t arrow = equation.find("->");
    const std::string left = arrow == std::string::npos ? equation : equation.substr(0, arrow);
    int label_index[256];
    std::fill(std::begin(label_index), std::end(label_index), -1);
    bool repeated[256] = {};
    std::vector<Dim> labelled, ellipsis;
    bool ellipsis_seen = false;
    size_t operands = 0, ellipsis_terms = 0, ellipsis_count = 0;
    size_t start = 0;
    while (true) {  // (as std::getline on ',' until the end: "a," is two terms)
      const size_t comma = left.find(',', start);
      const std::string term = left.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (operands >= n.inputs.size()) throw Failed{};
      const std::vector<Dim>& shape = input_type(n, operands)->dims;
      const size_t rank = shape.size();
      const size_t at = term.find("...");
      size_t letters = 0;
      for (char c : term) letters += is_letter(c);
      if (at != std::string::npos ? rank < letters : rank != letters) throw Failed{};
      size_t ellipsis_dims = 0, skipped = 0;
      for (size_t i = 0; i < term.size(); ++i) {
        if (i == at) {
          ellipsis_dims = rank - letters;
          if (!ellipsis_seen) {
            ellipsis_seen = true;
            for (size_t j = 0; j < ellipsis_dims; ++j) ellipsis.push_back(shape[i + j - skipped]);
          } else {
            if (ellipsis_dims > ellipsis.size()) decline();  // (ONNX reads past its dims)
            for (size_t j = 0; j < ellipsis_dims; ++j) {
              const Dim& d = shape[i + j - skipped];
              Dim& kept = ellipsis[j];
              if (d.kind == Dim::kValue && kept.kind == Dim::kValue && d.value > kept.value &&
                  kept.value == 1) {
                kept.value = d.value;
              }
            }
          }
          i += 2;
          skipped += 3;
          continue;
        }
        const unsigned char c = static_cast<unsigned char>(term[i]);
        if (!is_letter(term[i])) {
          skipped += 1;
          continue;
        }
        if (label_index[c] < 0) {
          label_index[c] = static_cast<int>(labelled.size());
          labelled.push_back(shape[i + ellipsis_dims - skipped]);
        } else {
          repeated[c] = true;
        }
      }
      if (at != std::string::npos) {
        if (ellipsis_terms == 0) {
          ellipsis_count = rank - letters;
        } else if (ellipsis_count != rank - letters) {
          throw Failed{};
        }
        ++ellipsis_terms;
      }
      ++operands;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (operands != n.inputs.size()) throw Failed{};
    out.has_shape = true;
    if (arrow != std::string::npos) {
      const std::string right = equation.substr(arrow + 2);
      const size_t at = right.find("...");
      for (size_t i = 0; i < right.size(); ++i) {
        if (i == at) {
          for (size_t j = 0; j < ellipsis_count; ++j) out.dims.push_back(ellipsis[j]);
          i += 2;
          continue;
        }
        if (!is_letter(right[i])) continue;
        const int index = label_index[static_cast<unsigned char>(right[i])];
        if (index < 0) throw Failed{};
        out.dims.push_back(labelled[static_cast<size_t>(index)]);
      }
    } else {
      for (size_t j = 0; j < ellipsis_count; ++j) out.dims.push_back(ellipsis[j]);
      for (int c = 0; c < 256; ++c) {  // (ASCII order: letters only, all below 128)
        if (label_index[c] >= 0 && !repeated[c]) {
          out.dims.push_back(labelled[static_cast<size_t>(label_index[c])]);
        }
      }
    }
    return out;
  }

  // Expand-8 (below opset 13): where both inputs have a shape, the shape input of one dim
  // (another rank fails the node), its values read where it is a constant (a negative one
  // declined), else as many unknown dims as its dim's value (none known: no shape), then
  // broadcast with the data's. No values of data propagation are read.
  Type expand_8(const Node& n, const Type* data, const Type* shape, Type out) const {
    if (!has_shape(data) || !has_shape(shape)) return out;
    if (shape->dims.size() != 1) throw Failed{};
    std::vector<Dim> target;
    if (const Tensor* values = input_data(n, 1)) {
      for (int64_t v : int64_values(*values)) {
        if (v < 0) decline();
        Dim& d = target.emplace_back();
        d.kind = Dim::kValue;
        d.value = v;
      }
    } else if (shape->dims[0].kind == Dim::kValue) {
      if (shape->dims[0].value > kMaxValues) decline();
      target.assign(static_cast<size_t>(shape->dims[0].value), Dim{});
    } else {
      return out;
    }
    out.has_shape = true;
    broadcast(data->dims, target, out.dims);
    return out;
  }

  // onnx's Dimension * int64 and Dimension / int64: a value's product or quotient (an
  // overflow or a division by zero fails the node); else the dim itself where the other
  // side is 1, else an unknown dim.
  static Dim dim_times(const Dim& d, int64_t k) {
    if (d.kind != Dim::kValue) return k == 1 ? d : Dim{};
    Dim made;
    made.kind = Dim::kValue;
    made.value = mul(d.value, k);
    return made;
  }
  static Dim dim_divided(const Dim& d, int64_t k) {
    if (d.kind != Dim::kValue) return k == 1 ? d : Dim{};
    if (k == 0 || (d.value == INT64_MIN && k == -1)) throw Failed{};
    Dim made;
    made.kind = Dim::kValue;
    made.value = d.value / k;
    return made;
  }

  // DepthToSpace and SpaceToDepth (13): the data's type; of a 4-D shape, the channels
  // divided (multiplied) by blocksize squared and the two spatial dims multiplied (divided)
  // by it.
  Type depth_space(const Node& n) const {
    count(n, 1, 1, 1);
    const bool to_space = n.op == "DepthToSpace";
    for (const Attribute& a : n.attributes) {
      if (a.name == "blocksize") {
        if (a.type != 2 || !a.has_i) decline();
      } else if ((!to_space && opset_ < 28) || a.name != "mode" || a.type != 3 || !a.has_s) {
        decline();
      }
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Attribute* block_attr = n.attribute("blocksize");
    const int64_t block = block_attr ? block_attr->i : 0;
    if (block <= 0) throw Failed{};
    const int64_t area = mul(block, block);
    const Type* in = input_type(n, 0);
    if (!has_shape(in)) return out;
    if (in->dims.size() != 4) throw Failed{};
    out.has_shape = true;
    out.dims.push_back(in->dims[0]);
    if (to_space) {
      out.dims.push_back(dim_divided(in->dims[1], area));
      out.dims.push_back(dim_times(in->dims[2], block));
      out.dims.push_back(dim_times(in->dims[3], block));
    } else {
      out.dims.push_back(dim_times(in->dims[1], area));
      out.dims.push_back(dim_divided(in->dims[2], block));
      out.dims.push_back(dim_divided(in->dims[3], block));
    }
    return out;
  }

  // ConvTranspose's shape (onnx's convTransposeShapeInference and its opset-11 form, alike but
  // for the order of two checks that both fail the node), of data `x` and weight `w` with
  // shapes, into `out` (`conv` reads its inputs): batch from the data, channels the
  // weight's second dim times `group`, each spatial dim from `output_shape` (the shape left
  // at the dims before the first smaller than the input's, as ONNX leaves it) or from the
  // input size, stride, output padding, dilated kernel and pads where the input's is a
  // value (else unknown).
  void conv_transpose_shape(const Node& n, const Type* x, const Type* w, Type& out) const {
    const Attribute* group_attr = n.attribute("group");
    const int64_t group = group_attr ? group_attr->i : 1;
    if (group <= 0) throw Failed{};
    if (x->dims.size() < 3 || w->dims.size() < 3) throw Failed{};
    if (x->dims[1].kind == Dim::kValue && x->dims[1].value % group != 0) throw Failed{};
    const size_t spatial = x->dims.size() - 2;
    const std::vector<int64_t> dilations = positive_ints(n, "dilations", spatial);
    const std::vector<int64_t> strides = positive_ints(n, "strides", spatial);
    std::vector<int64_t> effective, pads, output_shape, output_padding;
    if (!kernel_of(n, w, spatial, dilations, effective)) return;  // (no shape at all)
    const Attribute* auto_pad = n.attribute("auto_pad");
    if (ints_attribute(n, "pads", pads)) {
      if (pads.size() != spatial * 2) throw Failed{};
      for (int64_t p : pads) {
        if (p < 0) throw Failed{};
      }
      if (auto_pad && auto_pad->s != "NOTSET") throw Failed{};
    } else {
      pads.assign(spatial * 2, 0);
      if (auto_pad && auto_pad->s != "VALID") {
        for (size_t i = 0; i < spatial; ++i) {
          same_pads(auto_pad->s, std::max<int64_t>(sub(effective[i], strides[i]), 0), i, pads);
        }
      }
    }
    const bool shape_given = ints_attribute(n, "output_shape", output_shape);
    if (shape_given) {
      if (output_shape.size() != spatial) throw Failed{};
      for (int64_t v : output_shape) {
        if (v < 0) throw Failed{};
      }
    }
    if (ints_attribute(n, "output_padding", output_padding)) {
      if (output_padding.size() != spatial) throw Failed{};
      for (int64_t p : output_padding) {
        if (p < 0) throw Failed{};
      }
    } else {
      output_padding.assign(spatial, 0);
    }
    out.has_shape = true;
    out.dims.push_back(x->dims[0]);
    out.dims.push_back(dim_times(w->dims[1], group));
    for (size_t i = 0; i < spatial; ++i) {
      const Dim& in = x->dims[2 + i];
      Dim dim;
      if (shape_given) {
        if (in.kind == Dim::kValue && output_shape[i] < in.value) return;  // (as ONNX)
        dim.kind = Dim::kValue;
        dim.value = output_shape[i];
      } else if (in.kind == Dim::kValue) {
        int64_t v = add(mul(strides[i], sub(in.value, 1)), output_padding[i]);
        v = sub(sub(add(v, effective[i]), pads[i]), pads[i + spatial]);
        dim.kind = Dim::kValue;
        dim.value = v;
      }
      out.dims.push_back(std::move(dim));
    }
  }

  // onnx's convPoolShapeInference (its opset-19 and opset-1-to-11 forms alike without
  // `ceil_mode`) of data `x` with a shape: the weight `w` with a shape (Conv), or null (a
  // pool: `kernel_shape` required, channels from the data); `use_dilation`: the op reads
  // `dilations`. Into `out`, left without a shape where a kernel dim is not a value.
  void conv_pool_shape(const Node& n, const Type& x, const Type* w, bool use_dilation,
                       Type& out) const {
    if (x.dims.size() < 3) throw Failed{};
    const size_t spatial = x.dims.size() - 2;
    const std::vector<int64_t> dilations =
        use_dilation ? positive_ints(n, "dilations", spatial) : std::vector<int64_t>(spatial, 1);
    const std::vector<int64_t> strides = positive_ints(n, "strides", spatial);
    std::vector<int64_t> effective, pads;
    if (!kernel_of(n, w, spatial, dilations, effective)) return;  // (no shape at all)
    if (ints_attribute(n, "pads", pads)) {
      if (pads.size() != spatial * 2) throw Failed{};
      for (int64_t p : pads) {
        if (p < 0) throw Failed{};
      }
    } else {
      pads.assign(spatial * 2, 0);
      const Attribute* auto_pad = n.attribute("auto_pad");
      if (auto_pad && auto_pad->s != "VALID") {
        for (size_t i = 0; i < spatial; ++i) {
          int64_t residual = 0;
          const int64_t stride = strides[i];
          if (stride > 1) {
            const Dim& d = x.dims[2 + i];
            if (d.kind != Dim::kValue || d.value < 0) continue;
            residual = d.value % stride;
          }
          const int64_t total = std::max<int64_t>(sub(effective[i], residual == 0 ? stride : residual), 0);
          same_pads(auto_pad->s, total, i, pads);
        }
      }
    }
    if (w && w->dims.empty()) throw Failed{};
    out.has_shape = true;
    out.dims.push_back(x.dims[0]);
    out.dims.push_back(w ? w->dims[0] : x.dims[1]);
    for (size_t i = 0; i < spatial; ++i) {
      Dim dim;
      const Dim& in = x.dims[2 + i];
      if (in.kind == Dim::kValue) {
        const int64_t gap = sub(add(add(in.value, pads[i]), pads[i + spatial]), effective[i]);
        dim.kind = Dim::kValue;
        dim.value = add(gap / strides[i], 1);  // (truncated toward zero, as in C++)
      }
      out.dims.push_back(std::move(dim));
    }
  }

  // Pad (onnx's functions of opset 13 and of 18 to 28, alike where the axes are the
  // default): the data's element type; where it has a shape, its rank, and where the pads
  // are a constant, each padded axis's value plus its pads (a name kept where they add to
  // 0); from 18 the other dims keep their values only, and axes that are not a constant
  // leave no shape.
  Type pad(const Node& n) const {
    count(n, 2, opset_ >= 18 ? 4 : 3, 1);
    for (const Attribute& a : n.attributes) {
      if (a.name != "mode" || a.type != 3 || !a.has_s) decline();
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* in = input_type(n, 0);
    if (!has_shape(in)) return out;
    const int64_t rank = static_cast<int64_t>(in->dims.size());
    std::vector<int64_t> axes;
    if (has_shape(input_type(n, 3))) {  // (an input of opset 18 on)
      const Tensor* axes_data = input_data(n, 3);
      if (!axes_data) return out;
      axes = int64_values(*axes_data);
      adjust_axes(axes, rank);
      no_duplicate_axes(axes);
    } else {
      for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    }
    out.has_shape = true;
    out.dims.assign(static_cast<size_t>(rank), Dim{});
    const Tensor* pads_data = input_data(n, 1);
    if (!pads_data || (axes.empty() && opset_ >= 18)) return out;  // (13: a rank-0 pad checked)
    if (pads_data->dims.size() != 1 || pads_data->elem != 7) throw Failed{};
    const std::vector<int64_t> pads = int64_values(*pads_data);
    if (pads.size() != 2 * axes.size()) throw Failed{};
    for (int64_t i = 0; i < rank; ++i) {
      const Dim& d = in->dims[static_cast<size_t>(i)];
      if (d.kind == Dim::kValue) out.dims[static_cast<size_t>(i)] = d;
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      const Dim& d = in->dims[static_cast<size_t>(axes[i])];
      Dim& o = out.dims[static_cast<size_t>(axes[i])];
      const int64_t total = add(pads[i], pads[axes.size() + i]);
      if (d.kind == Dim::kValue) {
        o = Dim{};
        o.kind = Dim::kValue;
        o.value = add(d.value, total);
      } else if (total == 0) {
        o = d;
      }
    }
    return out;
  }

  // Resize (onnx's resizeShapeInferenceVersioned of opsets 11 to 28): the data's element
  // type; where it has a shape, its rank, and each dim from `sizes` (a value above 0 of the
  // shape input: a constant's or what data propagation made) or from constant FLOAT
  // `scales` (floor(dim * scale) of a dim that is a value), `axes` picking the dims they
  // give (the others: the input's values). From 13 one of them must be given (at 11 and 12
  // the sizes win over scales, and neither gives the rank alone); a keep_aspect_ratio_policy
  // other than "stretch" is declined.
  Type resize(const Node& n) const {
    count(n, 1, 4, 1);
    const Attribute* axes_attr = nullptr;
    for (const Attribute& a : n.attributes) {
      if (a.name == "axes") {
        if (a.type != 7 || a.has_i) decline();
        axes_attr = &a;
      } else if (a.name == "keep_aspect_ratio_policy") {
        if (a.type != 3 || !a.has_s || a.s != "stretch") decline();
      } else if (a.name == "mode" || a.name == "coordinate_transformation_mode" ||
                 a.name == "nearest_mode") {
        if (a.type != 3 || !a.has_s) decline();
      } else if (a.name == "cubic_coeff_a" || a.name == "extrapolation_value") {
        if (a.type != 1 || !a.has_f) decline();
      } else if (a.name == "exclude_outside" || a.name == "antialias") {
        if (a.type != 2 || !a.has_i) decline();
      } else {
        decline();
      }
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* in = input_type(n, 0);
    if (!has_shape(in)) return out;
    const size_t rank = in->dims.size();
    const auto given = [&](size_t k) { return k < n.in.size() && n.in[k] != kNoName; };
    bool has_scales = given(2), has_sizes = given(3);
    const Tensor* scales = input_data(n, 2);
    std::vector<int64_t> sizes;
    std::vector<Dim> sizes_shape;
    if (n.in.size() > 3 && shape_input(n, 3, sizes_shape)) {
      if (sizes_shape.empty()) has_sizes = false;
      for (const Dim& d : sizes_shape) sizes.push_back(d.kind == Dim::kValue ? d.value : 0);
    }
    std::vector<float> scale_values;
    if (scales) {
      if (scales->elem != 1) throw Failed{};  // (ParseData<float>'s type check)
      scale_values = float_values(*scales);
      if (scale_values.empty()) has_scales = false, scales = nullptr;
    }
    // (Resize-11: both, or neither, may be given: the sizes win, and neither leaves the rank)
    if (opset_ >= 13 && static_cast<int>(has_scales) + static_cast<int>(has_sizes) != 1) {
      throw Failed{};
    }
    out.has_shape = true;
    out.dims.assign(rank, Dim{});
    std::vector<int64_t> axes;
    if (axes_attr) {
      axes = axes_attr->ints;
      adjust_axes(axes, static_cast<int64_t>(rank));
      no_duplicate_axes(axes);
    }
    if (has_sizes) {
      if (sizes.size() != (axes.empty() ? rank : axes.size())) throw Failed{};
      if (!axes.empty()) {
        std::vector<int64_t> all(rank);
        for (size_t i = 0; i < rank; ++i) {
          all[i] = in->dims[i].kind == Dim::kValue ? in->dims[i].value : -1;
        }
        for (size_t i = 0; i < axes.size(); ++i) all[static_cast<size_t>(axes[i])] = sizes[i];
        sizes.swap(all);
      }
      for (size_t i = 0; i < rank; ++i) {
        if (sizes[i] > 0) {
          out.dims[i].kind = Dim::kValue;
          out.dims[i].value = sizes[i];
        }
      }
    } else if (scales) {
      if (!axes.empty()) {
        if (scale_values.size() != axes.size()) throw Failed{};
        std::vector<float> all(rank, 1.0f);
        for (size_t i = 0; i < axes.size(); ++i) {
          all[static_cast<size_t>(axes[i])] = scale_values[i];
        }
        scale_values.swap(all);
      } else if (scale_values.size() != rank) {
        throw Failed{};
      }
      for (size_t i = 0; i < rank; ++i) {
        if (in->dims[i].kind != Dim::kValue) continue;
        const double scaled = std::floor(static_cast<double>(in->dims[i].value) *
                                         static_cast<double>(scale_values[i]));
        // (a value out of int64's range: the cast is undefined in C++ too; not modelled)
        if (!(scaled >= -9.2e18 && scaled <= 9.2e18)) decline();
        out.dims[i].kind = Dim::kValue;
        out.dims[i].value = static_cast<int64_t>(scaled);
      }
    }
    return out;
  }

  // TopK (onnx's TopKOpGenerator, opsets 11 and 24 alike): Values of the input's element
  // type, Indices INT64; where the input has a shape, both its dims with the axis's made K
  // (a constant K of one INT64 value, the axis's dim a value no smaller), else as many
  // unknown dims.
  Type top_k(const Node& n) {
    count(n, 2, 2, 2);
    if (n.outputs[1].empty()) decline();
    for (const Attribute& a : n.attributes) {
      const bool known = a.name == "axis" || a.name == "largest" || a.name == "sorted";
      if (!known || a.type != 2 || !a.has_i) decline();
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type values = elem_from(n, 0), indices;
    indices.known = true;
    indices.elem = 7;  // INT64
    const Type* in = input_type(n, 0);
    if (has_shape(in)) {
      const int64_t rank = static_cast<int64_t>(in->dims.size());
      const Attribute* axis_attr = n.attribute("axis");
      int64_t axis = axis_attr ? axis_attr->i : -1;
      if (axis < 0) axis += rank;
      if (axis < 0 || axis >= rank) throw Failed{};
      const Dim& axis_dim = in->dims[static_cast<size_t>(axis)];
      const Tensor* k = input_data(n, 1);
      values.has_shape = indices.has_shape = true;
      if (k && axis_dim.kind == Dim::kValue) {
        if (k->dims.size() != 1 || k->dims[0] != 1 || k->elem != 7) throw Failed{};
        const int64_t k_value = int64_values(*k)[0];
        if (axis_dim.value < k_value) throw Failed{};
        values.dims = in->dims;
        values.dims[static_cast<size_t>(axis)].value = k_value;  // (a value already)
      } else {
        values.dims.assign(in->dims.size(), Dim{});
      }
      indices.dims = values.dims;
    }
    more_outputs_ = {std::move(indices)};
    return values;
  }

  // RoiAlign (onnx's functions of opsets 10 and 16): the data's element type, and
  // [num_rois, C, output_height, output_width]: num_rois from the rois' first dim and the
  // batch indices' (unified), C from the data's second; the inputs' ranks (4, 2, 1) checked
  // where they have shapes, and from 16 the rois' second dim (4).
  Type roi_align(const Node& n) const {
    count(n, 3, 3, 1);
    int64_t height = 1, width = 1;
    for (const Attribute& a : n.attributes) {
      if (a.name == "output_height" || a.name == "output_width" || a.name == "sampling_ratio") {
        if (a.type != 2 || !a.has_i) decline();
        if (a.name == "output_height") height = a.i;
        if (a.name == "output_width") width = a.i;
      } else if (a.name == "mode" || (a.name == "coordinate_transformation_mode" && opset_ >= 16)) {
        if (a.type != 3 || !a.has_s) decline();
      } else if (a.name == "spatial_scale") {
        if (a.type != 1 || !a.has_f) decline();
      } else {
        decline();
      }
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type *x = input_type(n, 0), *rois = input_type(n, 1), *batch = input_type(n, 2);
    if ((has_shape(x) && x->dims.size() != 4) || (has_shape(rois) && rois->dims.size() != 2) ||
        (has_shape(batch) && batch->dims.size() != 1)) {
      throw Failed{};
    }
    Dim rois_count, channels, four;
    four.kind = Dim::kValue;
    four.value = 4;
    if (has_shape(x)) unify_dim(x->dims[1], channels);
    if (has_shape(rois)) {
      unify_dim(rois->dims[0], rois_count);
      if (opset_ >= 16) unify_dim(rois->dims[1], four);
    }
    if (has_shape(batch)) unify_dim(batch->dims[0], rois_count);
    Dim h, w;
    h.kind = w.kind = Dim::kValue;
    h.value = height;
    w.value = width;
    out.has_shape = true;
    out.dims = {rois_count, channels, h, w};
    return out;
  }

  // GatherND (onnx's functions of opsets 11 to 28): the data's element type; where both
  // inputs have shapes and the indices' last dim is a value, the indices' dims but the last,
  // then the data's from that value plus batch_dims (none added: no shape, as ONNX leaves it).
  Type gather_nd(const Node& n) const {
    count(n, 2, 2, 1);
    int64_t batch_dims = 0;
    for (const Attribute& a : n.attributes) {  // (GatherND-11 has none: 0)
      if (a.name != "batch_dims" || a.type != 2 || !a.has_i || opset_ < 12) decline();
      batch_dims = a.i;
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type *data = input_type(n, 0), *indices = input_type(n, 1);
    if (!has_shape(data) || !has_shape(indices)) return out;
    const int64_t data_rank = static_cast<int64_t>(data->dims.size());
    const size_t indices_rank = indices->dims.size();
    if (data_rank < 1 || indices_rank < 1) throw Failed{};
    const Dim& last = indices->dims[indices_rank - 1];
    if (last.kind != Dim::kValue) return out;
    const int64_t from = add(last.value, batch_dims);
    if (from > data_rank) throw Failed{};
    if (from < 0) decline();  // (ONNX reads a dim before the first: not modelled)
    out.dims.assign(indices->dims.begin(), indices->dims.end() - 1);
    out.dims.insert(out.dims.end(), data->dims.begin() + from, data->dims.end());
    out.has_shape = !out.dims.empty();
    return out;
  }

  // MaxPool and AveragePool (onnx's pool functions of opsets 11 to 28, alike without
  // `ceil_mode`, which is declined): the data's element type and convPoolShapeInference's
  // shape (MaxPool's Indices, a second output, declined). AveragePool reads `dilations`
  // from opset 19.
  Type pool(const Node& n) const {
    const bool max = n.op == "MaxPool";
    count(n, 1, 1, 1);
    for (const Attribute& a : n.attributes) {
      if (a.name == "auto_pad") {
        if (a.type != 3 || !a.has_s) decline();
      } else if (a.name == "ceil_mode" || (max && a.name == "storage_order") ||
                 (!max && a.name == "count_include_pad")) {
        if (a.type != 2 || !a.has_i || (a.name == "ceil_mode" && a.i != 0)) decline();
      } else if (a.name != "kernel_shape" && a.name != "strides" && a.name != "pads" &&
                 !(a.name == "dilations" && (max || opset_ >= 19))) {
        decline();
      }
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* x = input_type(n, 0);
    if (has_shape(x)) conv_pool_shape(n, *x, nullptr, true, out);
    return out;
  }

  // onnx's checkAxesRange and adjustNegativeAxes: each axis in [-rank, rank - 1] (else the
  // node fails), made non-negative
  static void adjust_axes(std::vector<int64_t>& axes, int64_t rank) {
    for (int64_t& axis : axes) {
      if (axis < -rank || axis >= rank) throw Failed{};
      if (axis < 0) axis += rank;
    }
  }

  // onnx's checkDuplicateAxes on adjusted axes: an axis given twice fails the node
  static void no_duplicate_axes(std::vector<int64_t> axes) {
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) throw Failed{};
  }

  // The dims of a reduction (ReduceOpGenerator's, ArgReduce's) of `dims` along `axes` (none:
  // all of them), in `out`: the others as they are, those reduced 1 (`keep`) or left out.
  static void reduced(const std::vector<Dim>& dims, const std::vector<int64_t>& axes, bool keep,
                      std::vector<Dim>& out) {
    for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
      if (!axes.empty() && std::find(axes.begin(), axes.end(), i) == axes.end()) {
        out.push_back(dims[static_cast<size_t>(i)]);
      } else if (keep) {
        Dim one;
        one.kind = Dim::kValue;
        one.value = 1;
        out.push_back(one);
      }
    }
  }

  // propagateShapeAndTypeFromFirstInput
  Type first_input(const Node& n) const { return typed_as(n, 0, 0); }

  // Whether input `k` has no type: then the node fails, where elem_from would throw Failed,
  // told through `untyped_input_` instead (`node` reads it): after an op without a schema
  // every node downstream fails so (an LLM of onnxruntime's ops: half its nodes), and a
  // throw costs ~2 µs. Called where elem_from(n, k) would be, the function returning at once.
  bool untyped(const Node& n, size_t k) const {
    if (input_type(n, k)) return false;
    untyped_input_ = true;
    return true;
  }

  // propagateElemTypeFromInputToOutput(ctx, `elem`, 0), then the shape of input `shape`
  // where it has one (propagateShapeFromInputToOutput)
  Type typed_as(const Node& n, size_t elem, size_t shape) const {
    Type out = elem_from(n, elem);
    const Type* in = input_type(n, shape);
    if (has_shape(in)) {
      out.has_shape = true;
      out.dims = in->dims;
    }
    return out;
  }

  // Gather (onnx's function of opsets 13 to 28): the data's element type; its dims with the
  // one at `axis` replaced by the indices' dims, where both have a shape.
  Type gather(const Node& n) const {
    count(n, 2, 2, 1);
    const Attribute* axis_attr = n.attribute("axis");
    for (const Attribute& a : n.attributes) {
      if (a.name != "axis") decline();
    }
    if (axis_attr && (!axis_attr->has_i || axis_attr->type != 2)) decline();
    const Type* data = input_type(n, 0);
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* indices = input_type(n, 1);
    if (has_shape(data) && has_shape(indices)) {
      const int64_t r = static_cast<int64_t>(data->dims.size());
      if (r < 1) throw Failed{};
      int64_t axis = axis_attr ? axis_attr->i : 0;
      if (axis < -r || axis >= r) throw Failed{};
      if (axis < 0) axis += r;
      out.has_shape = true;
      for (int64_t i = 0; i < axis; ++i) out.dims.push_back(data->dims[static_cast<size_t>(i)]);
      for (const Dim& d : indices->dims) out.dims.push_back(d);
      for (int64_t i = axis + 1; i < r; ++i) out.dims.push_back(data->dims[static_cast<size_t>(i)]);
    }
    gather_propagation(n, data, axis_attr);
    return out;
  }

  // Data propagation of a Gather (onnx's GatherOp13DataPropagator, which a strict run with it
  // makes after the inference function): along axis 0 (none given, or one that comes to 0)
  // of data with values (`data_length`), the values at constant indices, which fails the
  // node for an index out of their range; a negative axis out of the data's rank fails it
  // too. The run without propagation passes such a node: declined (the caller runs ONNX),
  // as are indices whose values are unknown and a Gather in a branch.
  void gather_propagation(const Node& n, const Type* data, const Attribute* axis_attr) const {
    if (current_ != 0) decline();
    propagating_ = true;
    if (axis_attr && axis_attr->i != 0) {
      if (axis_attr->i > 0 || !has_shape(data)) return;
      const int64_t rank = static_cast<int64_t>(data->dims.size());
      if (axis_attr->i < -rank) decline();
      if (axis_attr->i + rank != 0) return;
    }
    const int64_t length = data_length(n, 0);
    if (length < 0) return;
    const Tensor* indices = input_data(n, 1);
    if (indices == nullptr) {
      if (data_length(n, 1) >= 0) decline();  // values of unknown indices: not modelled
      return;
    }
    if (indices->dims.size() > 1) return;  // not read as values
    const std::vector<int64_t> values = int64_values(*indices);
    for (int64_t index : values) {
      if (index >= length || index < -length) decline();
    }
    std::vector<Dim> from, taken;
    data_values(n, 0, from);
    for (int64_t index : values) taken.push_back(from[static_cast<size_t>(index < 0 ? index + length : index)]);
    if (!taken.empty()) propagate(std::move(taken));
  }

  // Unsqueeze and Squeeze (onnx's functions of opsets 13 to 28): the data's element type;
  // where it has a shape and the axes are a constant (Squeeze: or left out, then every dim of
  // 1, where all are known), its dims with 1s put in at the axes, or those taken out. Axes
  // out of range, given twice (Unsqueeze) or taking out a dim other than 1 fail the node.
  // Squeeze-11 and Unsqueeze-11: the axes an attribute. Unsqueeze: none, no shape; a value
  // given twice, or one out of the output's rank, fails the node; (two that come to the same
  // axis are declined). Squeeze: without axes, every dim of value 1 (no shape where a dim is
  // not a value); negative axes counted from the back, one out of range left out; a dim of
  // another value than 1 at an axis fails the node. No data propagation.
  Type squeeze_or_unsqueeze_11(const Node& n) const {
    const bool unsqueeze = n.op == "Unsqueeze";
    count(n, 1, 1, 1);
    for (const Attribute& a : n.attributes) {
      if (a.name != "axes") decline();
    }
    std::vector<int64_t> axes;
    const bool given = ints_attribute(n, "axes", axes);
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* data = input_type(n, 0);
    if (!has_shape(data)) return out;
    const int64_t r = static_cast<int64_t>(data->dims.size());
    if (unsqueeze) {
      if (!given) return out;
      std::vector<int64_t> seen = axes;
      std::sort(seen.begin(), seen.end());
      if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) throw Failed{};
      const int64_t rank = r + static_cast<int64_t>(axes.size());
      for (int64_t& a : axes) {
        if (a < -rank || a >= rank) throw Failed{};
        if (a < 0) a += rank;
      }
      std::sort(axes.begin(), axes.end());
      if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) decline();
      unsqueezed(data->dims, axes, out);
      return out;
    }
    if (given) {
      for (int64_t& a : axes) {
        if (a < 0) a += r;
      }
    } else if (!ones(data->dims, axes)) {
      return out;  // which dims are 1 is not known
    }
    squeezed(data->dims, axes, out);
    return out;
  }

  // Unsqueeze's output: `dims` with a 1 at each of the sorted, distinct `axes` (of the
  // output's rank).
  static void unsqueezed(const std::vector<Dim>& dims, const std::vector<int64_t>& axes, Type& out) {
    out.has_shape = true;
    size_t j = 0;
    Dim one;
    one.kind = Dim::kValue;
    one.value = 1;
    for (const Dim& d : dims) {
      while (j < axes.size() && axes[j] == static_cast<int64_t>(out.dims.size())) {
        out.dims.push_back(one);
        ++j;
      }
      out.dims.push_back(d);
    }
    while (j < axes.size() && axes[j] == static_cast<int64_t>(out.dims.size())) {
      out.dims.push_back(one);
      ++j;
    }
  }

  // Into `axes`, the positions of the dims of value 1; false where a dim is not a value.
  static bool ones(const std::vector<Dim>& dims, std::vector<int64_t>& axes) {
    for (size_t i = 0; i < dims.size(); ++i) {
      if (dims[i].kind != Dim::kValue) return false;
      if (dims[i].value == 1) axes.push_back(static_cast<int64_t>(i));
    }
    return true;
  }

  // Squeeze's output: `dims` without those at `axes` (a value other than 1 there fails the
  // node; an axis out of range is left out).
  static void squeezed(const std::vector<Dim>& dims, const std::vector<int64_t>& axes, Type& out) {
    out.has_shape = true;
    for (size_t i = 0; i < dims.size(); ++i) {
      const Dim& d = dims[i];
      if (std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) != axes.end()) {
        if (d.kind == Dim::kValue && d.value != 1) throw Failed{};
        continue;
      }
      out.dims.push_back(d);
    }
  }

  Type squeeze_or_unsqueeze(const Node& n) const {
    if (opset_ < 13) return squeeze_or_unsqueeze_11(n);
    const bool unsqueeze = n.op == "Unsqueeze";
    count(n, unsqueeze ? 2 : 1, 2, 1);
    if (!n.attributes.empty()) decline();
    if (current_ != 0) decline();  // (data propagation in a branch: not modelled)
    const Type* data = input_type(n, 0);
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    propagating_ = true;
    pass_values_on(n);
    if (!has_shape(data)) return out;
    const int64_t r = static_cast<int64_t>(data->dims.size());
    std::vector<int64_t> axes;
    // Squeeze reads its axes where input 1 is there and typed, else squeezes every 1
    const bool given = unsqueeze || (n.inputs.size() == 2 && input_type(n, 1) != nullptr);
    if (given) {
      const Tensor* axes_data = input_data(n, 1);
      if (axes_data == nullptr) return out;  // not a constant: ONNX leaves the shape unknown
      axes = int64_values(*axes_data);
    }
    adjust_axes(axes, unsqueeze ? r + static_cast<int64_t>(axes.size()) : r);
    if (unsqueeze) {
      no_duplicate_axes(axes);
      std::sort(axes.begin(), axes.end());
      unsqueezed(data->dims, axes, out);
      return out;
    }
    if (!given && !ones(data->dims, axes)) return out;  // which dims are 1 is not known
    squeezed(data->dims, axes, out);
    return out;
  }

  // Slice (onnx's function of opsets 13 to 28) of constant starts, ends, axes and steps (an
  // axes or steps input without a shape counts as left out, as ONNX's inference reads it):
  // the data's dims, each sliced axis of a known dim cut to ceil((end - start) / step) after
  // clamping, one of an unknown dim left unknown (its name dropped). Bounds that are not
  // constants: the rank only (declined where the data has values: its data propagation
  // reads them); a Slice in a branch is declined; a step of 0, lists of different lengths, axes out of
  // range or given twice fail the node. Then data propagation (`slice_propagation`).
  Type slice(const Node& n) const {
    if (n.inputs.size() < 3 || n.inputs.size() > 5) decline();
    count(n, 3, n.inputs.size(), 1);
    if (!n.attributes.empty() || current_ != 0) decline();
    const Type* data = input_type(n, 0);
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    // Slice-11 (below opset 13): no data propagation; nothing read without the data's
    // shape; a starts tensor without an element type leaves no shape; an axis of dim 0
    // gives 0 before its step is read
    const bool slice_11 = opset_ < 13;
    if (slice_11 && !has_shape(data)) return out;
    propagating_ = propagating_ || !slice_11;
    auto given = [&](size_t k) { return k < n.inputs.size() && !n.inputs[k].empty(); };
    auto shaped = [&](size_t k) { return given(k) && has_shape(input_type(n, k)); };
    const Tensor* starts_data = input_data(n, 1);
    const Tensor* ends_data = input_data(n, 2);
    const Tensor* axes_data = given(3) ? input_data(n, 3) : nullptr;
    const Tensor* steps_data = given(4) ? input_data(n, 4) : nullptr;
    if (!starts_data || !ends_data || (shaped(3) && !axes_data) || (shaped(4) && !steps_data)) {
      // bounds the graph computes: ONNX keeps the rank only (its data propagation would
      // read them as values: not modelled)
      if (!slice_11 && data_length(n, 0) >= 0) decline();
      if (has_shape(data) && !data->dims.empty()) {  // (a dim added at a time: rank 0, none)
        out.has_shape = true;
        out.dims.assign(data->dims.size(), Dim{});
      }
      return out;
    }
    if ((given(3) && !axes_data) || (given(4) && !steps_data)) decline();
    if (slice_11 && starts_data->elem == 0) return out;
    const std::vector<int64_t> starts = int64_values(*starts_data);
    const std::vector<int64_t> ends = int64_values(*ends_data);
    const std::vector<int64_t> given_axes = axes_data ? int64_values(*axes_data) : std::vector<int64_t>{};
    const std::vector<int64_t> given_steps =
        steps_data ? int64_values(*steps_data) : std::vector<int64_t>{};
    if (has_shape(data)) {
      if (starts.size() != ends.size()) throw Failed{};
      const int64_t r = static_cast<int64_t>(data->dims.size());
      std::vector<int64_t> axes = given_axes;
      if (shaped(3)) {
        if (axes.size() != starts.size()) throw Failed{};
      } else {
        axes.clear();
        for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
      }
      adjust_axes(axes, r);
      no_duplicate_axes(axes);
      std::vector<int64_t> steps(starts.size(), 1);
      if (shaped(4)) {
        steps = given_steps;
        if (steps.size() != axes.size()) throw Failed{};
      }
      out.has_shape = true;
      for (const Dim& d : data->dims) {  // a dim's value or name, not its denotation
        Dim copy;
        copy.kind = d.kind;
        copy.value = d.value;
        copy.param = d.param;
        out.dims.push_back(copy);
      }
      for (size_t k = 0; k < axes.size(); ++k) {
        const Dim& in = data->dims[static_cast<size_t>(axes[k])];
        Dim& dim = out.dims[static_cast<size_t>(axes[k])];
        if (in.kind != Dim::kValue) {
          dim = Dim{};
          continue;
        }
        if (slice_11 && in.value == 0) continue;  // (its value 0 kept)
        int64_t start = starts[k], end = ends[k];
        if (steps[k] == 0) throw Failed{};
        clamp_slice(in.value, start, end, steps[k]);
        const double span = static_cast<double>(end - start) / static_cast<double>(steps[k]);
        const int64_t length = static_cast<int64_t>(std::ceil(span));
        dim.kind = Dim::kValue;
        dim.value = length < 0 ? 0 : length;
      }
    }
    if (!slice_11) slice_propagation(n, starts_data, ends_data, given_axes, given_steps);
    return out;
  }

  // onnx's processSliceInputs, the step not 0
  static void clamp_slice(int64_t size, int64_t& start, int64_t& end, int64_t step) {
    if (size == 0) {
      start = end = 0;
      return;
    }
    if (start < 0) start += size;
    start = std::clamp<int64_t>(start, 0, step < 0 ? size - 1 : size);
    if (end < 0) end += size;
    end = std::clamp<int64_t>(end, step < 0 ? -1 : 0, step < 0 ? size - 1 : size);
  }

  // Data propagation of a Slice (its PartialDataPropagationFunction): of data with values
  // (`data_length`), one range of them along axis 0 (axes left out, or [0]) where starts and
  // ends hold one value each: what it fails (starts and ends of other lengths, a step of 0)
  // the run without propagation passes: declined.
  void slice_propagation(const Node& n, const Tensor* starts, const Tensor* ends,
                         const std::vector<int64_t>& axes, const std::vector<int64_t>& steps) const {
    const int64_t length = data_length(n, 0);
    if (length < 0) return;
    const bool axes_given = n.inputs.size() >= 4, steps_given = n.inputs.size() >= 5;
    if ((axes_given && n.inputs[3].empty()) || (steps_given && n.inputs[4].empty())) return;
    auto rank_at_most_1 = [](const Tensor* t) { return t != nullptr && t->dims.size() <= 1; };
    if (!rank_at_most_1(starts) || !rank_at_most_1(ends)) return;
    const std::vector<int64_t> first = int64_values(*starts), last = int64_values(*ends);
    if (first.size() != last.size()) decline();
    if (axes_given && (axes.size() != 1 || axes[0] != 0)) return;
    if (first.size() != 1) return;
    int64_t step = 1;
    if (steps_given) {
      if (steps.size() != 1) return;
      step = steps[0];
    }
    if (step == 0) decline();
    int64_t start = first[0], end = last[0];
    clamp_slice(length, start, end, step);
    // the indices start, start + step, ... before end (ONNX walks them one by one)
    std::vector<Dim> from, taken;
    data_values(n, 0, from);
    for (int64_t i = start; step > 0 ? i < end : i > end; i += step) {
      taken.push_back(from[static_cast<size_t>(i)]);
    }
    if (!taken.empty()) propagate(std::move(taken));
  }

  // Concat (onnx's function of opset 13): the first input's element type; where every input
  // has a shape, their rank (each the same, the axis within it), the dims along the axis
  // added up where all are known and the others merged (mergeInDimensionInfo: a value
  // wins, differing values fail the node, else the first name). Its data propagation along
  // axis 0: every input's values, one after the other, where each has some.
  Type concat(const Node& n) {
    if (n.inputs.empty() || n.outputs.size() != 1 || n.outputs[0].empty()) decline();
    if (current_ != 0) decline();  // (data propagation in a branch: not modelled)
    const Attribute* axis_attr = n.attribute("axis");
    for (const Attribute& a : n.attributes) {
      if (a.name != "axis" || a.type != 2 || !a.has_i) decline();
    }
    if (axis_attr && (axis_attr->i > (1 << 30) || axis_attr->i < -(1 << 30))) decline();
    propagating_ = true;
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    bool shaped = true;
    for (size_t k = 0; k < n.inputs.size(); ++k) shaped = shaped && has_shape(input_type(n, k));
    if (shaped) {
      if (!axis_attr) throw Failed{};
      const int64_t rank = static_cast<int64_t>(input_type(n, 0)->dims.size());
      int64_t axis = axis_attr->i;
      if (axis < -rank || axis >= rank) throw Failed{};
      if (axis < 0) axis += rank;
      out.has_shape = true;
      if (n.inputs.size() == 1) {
        out.dims = input_type(n, 0)->dims;
      } else {
        out.dims.assign(static_cast<size_t>(rank), Dim{});
        bool lengths_known = true;
        int64_t total = 0;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          const std::vector<Dim>& dims = input_type(n, k)->dims;
          if (static_cast<int64_t>(dims.size()) != rank) throw Failed{};
          for (int64_t j = 0; j < rank; ++j) {
            const Dim& in = dims[static_cast<size_t>(j)];
            Dim& target = out.dims[static_cast<size_t>(j)];
            if (j == axis) {
              if (in.kind != Dim::kValue) {
                lengths_known = false;
              } else if (in.value < 0 || __builtin_add_overflow(total, in.value, &total)) {
                throw Failed{};
              }
            } else {
              unify_dim(in, target);
            }
          }
        }
        if (lengths_known) {
          out.dims[static_cast<size_t>(axis)].kind = Dim::kValue;
          out.dims[static_cast<size_t>(axis)].value = total;
        }
      }
    }
    // data propagation (onnx's axisIsZero: a negative axis counted from the first input's
    // rank, which fails out of range; none where it has no shape)
    if (!axis_attr) decline();  // fails with propagation only
    int64_t axis = axis_attr->i;
    if (axis < 0) {
      const Type* first = input_type(n, 0);
      if (!has_shape(first)) return out;
      const int64_t rank = static_cast<int64_t>(first->dims.size());
      if (axis < -rank) decline();  // fails with propagation only
      axis += rank;
    }
    if (axis != 0) return out;
    std::vector<Dim> joined, part;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!data_values(n, k, part)) return out;
      joined.insert(joined.end(), part.begin(), part.end());
    }
    if (!joined.empty() && opset_ >= 13) propagate(std::move(joined));  // (not Concat-11)
    return out;
  }

  // Split (onnx's functions of opsets 13 and 18): each output the input's element type;
  // where the input has a shape (the axis within its rank), its dims with the one at the
  // axis unknown where it is, else the sizes a constant `split` input gives (as many as the
  // outputs, adding up to that dim), or (18) `num_outputs` chunks, the last one smaller.
  // The outputs after the first: `more_outputs_`.
  Type split(const Node& n) {
    const bool split_11 = opset_ < 13;  // (Split-11: the sizes an attribute, one input)
    if (n.outputs.empty() || n.inputs.empty() || n.inputs[0].empty() ||
        n.inputs.size() > (split_11 ? 1u : 2u)) {
      decline();
    }
    for (std::string_view name : n.outputs) {
      if (name.empty()) decline();
    }
    const Attribute* axis_attr = n.attribute("axis");
    const Attribute* num_attr = n.attribute("num_outputs");
    const Attribute* split_attr = split_11 ? n.attribute("split") : nullptr;
    for (const Attribute& a : n.attributes) {
      if (&a == split_attr) {
        if (a.type != 7) decline();  // (INTS)
        continue;
      }
      const bool known = a.name == "axis" || (a.name == "num_outputs" && opset_ >= 18);
      if (!known || a.type != 2 || !a.has_i) decline();
    }
    const size_t outputs = n.outputs.size();
    if (untyped(n, 0)) return {};
    std::vector<Type> types(outputs, elem_from(n, 0));
    const Type* in = input_type(n, 0);
    auto result = [&]() {
      more_outputs_.assign(types.begin() + 1, types.end());
      return types[0];
    };
    if (!has_shape(in)) return result();
    const int64_t rank = static_cast<int64_t>(in->dims.size());
    const int64_t given = axis_attr ? axis_attr->i : 0;
    if (given > (1 << 30) || given < -(1 << 30)) decline();  // (ONNX reads it as an int)
    int64_t axis = given;
    if (axis < -rank || axis >= rank) throw Failed{};
    if (axis < 0) axis += rank;
    for (Type& type : types) {
      type.has_shape = true;
      type.dims = in->dims;
    }
    const Dim& split_dim = in->dims[static_cast<size_t>(axis)];
    if (split_dim.kind != Dim::kValue) {
      for (Type& type : types) type.dims[static_cast<size_t>(axis)] = Dim{};
      return result();
    }
    if (split_dim.value > (1 << 30) || split_dim.value < 0) decline();  // (read as an int)
    const int64_t size = split_dim.value;
    std::vector<int64_t> sizes;
    const bool split_input = opset_ >= 18 ? n.inputs.size() == 2 && !n.inputs[1].empty()
                                          : n.inputs.size() == 2 && input_type(n, 1) != nullptr;
    if (opset_ >= 18 && split_input && num_attr) throw Failed{};
    if (split_11) {  // the sizes given, or equal parts, one per output
      if (split_attr) {
        sizes = split_attr->ints;
        if (sizes.size() != outputs) throw Failed{};
        int64_t total = 0;
        for (int64_t d : sizes) {
          if (__builtin_add_overflow(total, d, &total)) decline();
        }
        if (total != size) throw Failed{};
      } else {
        if (size % static_cast<int64_t>(outputs) != 0) throw Failed{};
        sizes.assign(outputs, size / static_cast<int64_t>(outputs));
      }
    } else if (split_input) {
      const Tensor* given_sizes = input_data(n, 1);
      if (!given_sizes) {  // not a constant: the shapes as the input's
        for (Type& type : types) {
          type.has_shape = false;
          type.dims.clear();
        }
        return result();
      }
      sizes = int64_values(*given_sizes);
      if (sizes.size() != outputs) throw Failed{};
      int64_t total = 0;
      for (int64_t d : sizes) {
        if (__builtin_add_overflow(total, d, &total)) decline();
      }
      if (total != size) throw Failed{};
    } else if (opset_ >= 18) {
      if (!num_attr) throw Failed{};
      const int64_t parts = num_attr->i;
      if (parts < 1) throw Failed{};
      if (parts != static_cast<int64_t>(outputs)) decline();  // (ONNX reads past its sizes)
      if (size % parts == 0) {
        sizes.assign(static_cast<size_t>(parts), size / parts);
      } else {
        const int64_t chunk = size / parts + 1;
        sizes.assign(static_cast<size_t>(parts - 1), chunk);
        sizes.push_back(size - chunk * (parts - 1));
      }
    } else {
      decline();  // (Split-13 without sizes: not modelled)
    }
    for (size_t i = 0; i < outputs; ++i) {
      Dim& d = types[i].dims[static_cast<size_t>(axis)];
      d = Dim{};
      d.kind = Dim::kValue;
      d.value = sizes[i];
    }
    return result();
  }

  // onnx's unifyDim(source, target), and mergeInDimensionInfo alike: a value is taken
  // (differing values fail the node), else a target's value or name kept, else the source's
  // name (no denotation either way).
  static void unify_dim(const Dim& source, Dim& target) {
    if (source.kind == Dim::kValue) {
      if (target.kind == Dim::kValue && target.value != source.value) throw Failed{};
      target = Dim{};
      target.kind = Dim::kValue;
      target.value = source.value;
    } else if (target.kind == Dim::kNone && source.kind == Dim::kParam) {
      target.kind = Dim::kParam;
      target.param = source.param;
    }
  }

  // Flatten (onnx's functions of opsets 13 to 28): the input's element type; where it has a
  // shape, two dims: the products of the dims before and from `axis` (onnx's multiplyDims:
  // values multiplied, a 1 leaving the other dim as it is, else unknown).
  Type flatten(const Node& n) const {
    count(n, 1, 1, 1);
    const Attribute* axis_attr = n.attribute("axis");
    for (const Attribute& a : n.attributes) {
      if (a.name != "axis" || a.type != 2 || !a.has_i) decline();
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    const Type* in = input_type(n, 0);
    if (!has_shape(in)) return out;
    const int64_t rank = static_cast<int64_t>(in->dims.size());
    int64_t axis = axis_attr ? axis_attr->i : 1;
    if (axis > (1 << 30) || axis < -(1 << 30)) decline();  // (read as an int)
    if (axis < 0) axis += rank;
    if (axis > rank || axis < 0) throw Failed{};
    auto product = [&](int64_t from, int64_t to) {
      Dim dim;
      dim.kind = Dim::kValue;
      dim.value = 1;
      for (int64_t i = from; i < to; ++i) {
        const Dim& d = in->dims[static_cast<size_t>(i)];
        if (dim.kind == Dim::kValue && d.kind == Dim::kValue) {
          if (__builtin_mul_overflow(dim.value, d.value, &dim.value)) throw Failed{};
        } else if (dim.kind == Dim::kValue && dim.value == 1) {
          dim = d;
        } else if (!(d.kind == Dim::kValue && d.value == 1)) {
          dim = Dim{};
        }
      }
      return dim;
    };
    out.has_shape = true;
    out.dims = {product(0, axis), product(axis, rank)};
    return out;
  }

  // Gemm (onnx's function of opset 13; Gemm-11's below it: the dims read, not unified, from
  // two shapes of rank 2): the first input's element type and always two dims,
  // M and N, unified (onnx's unifyInputShape) from A's and B's dims (transposed as transA and
  // transB say) where they have a shape: each of rank 2, their K's values equal.
  Type gemm(const Node& n) const {
    count(n, 2, 3, 1);
    const Attribute* trans_a = n.attribute("transA");
    const Attribute* trans_b = n.attribute("transB");
    for (const Attribute& a : n.attributes) {
      const bool ints = a.name == "transA" || a.name == "transB";
      const bool floats = a.name == "alpha" || a.name == "beta";
      if (!(ints && a.type == 2 && a.has_i) && !(floats && a.type == 1 && a.has_f)) decline();
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    auto truthy = [](const Attribute* a) { return a && static_cast<int>(a->i) != 0; };
    if (opset_ < 13) {  // Gemm-11: both shapes of rank 2, their dims copied (not unified)
      const Type *a = input_type(n, 0), *b = input_type(n, 1);
      if (!has_shape(a) || !has_shape(b)) return out;
      if (a->dims.size() != 2 || b->dims.size() != 2) throw Failed{};
      out.has_shape = true;
      out.dims = {a->dims[truthy(trans_a) ? 1 : 0], b->dims[truthy(trans_b) ? 0 : 1]};
      return out;
    }
    Dim m, k, cols;
    auto unify_input = [&](size_t index, bool transposed, Dim& rows, Dim& inner) {
      const Type* t = input_type(n, index);
      if (!has_shape(t)) return;
      if (t->dims.size() != 2) throw Failed{};
      unify_dim(t->dims[0], transposed ? inner : rows);
      unify_dim(t->dims[1], transposed ? rows : inner);
    };
    unify_input(0, truthy(trans_a), m, k);
    unify_input(1, !truthy(trans_b), cols, k);
    out.has_shape = true;
    out.dims = {m, cols};
    return out;
  }

  // ConstantOfShape (onnx's functions of opsets 13 to 28): the `value` tensor's element type
  // (it of one dim), FLOAT without it; the shape read as Reshape's (getShapeInput), each of
  // its values not negative.
  Type constant_of_shape(const Node& n) const {
    count(n, 1, 1, 1);
    const Attribute* value = n.attribute("value");
    for (const Attribute& a : n.attributes) {
      if (a.name != "value" || a.type != 4 || !a.has_t) decline();
    }
    Type out;
    out.known = true;
    out.elem = 1;  // FLOAT
    if (value) {
      const Tensor t = parse_tensor(value->t);
      if (t.dims.size() != 1) throw Failed{};
      if (t.elem <= 0 || t.elem > 16) decline();
      out.elem = t.elem;
    }
    std::vector<Dim> shape;
    if (shape_input(n, 0, shape)) {
      for (const Dim& d : shape) {
        if (d.kind == Dim::kValue && d.value < 0) throw Failed{};
      }
      out.has_shape = true;
      out.dims = std::move(shape);
    }
    return out;
  }

  // Range (onnx's function of opset 11): the start's element type and one dim, computed
  // where start, limit and delta are constant INT64 scalars (constants of two element types
  // or another rank fail the node; of another element type: declined), else unknown.
  Type range(const Node& n) const {
    count(n, 3, 3, 1);
    for (const Attribute& a : n.attributes) {  // (Range-27's `stash_type`: not read)
      if (opset_ < 27 || a.name != "stash_type" || a.type != 2 || !a.has_i) decline();
      n.attribute(a.name);  // (declines a name given twice)
    }
    if (untyped(n, 0)) return {};
    Type out = elem_from(n, 0);
    out.has_shape = true;
    out.dims.emplace_back();
    const Tensor *start = input_data(n, 0), *limit = input_data(n, 1), *delta = input_data(n, 2);
    if (!start || !limit || !delta) return out;
    if (start->elem != limit->elem || start->elem != delta->elem) throw Failed{};
    if (!start->dims.empty() || !limit->dims.empty() || !delta->dims.empty()) throw Failed{};
    if (start->elem != 7) decline();
    const int64_t first = int64_values(*start).at(0), last = int64_values(*limit).at(0);
    const int64_t step = int64_values(*delta).at(0);
    int64_t span;
    if (step == 0 || __builtin_sub_overflow(last, first, &span)) decline();
    const double length = std::ceil((1.0 * static_cast<double>(span)) / static_cast<double>(step));
    if (!(length < 9.0e18) || !(length > -9.0e18)) decline();
    out.dims[0].kind = Dim::kValue;
    out.dims[0].value = std::max<int64_t>(static_cast<int64_t>(length), 0);
    return out;
  }

  // Shape (onnx's functions of opsets 13 to 28): an INT64 tensor of one dim, the input's rank
  // (from 15: the dims from `start` to `end`, each counted from the back where negative and
  // clamped to the rank) where the input has a shape, else unknown; its data propagation
  // gives that many values (the dims), and none where the input has no shape.
  Type shape(const Node& n) const {
    count(n, 1, 1, 1);
    if (current_ != 0) decline();  // (data propagation in a branch: not modelled)
    propagating_ = true;
    const Attribute* start_attr = n.attribute("start");
    const Attribute* end_attr = n.attribute("end");
    for (const Attribute& a : n.attributes) {
      if (opset_ < 15 || (a.name != "start" && a.name != "end") || a.type != 2 || !a.has_i) {
        decline();
      }
    }
    Type out;
    out.known = true;
    out.elem = 7;
    out.has_shape = true;
    Dim length;
    const Type* in = input_type(n, 0);
    if (has_shape(in)) {
      const int64_t rank = static_cast<int64_t>(in->dims.size());
      auto clamped = [rank](int64_t axis) {
        if (axis < 0) axis += rank;
        return axis < 0 ? 0 : axis > rank ? rank : axis;
      };
      const int64_t start = clamped(start_attr ? start_attr->i : 0);
      const int64_t end = clamped(end_attr ? end_attr->i : rank);
      length.kind = Dim::kValue;
      length.value = end > start ? end - start : 0;
      propagate(std::vector<Dim>(in->dims.begin() + start, in->dims.begin() + std::max(start, end)));
    }
    out.dims.push_back(length);
    return out;
  }

  Type infer(const Node& n) {
    const std::string_view op = n.op;
    if (op == "Conv") return conv(n);
    if (op == "QuantizeLinear" || op == "DequantizeLinear") return quantize_linear(n);
    if (op == "Gather") return gather(n);
    if (op == "Unsqueeze" || op == "Squeeze") return squeeze_or_unsqueeze(n);
    if (op == "Slice") return slice(n);
    if (op == "Concat") return concat(n);
    if (op == "Split") return split(n);
    if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
        op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor") {
      // (binaryLogicalOpInference: BOOL, the two shapes broadcast)
      // (LessOrEqual-12 and GreaterOrEqual-12, below opset 16, are functions: Less or Equal,
      // Greater or Equal, each of whose nodes makes up a symbol for a dim it leaves unknown)
      const bool function = (op == "LessOrEqual" || op == "GreaterOrEqual") && opset_ < 16;
      count(n, 2, 2, 1);
      if (!n.attributes.empty()) decline();
      Type out;
      out.known = true;
      out.elem = 9;  // BOOL
      const Type *a = input_type(n, 0), *b = input_type(n, 1);
      if (has_shape(a) && has_shape(b)) {
        out.has_shape = true;
        broadcast(a->dims, b->dims, out.dims);
        for (const Dim& d : out.dims) {
          if (function && d.kind == Dim::kNone) decline();  // (its symbols: not modelled)
        }
      }
      return out;
    }
    if (op == "Min" || op == "Max" || op == "Sum" || op == "Mean") {
      // (ElementwiseMultiOpDocGenerator, 13: the first input's element type, all broadcast)
      if (n.inputs.empty() || n.outputs.size() != 1 || n.outputs[0].empty()) decline();
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      std::vector<const std::vector<Dim>*> shapes;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const Type* t = input_type(n, k);
        if (!has_shape(t)) return out;
        shapes.push_back(&t->dims);
      }
      out.has_shape = true;
      broadcast_all(shapes, out.dims);
      return out;
    }
    if (op == "GatherElements") {  // (13: the data's element type, the indices' shape)
      count(n, 2, 2, 1);
      for (const Attribute& a : n.attributes) {
        if (a.name != "axis" || a.type != 2 || !a.has_i) decline();
      }
      if (untyped(n, 0)) return {};
      return typed_as(n, 0, 1);
    }
    if (op == "Flatten") return flatten(n);
    if (op == "Gemm") return gemm(n);
    if (op == "ConvTranspose") return conv(n);
    if (op == "DepthToSpace" || op == "SpaceToDepth") return depth_space(n);
    if (op == "Einsum") return einsum(n);
    if (op == "ConstantOfShape") return constant_of_shape(n);
    if (op == "Range") return range(n);
    if (op == "Expand") {  // (Expand-13: the shape read as Reshape-14's is, then broadcast)
      count(n, 2, 2, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type *data = input_type(n, 0), *shape = input_type(n, 1);
      if (opset_ < 13) return expand_8(n, data, shape, std::move(out));
      std::vector<Dim> target;
      if (has_shape(data) && has_shape(shape) && shape_input(n, 1, target)) {
        out.has_shape = true;
        broadcast(data->dims, target, out.dims);
      }
      return out;
    }
    if (op == "Where") {  // (Where-16: the second input's element type, the three broadcast)
      count(n, 3, 3, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 1)) return {};
      Type out = elem_from(n, 1);
      const Type *c = input_type(n, 0), *x = input_type(n, 1), *y = input_type(n, 2);
      if (has_shape(c) && has_shape(x) && has_shape(y)) {
        out.has_shape = true;
        broadcast_all({&c->dims, &x->dims, &y->dims}, out.dims);
      }
      return out;
    }
    if (op == "Trilu") {  // (Trilu-14: the input's type, of rank 2 at least)
      count(n, 1, 2, 1);
      for (const Attribute& a : n.attributes) {
        if (a.name != "upper" || a.type != 2 || !a.has_i) decline();
      }
      if (untyped(n, 0)) return {};
      Type out = first_input(n);
      if (out.has_shape && out.dims.size() < 2) throw Failed{};
      return out;
    }
    if (const Activation* a = activation(op)) {
      count(n, 1, 1, 1);
      for (const Attribute& attr : n.attributes) {
        const bool number = std::find(a->floats.begin(), a->floats.end(), attr.name) !=
                            a->floats.end();
        const bool text = !a->text.empty() && attr.name == a->text;
        if (number ? (attr.type != 1 || !attr.has_f) : !text || attr.type != 3 || !attr.has_s) {
          decline();
        }
        n.attribute(attr.name);  // (declines a name given twice)
      }
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "LayerNormalization" || op == "RMSNormalization") {
      // (LayerNormalization's Y alone: Mean and InvStdDev, outputs 1 and 2, declined)
      count(n, 2, op == "RMSNormalization" ? 2 : 3, 1);
      const Attribute* axis_attr = n.attribute("axis");
      for (const Attribute& a : n.attributes) {
        const bool known = a.name == "axis" || a.name == "stash_type" || a.name == "epsilon";
        if (!known || (a.name == "epsilon" ? a.type != 1 || !a.has_f : a.type != 2 || !a.has_i)) {
          decline();
        }
        n.attribute(a.name);  // (declines a name given twice)
      }
      if (untyped(n, 0)) return {};
      Type out = first_input(n);
      if (out.has_shape) {
        const int64_t rank = static_cast<int64_t>(out.dims.size());
        const int64_t axis = axis_attr ? axis_attr->i : -1;
        if (axis < -rank) throw Failed{};
      }
      return out;
    }
    if (op == "Clip") {  // min and max (inputs 1, 2) take no part
      count(n, 1, 3, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "Relu" || op == "Erf" || op == "Sqrt" || op == "Exp" || op == "Log" || op == "Tanh" ||
        op == "Sigmoid" || op == "Neg" || op == "Abs" || op == "Reciprocal" || op == "Floor" ||
        op == "Ceil" || op == "Identity" || op == "Sign" || op == "Round") {
      count(n, 1, 1, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
      count(n, 2, 2, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type *a = input_type(n, 0), *b = input_type(n, 1);
      if (has_shape(a) && has_shape(b)) {
        out.has_shape = true;
        broadcast(a->dims, b->dims, out.dims);
      }
      // onnx's MathOpDataPropagator: Add-14, Sub-14 and Mul-14's (the versions of opset 13
      // propagate nothing)
      if (op != "Div" && op != "Pow" && opset_ >= 14) {
        std::vector<Dim> first, second;
        if (data_values(n, 0, first) && data_values(n, 1, second)) {
          const size_t a = first.size(), b = second.size();
          if (a != b && a != 1 && b != 1) decline();  // fails with propagation only
          std::vector<Dim> made(a == 1 ? b : a);
          for (size_t i = 0; i < made.size(); ++i) {
            const Dim &x = first[a == 1 ? 0 : i], &y = second[b == 1 ? 0 : i];
            if (x.kind != Dim::kValue || y.kind != Dim::kValue) continue;
            made[i].kind = Dim::kValue;
            const bool overflow =
                op == "Add"   ? __builtin_add_overflow(x.value, y.value, &made[i].value)
                : op == "Sub" ? __builtin_sub_overflow(x.value, y.value, &made[i].value)
                              : __builtin_mul_overflow(x.value, y.value, &made[i].value);
            if (overflow) decline();  // fails with propagation only
          }
          propagate(std::move(made));
        }
      }
      return out;
    }
    if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {  // (SoftmaxFamily, 13)
      count(n, 1, 1, 1);
      const Attribute* axis_attr = n.attribute("axis");
      for (const Attribute& a : n.attributes) {
        if (a.name != "axis") decline();
      }
      if (axis_attr && (!axis_attr->has_i || axis_attr->type != 2)) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type* in = input_type(n, 0);
      if (!has_shape(in)) return out;
      int r = static_cast<int>(in->dims.size());
      if (r == 0) throw Failed{};
      // (the axis 1 by default below opset 13: the -11 versions' 2-D coercion)
      int axis = static_cast<int>(axis_attr ? axis_attr->i : opset_ < 13 ? 1 : -1);
      if (axis < -r || axis >= r) throw Failed{};
      out.has_shape = true;
      out.dims = in->dims;
      return out;
    }
    if (op == "MatMul") {
      count(n, 2, 2, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      matmul_shape(input_type(n, 0), input_type(n, 1), out);
      return out;
    }
    if (op == "MatMulInteger") {  // INT32, MatMul's shape; both inputs must be typed
      count(n, 2, 4, 1);
      if (!n.attributes.empty()) decline();
      const Type *a = input_type(n, 0), *b = input_type(n, 1);
      if (!a || !b) throw Failed{};
      Type out;
      out.known = true;
      out.elem = 6;  // INT32
      matmul_shape(a, b, out);
      return out;
    }
    if (op == "DynamicQuantizeLinear") {  // y: UINT8 of x's shape; scale FLOAT, zero point UINT8, scalars
      count(n, 1, 1, 3);
      if (!n.attributes.empty() || n.outputs[1].empty() || n.outputs[2].empty()) decline();
      Type y, scale, zero_point;
      y.known = scale.known = zero_point.known = true;
      y.elem = zero_point.elem = 2;  // UINT8
      scale.elem = 1;  // FLOAT
      scale.has_shape = zero_point.has_shape = true;
      if (const Type* x = input_type(n, 0); has_shape(x)) {
        y.has_shape = true;
        y.dims = x->dims;
      }
      more_outputs_ = {std::move(scale), std::move(zero_point)};
      return y;
    }
    if (op == "Transpose") {
      count(n, 1, 1, 1);
      const Attribute* perm_attr = n.attribute("perm");
      for (const Attribute& a : n.attributes) {
        if (a.name != "perm") decline();
      }
      if (perm_attr && (perm_attr->type != 7 || perm_attr->has_i)) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type* in = input_type(n, 0);
      if (!has_shape(in)) return out;
      const size_t rank = in->dims.size();
      std::vector<int64_t> perm;
      if (!perm_attr) {
        for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
      } else {
        perm = perm_attr->ints;  // (of another length than the rank: as many dims as it has)
        std::vector<bool> seen(rank, false);
        for (int64_t p : perm) {
          if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p]) throw Failed{};
          seen[p] = true;
        }
      }
      if (perm.empty() && opset_ < 13) return out;  // (Transpose-1 gives no dims no shape)
      out.has_shape = true;
      for (int64_t p : perm) out.dims.push_back(in->dims[static_cast<size_t>(p)]);
      return out;
    }
    if (op == "Reshape") {
      count(n, 2, 2, 1);
      const Attribute* allowzero_attr = n.attribute("allowzero");
      for (const Attribute& a : n.attributes) {
        if (a.name != "allowzero" || opset_ < 14) decline();
      }
      if (allowzero_attr && (!allowzero_attr->has_i || allowzero_attr->type != 2)) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      std::vector<Dim> target;  // (Reshape-13 reads a constant shape only)
      if ((opset_ < 14 && !input_data(n, 1)) || !shape_input(n, 1, target)) return out;
      const int64_t allowzero = allowzero_attr ? allowzero_attr->i : 0;
      const Type* in = input_type(n, 0);
      const bool in_shaped = in->has_shape;
      out.has_shape = true;
      int negative_one = -1;
      std::vector<bool> unresolved_zero(target.size(), false);
      int64_t product = 1;
      bool product_valid = true;  // every target dim a value
      auto multiply = [](int64_t& acc, int64_t v) {
        if (__builtin_mul_overflow(acc, v, &acc)) throw Failed{};
      };
      for (size_t i = 0; i < target.size(); ++i) {
        Dim dim;
        if (target[i].kind != Dim::kValue) {  // a name passed on, or unknown
          if (target[i].kind == Dim::kParam) {
            dim.kind = Dim::kParam;
            dim.param = target[i].param;
          }
          product_valid = false;
          out.dims.push_back(std::move(dim));
          continue;
        }
        const int64_t v = target[i].value;
        if (v == -1) {
          if (negative_one >= 0) throw Failed{};
          negative_one = static_cast<int>(i);
        } else if (v == 0) {
          if (allowzero == 0) {
            unresolved_zero[i] = true;
            if (in_shaped) {
              if (i >= in->dims.size()) throw Failed{};
              const Dim& from = in->dims[i];
              if (from.kind == Dim::kValue) {
                dim.kind = Dim::kValue;
                dim.value = from.value;
                multiply(product, from.value);
                unresolved_zero[i] = false;
              } else if (from.kind == Dim::kParam) {
                dim.kind = Dim::kParam;
                dim.param = from.param;
              }
            }
          } else {
            dim.kind = Dim::kValue;
            dim.value = 0;
            multiply(product, 0);
          }
        } else if (v > 0) {
          dim.kind = Dim::kValue;
          dim.value = v;
          multiply(product, v);
        } else {
          throw Failed{};
        }
        out.dims.push_back(std::move(dim));
      }
      if (negative_one >= 0 && product_valid) {
        if (product == 0) throw Failed{};
        int64_t in_product = 1;
        bool valid = in_shaped;
        if (valid) {
          for (size_t i = 0; i < in->dims.size(); ++i) {
            if (in->dims[i].kind == Dim::kValue) {
              multiply(in_product, in->dims[i].value);
            } else if (i >= unresolved_zero.size() || !unresolved_zero[i]) {
              valid = false;
              break;
            }
          }
        }
        if (valid) {
          if (in_product % product != 0) throw Failed{};
          out.dims[static_cast<size_t>(negative_one)].kind = Dim::kValue;
          out.dims[static_cast<size_t>(negative_one)].value = in_product / product;
        }
      }
      return out;
    }
    if (reduction(op)) {
      // (ReduceSum's axes are an input from opset 13, the others' from 18: onnx's
      // ReduceOpGenerator, one inference function for them all, which propagates no data)
      const bool axes_input = (op == "ReduceSum" && opset_ >= 13) || opset_ >= 18;
      count(n, 1, axes_input ? 2 : 1, 1);
      const Attribute* keepdims = n.attribute("keepdims");
      const Attribute* noop = n.attribute("noop_with_empty_axes");
      const Attribute* axes_attr = n.attribute("axes");
      for (const Attribute& a : n.attributes) {
        if (a.name == "keepdims" || a.name == "axes" || (axes_input && a.name == "noop_with_empty_axes")) {
          continue;
        }
        decline();
      }
      if (keepdims && (!keepdims->has_i || keepdims->type != 2)) decline();
      if (noop && (!noop->has_i || noop->type != 2)) decline();
      if (axes_attr && (axes_input || axes_attr->type != 7 || axes_attr->has_i)) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type* in = input_type(n, 0);
      if (!has_shape(in)) return out;
      std::vector<int64_t> axes;
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
        const Tensor* data = input_data(n, 1);
        if (!data) return out;  // axes not constant: ONNX stops here
        axes = int64_values(*data);
      } else if (axes_attr) {
        axes = axes_attr->ints;
      }
      const int64_t keep = keepdims ? keepdims->i : 1;
      if (noop && noop->i && axes.empty()) {
        out.has_shape = true;
        out.dims = in->dims;
        return out;
      }
      const int64_t rank = static_cast<int64_t>(in->dims.size());
      adjust_axes(axes, rank);
      out.has_shape = true;
      reduced(in->dims, axes, keep == 1, out.dims);
      return out;
    }
    if (op == "Shape") return shape(n);
    if (op == "MaxPool" || op == "AveragePool") return pool(n);
    if (op == "ArgMax" || op == "ArgMin") {  // INT64; the input's dims, `axis` kept as 1 or pruned
      count(n, 1, 1, 1);
      for (const Attribute& a : n.attributes) {
        const bool known = a.name == "axis" || a.name == "keepdims" ||
                           (a.name == "select_last_index" && opset_ >= 12);  // (ArgMax-11: none)
        if (!known || a.type != 2 || !a.has_i) decline();
        n.attribute(a.name);  // (declines a name given twice)
      }
      Type out;
      out.known = true;
      out.elem = 7;  // INT64
      const Type* in = input_type(n, 0);
      if (!has_shape(in)) return out;
      const int64_t rank = static_cast<int64_t>(in->dims.size());
      const Attribute* axis_attr = n.attribute("axis");
      const Attribute* keepdims = n.attribute("keepdims");
      int64_t axis = 0;
      if (axis_attr) {
        axis = axis_attr->i;
        if (axis < -rank || axis >= rank) throw Failed{};
        if (axis < 0) axis += rank;
      }
      const int64_t keep = keepdims ? keepdims->i : 1;
      out.has_shape = true;
      reduced(in->dims, {axis}, keep == 1, out.dims);
      return out;
    }
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {  // [N, C, 1, ...] from rank 2
      count(n, 1, 1, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type* in = input_type(n, 0);
      if (!has_shape(in) || in->dims.size() < 2) return out;
      out.has_shape = true;
      out.dims.assign(in->dims.begin(), in->dims.begin() + 2);
      for (size_t i = 2; i < in->dims.size(); ++i) {
        Dim one;
        one.kind = Dim::kValue;
        one.value = 1;
        out.dims.push_back(one);
      }
      return out;
    }
    if (op == "BatchNormalization") {  // inference mode, Y alone (opsets 14 and 15 alike)
      count(n, 5, 5, 1);
      for (const Attribute& a : n.attributes) {
        const bool number = a.name == "epsilon" || a.name == "momentum";
        if (number ? a.type != 1 || !a.has_f
                   : a.name != "training_mode" || a.type != 2 || !a.has_i || a.i != 0) {
          decline();
        }
        n.attribute(a.name);  // (declines a name given twice)
      }
      if (untyped(n, 0)) return {};
      Type out = first_input(n);
      if (opset_ < 14) return out;  // (BatchNormalization-9: the first input's type alone)
      // scale, B, mean and var of rank 1, their dim and the data's channels one value
      for (size_t k = 1; k < 5; ++k) {
        const Type* t = input_type(n, k);
        if (has_shape(t) && t->dims.size() != 1) throw Failed{};
      }
      Dim channels;
      if (const Type* x = input_type(n, 0); has_shape(x)) {
        if (x->dims.size() > 1) {
          unify_dim(x->dims[1], channels);
        } else {
          channels.kind = Dim::kValue;
          channels.value = 1;
        }
      }
      for (size_t k = 1; k < 5; ++k) {
        if (const Type* t = input_type(n, k); has_shape(t)) unify_dim(t->dims[0], channels);
      }
      return out;
    }
    if (op == "Tile") {  // the data's dims times constant repeats, else as many unknown
      count(n, 2, 2, 1);
      if (!n.attributes.empty()) decline();
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type* in = input_type(n, 0);
      if (!has_shape(in)) return out;
      const size_t rank = in->dims.size();
      out.has_shape = true;
      const Tensor* data = input_data(n, 1);
      const Type* repeats_type = input_type(n, 1);
      if (!data || !has_shape(repeats_type)) {
        out.dims.assign(rank, Dim{});
        return out;
      }
      if (repeats_type->dims.size() != 1 || data->elem != 7) throw Failed{};
      const std::vector<int64_t> repeats = int64_values(*data);
      if (repeats.size() != rank) throw Failed{};
      for (size_t i = 0; i < rank; ++i) {
        if (repeats[i] < 0) throw Failed{};
        Dim dim;
        if (in->dims[i].kind == Dim::kValue) {
          dim.kind = Dim::kValue;
          dim.value = mul(in->dims[i].value, repeats[i]);
        }
        out.dims.push_back(std::move(dim));
      }
      return out;
    }
    if (op == "Pad") return pad(n);
    if (op == "TopK") return top_k(n);
    if (op == "RoiAlign") return roi_align(n);
    if (op == "NonMaxSuppression") {  // INT64 [unknown, 3], whatever its inputs
      count(n, 2, 5, 1);
      for (const Attribute& a : n.attributes) {
        if (a.name != "center_point_box" || a.type != 2 || !a.has_i) decline();
      }
      Type out;
      out.known = true;
      out.elem = 7;  // INT64
      out.has_shape = true;
      Dim three;
      three.kind = Dim::kValue;
      three.value = 3;
      out.dims = {Dim{}, three};
      return out;
    }
    if (op == "NonZero") {  // INT64 [the input's rank, unknown]
      count(n, 1, 1, 1);
      if (!n.attributes.empty()) decline();
      Type out;
      out.known = true;
      out.elem = 7;  // INT64
      out.has_shape = true;
      Dim rank;
      if (const Type* in = input_type(n, 0); has_shape(in)) {
        rank.kind = Dim::kValue;
        rank.value = static_cast<int64_t>(in->dims.size());
      }
      out.dims = {rank, Dim{}};
      return out;
    }
    if (op == "ScatterElements") {  // the data's type
      count(n, 3, 3, 1);
      for (const Attribute& a : n.attributes) {
        const bool known = a.name == "axis" ? a.type == 2 && a.has_i
                           : a.name == "reduction" ? a.type == 3 && a.has_s
                                                   : false;
        if (!known) decline();
      }
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "Mod" || op == "BitShift") {  // the first input's element type, the shapes
      count(n, 2, 2, 1);                      // broadcast
      for (const Attribute& a : n.attributes) {
        const bool known = op == "Mod" ? a.name == "fmod" && a.type == 2 && a.has_i
                                       : a.name == "direction" && a.type == 3 && a.has_s;
        if (!known) decline();
      }
      if (untyped(n, 0)) return {};
      Type out = elem_from(n, 0);
      const Type *a = input_type(n, 0), *b = input_type(n, 1);
      if (has_shape(a) && has_shape(b)) {
        out.has_shape = true;
        broadcast(a->dims, b->dims, out.dims);
      }
      return out;
    }
    if (op == "GatherND") return gather_nd(n);
    if (op == "Resize") return resize(n);
    if (op == "InstanceNormalization") {  // the first input's type
      count(n, 3, 3, 1);
      for (const Attribute& a : n.attributes) {
        if (a.name != "epsilon" || a.type != 1 || !a.has_f) decline();
      }
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "CumSum" || op == "PRelu" || op == "LRN" || op == "LpNormalization" ||
        op == "ScatterND") {  // the first input's type
      const size_t inputs = op == "ScatterND" ? 3 : op == "LRN" || op == "LpNormalization" ? 1 : 2;
      count(n, inputs, inputs, 1);
      for (const Attribute& a : n.attributes) {
        if (op == "ScatterND") {  // (a reduction from 16)
          if (a.name != "reduction" || opset_ < 16 || a.type != 3 || !a.has_s) decline();
          n.attribute(a.name);
          continue;
        }
        const bool ints = op == "CumSum"  ? a.name == "exclusive" || a.name == "reverse"
                          : op == "LRN"   ? a.name == "size"
                                          : op == "LpNormalization" && (a.name == "axis" || a.name == "p");
        const bool floats = op == "LRN" && (a.name == "alpha" || a.name == "beta" || a.name == "bias");
        if (ints ? a.type != 2 || !a.has_i : !floats || a.type != 1 || !a.has_f) decline();
        n.attribute(a.name);  // (declines a name given twice)
      }
      if (untyped(n, 0)) return {};
      return first_input(n);
    }
    if (op == "Dropout") {  // (13, 22) the data's type; ratio and training_mode scalars; a BOOL mask
      // (Dropout-10, at opset 11: one input, a FLOAT `ratio` attribute, the same types)
      const bool dropout_10 = opset_ < 12;
      if (n.inputs.empty() || n.inputs.size() > (dropout_10 ? 1u : 3u) || n.outputs.empty() ||
          n.outputs.size() > 2) {
        decline();
      }
      if (n.inputs[0].empty() || n.outputs[0].empty() || (n.outputs.size() == 2 && n.outputs[1].empty())) {
        decline();
      }
      for (const Attribute& a : n.attributes) {
        if (dropout_10 ? (a.name != "ratio" || a.type != 1 || !a.has_f)
                       : (a.name != "seed" || a.type != 2 || !a.has_i)) {
          decline();
        }
        n.attribute(a.name);  // (declines a name given twice)
      }
      if (untyped(n, 0)) return {};
      Type out = first_input(n);
      for (size_t k = 1; k < n.inputs.size(); ++k) {
        const Type* t = input_type(n, k);  // (none for an input left out)
        if (has_shape(t) && !t->dims.empty()) throw Failed{};
      }
      if (n.outputs.size() == 2) {
        Type mask;
        mask.known = true;
        mask.elem = 9;  // BOOL
        mask.has_shape = out.has_shape;
        mask.dims = out.dims;
        more_outputs_ = {std::move(mask)};
      }
      return out;
    }
    if (op == "Not" || op == "IsNaN" || op == "IsInf") {  // BOOL, the input's shape (untyped too)
      count(n, 1, 1, 1);
      for (const Attribute& a : n.attributes) {
        const bool known = op == "IsInf" && (a.name == "detect_negative" || a.name == "detect_positive");
        if (!known || a.type != 2 || !a.has_i) decline();
        n.attribute(a.name);  // (declines a name given twice)
      }
      Type out;
      out.known = true;
      out.elem = 9;  // BOOL
      if (const Type* in = input_type(n, 0); has_shape(in)) {
        out.has_shape = true;
        out.dims = in->dims;
      }
      return out;
    }
    if (op == "Cast") {
      count(n, 1, 1, 1);
      const Attribute* to = n.attribute("to");
      for (const Attribute& a : n.attributes) {
        if (a.name != "to" && !(a.name == "saturate" && opset_ >= 19)) decline();
      }
      if (!to || !to->has_i || to->type != 2 || to->i <= 0 || to->i > 16) decline();
      Type out;
      out.known = true;
      out.elem = to->i;
      const Type* in = input_type(n, 0);
      if (has_shape(in)) {
        out.has_shape = true;
        out.dims = in->dims;
      }
      if (opset_ >= 13) pass_values_on(n);  // (Cast-9 propagates no data)
      return out;
    }
    if (op == "Constant") {
      count(n, 0, 0, 1);
      if (n.attributes.size() != 1 || n.attributes[0].name != "value" || !n.attributes[0].has_t ||
          n.attributes[0].type != 4) {
        decline();
      }
      const Tensor& t = constants_.emplace_back(parse_tensor(n.attributes[0].t));
      // the output's type is the tensor's element type and dims (ConstantOpInference); its
      // values are read only where an INT64 one is passed on (data propagation, a Reshape's
      // shape): other data (onnx.helper's float_data...) is read as raw data is, not at all
      if (t.elem <= 0 || t.elem > 16 || (t.other_data && t.elem == 7)) decline();
      if (t.elem == 7) int64_values(t);  // readable as ONNX reads it, else declined
      Type out;
      out.known = true;
      out.elem = t.elem;
      out.has_shape = true;
      for (int64_t d : t.dims) {
        Dim dim;
        dim.kind = Dim::kValue;
        dim.value = d;
        out.dims.push_back(dim);
      }
      return out;
    }
    decline();
  }

  void node(Node& n) {
    for (uint32_t output : n.out) {
      if (output == kNoName) continue;
      // a name defined twice (in any graph): ONNX merges into the first definition, or a
      // branch's into its enclosing graph's (not modelled)
      Slot& slot = slots_[output];
      if (slot.defined || slot.produced || (slot.output >= 0 && slot.scope != current_) ||
          (slot.declared >= 0 && current_ != 0)) {
        decline();
      }
      slot.produced = true;
      slot.scope = current_;
    }
    if (foreign_.count(n.domain) ||
        (n.domain.empty() && (!onnx_op(n.op) || opset_ < introduced(n.op)))) {
      // no schema: outputs untyped, later errors ignored
      if (current_ != 0) decline();  // (in a branch: not modelled)
      unsupported_seen_ = true;
      return;
    }
    if (!n.domain.empty() || changed_at_13(n.op, opset_)) decline();
    Type out;
    propagated_ = false;
    untyped_input_ = false;
    more_outputs_.clear();
    try {
      if (n.op == "If") {
        if (propagating_) decline();  // what a branch's data propagation sees: not modelled
        if (!strict_) decline();  // (a lenient run's branches note their errors: not modelled)
        if_node(n);
        return;
      }
      out = infer(n);
    } catch (const Failed&) {
      failed(n);
      return;
    }
    if (untyped_input_) {  // (as a Failed thrown where the input's type was read)
      failed(n);
      return;
    }
    // (a Constant's value is read by later nodes only where its output's type merged)
    bool merged = update(n.out[0], std::move(out), n);
    for (size_t i = 0; merged && i < more_outputs_.size(); ++i) {  // (stops at an error)
      merged = update(n.out[i + 1], std::move(more_outputs_[i]), n);
    }
    if (merged && n.op == "Constant") {
      slots_[n.out[0]].data = &constants_.back();
    }
    if (merged && propagated_) {
      slots_[n.out[0]].generated = static_cast<int32_t>(values_.size());
      values_.push_back(std::move(propagated_values_));
    }
  }

  // A node's inference failed: an error of the run in the graph (unless an op without a
  // schema came before it: then no error, as in ONNX); in a branch, the branch goes on and
  // then fails its If. A strict run fails (declined: ONNX's raises); a lenient one notes
  // the error (ONNX's message: `message`, what the inference threw — a merge's; any other
  // is declined) and goes on, the node's outputs from there on not updated.
  void failed(const Node& n, std::string message = {}) {
    if (current_ != 0) {
      scopes_[current_].failed = true;
      return;
    }
    if (unsupported_seen_) return;
    if (strict_ || message.empty()) decline();
    std::string error = "(op_type:" + std::string(n.op);
    if (n.has_name) error += ", node name: " + std::string(n.name);
    errors_.push_back(error + "): " + message);
  }

  // The error ONNX's checkShapesAndTypes throws where an inferred type does not merge with
  // a declared one (element types, ranks, then the first dim of two values), or empty.
  static std::string merge_error(const Type& inferred, const Type& existing) {
    if (inferred.elem != existing.elem) {
      // (the numbers: onnx's wheels are built with the lite protobuf, which names no enum)
      return "[TypeInferenceError] Inferred elem type differs from existing elem type: (" +
             std::to_string(inferred.elem) + ") vs (" + std::to_string(existing.elem) + ")";
    }
    if (!inferred.has_shape || !existing.has_shape) return {};
    if (inferred.dims.size() != existing.dims.size()) {
      return "[ShapeInferenceError] Inferred shape and existing shape differ in rank: (" +
             std::to_string(inferred.dims.size()) + ") vs (" +
             std::to_string(existing.dims.size()) + ")";
    }
    for (size_t k = 0; k < inferred.dims.size(); ++k) {
      const Dim &a = inferred.dims[k], &b = existing.dims[k];
      if (a.kind == Dim::kValue && b.kind == Dim::kValue && a.value != b.value) {
        return "[ShapeInferenceError] Inferred shape and existing shape differ in dimension " +
               std::to_string(k) + ": (" + std::to_string(a.value) + ") vs (" +
               std::to_string(b.value) + ")";
      }
    }
    return {};
  }

 public:
  const std::vector<std::string>& errors() const { return errors_; }

 private:

  // The types of a branch's outputs, inferred in a scope of its own that sees the enclosing
  // graphs' names (ONNX's GraphInferencer); throws Failed (the If's failure) after the
  // branch's nodes are inferred where one of them failed.
  std::vector<Type> run_body(Body& body) {
    const int scope = static_cast<int>(scopes_.size());
    scopes_.emplace_back();
    scopes_[scope].parent = current_;
    body.scope = scope;
    const int enclosing = current_;
    current_ = scope;
    declare_outputs(body.outputs, scope);
    run_nodes(body.nodes);
    for (const ValueInfo& v : body.outputs) {
      const Slot& slot = slots_[id(v.name)];
      if (!slot.produced || slot.scope != scope) decline();  // passed through: not modelled
    }
    current_ = enclosing;
    if (scopes_[scope].failed) throw Failed{};
    return scopes_[scope].output_types;
  }

  // If (onnx's IfInferenceFunction): the then branch inferred, then the else branch; each
  // output the then branch's type, its shape united with the else branch's.
  void if_node(Node& n) {
    if (n.inputs.size() != 1 || n.inputs[0].empty() || n.outputs.empty()) decline();
    for (std::string_view name : n.outputs) {
      if (name.empty()) decline();
    }
    Body* then_branch = nullptr;
    Body* else_branch = nullptr;
    for (Body& body : n.bodies) (body.attribute == "then_branch" ? then_branch : else_branch) = &body;
    if (!then_branch || !else_branch) decline();
    const std::vector<Type> then_types = run_body(*then_branch);
    const std::vector<Type> else_types = run_body(*else_branch);
    if (then_types.size() != else_types.size() || then_types.size() != n.outputs.size()) {
      throw Failed{};
    }
    std::vector<Type> types;  // (the If's outputs are updated only where it succeeds)
    for (size_t i = 0; i < then_types.size(); ++i) {
      Type& type = types.emplace_back(then_types[i]);
      const Type& other = else_types[i];
      if (type.known != other.known) throw Failed{};  // mismatched types
      if (!type.known) continue;
      if (type.elem != other.elem) throw Failed{};
      if (type.has_shape) {
        if (!other.has_shape || other.dims.size() != type.dims.size()) {
          type.has_shape = false;
          type.dims.clear();
        } else {
          for (size_t k = 0; k < type.dims.size(); ++k) {
            Dim& target = type.dims[k];
            const Dim& source = other.dims[k];
            bool conflict;
            if (source.kind == Dim::kValue) {
              conflict = !(target.kind == Dim::kValue && target.value == source.value);
            } else if (source.kind == Dim::kParam) {
              conflict = !(target.kind == Dim::kParam && target.param == source.param);
            } else {
              conflict = target.kind != Dim::kNone;
            }
            if (conflict) {
              target.kind = Dim::kNone;
              target.value = 0;
              target.param = {};
            }
          }
        }
      }
    }
    for (size_t i = 0; i < types.size(); ++i) {
      if (!update(n.out[i], std::move(types[i]), n)) break;  // (ONNX's loop stops at the error)
    }
  }

  std::vector<ValueInfo> inputs_, outputs_, value_info_;
  std::vector<Type> declared_;  // the value_info entries' types (declared, then merged)
  std::vector<Tensor> inits_;
  std::deque<Tensor> constants_;
  int64_t opset_;
  bool data_prop_;  // a run with data propagation (its values read as shapes)
  bool strict_;     // a strict run (a node's error fails it), else errors noted (`errors_`)
  std::vector<std::string> errors_;
  std::unordered_set<std::string_view> foreign_;
  Numbers ids_;  // name -> its slot
  std::vector<Slot> slots_;
  std::vector<std::string_view> names_;
  std::deque<Scope> scopes_;  // the graph's (0), then each branch's as it is inferred
  int current_ = 0;           // the graph being inferred
  std::unordered_set<std::string_view> symbols_;
  std::deque<std::string> generated_;
  unsigned next_symbol_ = 0;
  bool unsupported_seen_ = false;
  // what the node being inferred gives its output of data propagation (`Slot::generated`)
  mutable bool propagated_ = false;
  // the types of a node's outputs after its first (a Split's), in order
  mutable std::vector<Type> more_outputs_;
  // the node being inferred failed as `Failed` tells, without the throw (`untyped_input`)
  mutable bool untyped_input_ = false;
  mutable std::vector<Dim> propagated_values_;
  std::deque<std::vector<Dim>> values_;  // what data propagation made (`Slot::generated`)
  // an op whose data propagation passes values on other than Add, Sub, Mul and Cast was
  // inferred (an If after it is declined)
  mutable bool propagating_ = false;
};

PyObject* inferred(PyObject*, PyObject* args) {
  Py_buffer view;
  int data_prop = 1, strict = 1;
  if (!PyArg_ParseTuple(args, "y*|pp", &view, &data_prop, &strict)) return nullptr;
  std::vector<std::string> errors;
  std::string result;
  bool ok = false;
  g_declined_at = 0;
  // (no Python object is touched until the run is over: other threads run meanwhile, and
  // two runs of one model, with and without data propagation, can be made at once)
  Py_BEGIN_ALLOW_THREADS
  try {
    std::string_view model(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
    int64_t ir_version = 0;
    std::string_view graph;
    int graphs = 0;
    std::unordered_map<std::string_view, int64_t> opsets;
    each(model, [&](const Field& f) {
      if (f.number == 1 && f.wire == 0) ir_version = static_cast<int64_t>(f.value);
      else if (f.number == 7 && f.wire == 2) graph = f.payload, ++graphs;
      else if (f.number == 8 && f.wire == 2) {
        std::string_view domain;
        int64_t version = 0;
        bool has_version = false;
        each(f.payload, [&](const Field& o) {
          if (o.number == 1 && o.wire == 2) domain = o.payload;
          else if (o.number == 2 && o.wire == 0) version = static_cast<int64_t>(o.value), has_version = true;
          else decline();
        });
        if (!has_version) decline();
        opsets[domain] = version;
      } else if (f.number == 25 || f.number == 20 || f.number == 26) {
        decline();  // functions, training info, configuration
      }
    });
    if (graphs != 1 || opsets.count("ai.onnx")) decline();
    auto default_opset = opsets.find("");
    if (default_opset == opsets.end()) decline();
    const int64_t opset = default_opset->second;
    if (opset < kMinOpset || opset > kMaxOpset) decline();
    std::unordered_set<std::string_view> foreign;
    for (const auto& [domain, version] : opsets) {
      if (!onnx_domain(domain)) foreign.insert(domain);
    }
    std::vector<Node> nodes;
    std::vector<std::string_view> payloads;
    std::vector<ValueInfo> inputs, outputs, value_info;
    std::vector<Tensor> inits;
    each(graph, [&](const Field& f) {
      if (f.wire != 2) {
        if (f.number == 2 || f.number == 10 || f.number == 14) decline();
        return;
      }
      switch (f.number) {
        case 1: payloads.push_back(f.payload); break;
        case 5: {
          Tensor t = parse_tensor(f.payload);
          if (t.other_data && t.elem == 7) decline();  // external or typed data: not read
          inits.push_back(std::move(t));
          break;
        }
        case 11: inputs.push_back(parse_value_info(f.payload)); break;
        case 12: outputs.push_back(parse_value_info(f.payload)); break;
        case 13: value_info.push_back(parse_value_info(f.payload)); break;
        case 2: case 10: case 16: break;  // name, doc_string, metadata_props
        default: decline();  // sparse initializers, quantization annotations
      }
    });
    // the op types first (a few bytes a node): a graph of an op not modelled is declined
    // before its nodes are parsed (a 100,000-node graph of Convs costs ~1 ms, not ~50)
    for (std::string_view payload : payloads) {
      std::string_view op, domain;
      each(payload, [&](const Field& f) {
        if (f.number == 4 && f.wire == 2) op = f.payload;
        if (f.number == 7 && f.wire == 2) domain = f.payload;
      });
      if (domain.empty() ? !modelled(op) && onnx_op(op) : onnx_domain(domain)) decline();
    }
    nodes.reserve(payloads.size());
    for (std::string_view payload : payloads) nodes.push_back(parse_node_deep(payload, 0));
    for (const Node& n : nodes) {
      if (!n.domain.empty() && !onnx_domain(n.domain) && !opsets.count(n.domain)) decline();
    }
    const size_t names =
        inputs.size() + outputs.size() + value_info.size() + inits.size() + nodes.size() * 2;
    Inference inference(std::move(inputs), std::move(outputs), std::move(value_info),
                        std::move(inits), opset, ir_version, std::move(foreign), names,
                        data_prop != 0, strict != 0);
    inference.run(nodes);
    result = inference.result(nodes);
    errors = inference.errors();
    ok = true;
  } catch (const Declined&) {
  } catch (const Failed&) {
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&view);
  if (!ok) Py_RETURN_NONE;
  PyObject* inferred = PyBytes_FromStringAndSize(result.data(), static_cast<Py_ssize_t>(result.size()));
  if (strict || inferred == nullptr) return inferred;
  PyObject* noted = PyList_New(0);
  for (size_t i = 0; noted != nullptr && i < errors.size(); ++i) {
    PyObject* text = PyUnicode_DecodeUTF8(errors[i].data(), static_cast<Py_ssize_t>(errors[i].size()),
                                          "replace");
    if (text == nullptr || PyList_Append(noted, text) != 0) {
      Py_XDECREF(text);
      Py_CLEAR(noted);
      break;
    }
    Py_DECREF(text);
  }
  if (noted == nullptr) {
    Py_DECREF(inferred);
    return nullptr;
  }
  return Py_BuildValue("(NN)", inferred, noted);
}

PyObject* declined_at(PyObject*, PyObject*) { return PyLong_FromLong(g_declined_at.load()); }

PyObject* opset_range(PyObject*, PyObject*) { return Py_BuildValue("(LL)", kMinOpset, kMaxOpset); }

PyObject* default_domain_ops(PyObject*, PyObject*) {
  PyObject* names = PyFrozenSet_New(nullptr);
  if (names == nullptr) return nullptr;
  for (std::string_view op : onnx_ops()) {
    PyObject* name = PyUnicode_FromStringAndSize(op.data(), static_cast<Py_ssize_t>(op.size()));
    if (name == nullptr || PySet_Add(names, name) < 0) {
      Py_XDECREF(name);
      Py_DECREF(names);
      return nullptr;
    }
    Py_DECREF(name);
  }
  return names;
}

PyMethodDef methods[] = {
    {"inferred", inferred, METH_VARARGS,
     "inferred(serialized_model, data_prop=True, strict=True) -> bytes | None: a model holding "
     "the node op types, inputs, outputs and value_info ONNX's shape inference (check_type off, "
     "data propagation on or off) would give, or None where this module does not model the "
     "graph (see infer.cpp); not strict: (that model, the errors ONNX's run notes) or None."},
    {"declined_at", declined_at, METH_NOARGS,
     "declined_at() -> int: the line of infer.cpp where the last call declined (0: none)."},
    {"opset_range", opset_range, METH_NOARGS,
     "opset_range() -> (min, max): the default-domain opsets modelled."},
    {"default_domain_ops", default_domain_ops, METH_NOARGS,
     "default_domain_ops() -> frozenset: the default domain's op types taken for ONNX's (any "
     "other there has no schema)."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_infer",
    "The types ONNX's shape inference gives a plain graph of common ops, without it "
    "(see infer.cpp).",
    -1, methods,
};

}  // namespace

PyMODINIT_FUNC PyInit__infer() { return PyModule_Create(&module); }
