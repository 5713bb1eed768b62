"""ONNX's shape inference of plain graphs of common ops, natively (`trtforge.analyzer._infer`,
csrc/analyzer/infer.cpp): exactly what one strict run of ONNX's gives — the same names, types,
made-up dims and order — or nothing, and ONNX runs.

Held on random graphs of the modelled ops built to reach every branch of their inference
functions (broadcasting of values, names and unknown dims; ranks 0 to 4; Reshape's 0 and -1;
axes out of range; declared outputs to merge; names `unk__<n>` already taken; ops of a domain
without schemas, after which errors are no errors), on random quantized layers (zero points of
each kind, left out or untyped; attributes an opset does not define), random convolution chains
(1-D to 3-D, every padding mode, attributes of the wrong size or sign), random graphs with Ifs
(branches reading the graph's names, nested, disagreeing in count, type or shape, failing after
an op without a schema), on every model of the test corpus and the onnx wheel's node tests
(the If branches' types included), and on graphs built to hit each condition it declines.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _speculation

_infer = pytest.importorskip("trtforge.analyzer._infer", reason="the native inference is not built")

ONNX_CHECKED = ".".join(onnx.__version__.split(".")[:2]) in _speculation.NATIVE_INFERENCE_ONNX
needs_checked_onnx = pytest.mark.skipif(
    not ONNX_CHECKED, reason="the installed onnx is not a release the native inference models"
)

UNARY = ("Relu", "Erf", "Sqrt", "Exp", "Log", "Tanh", "Sigmoid", "Neg", "Abs", "Reciprocal",
         "Floor", "Ceil", "Sign", "Round", "Not")  # fmt: skip
#: onnx's ReduceOpGenerator ops: axes an attribute, then an input (ReduceSum from 13)
REDUCTIONS = ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
              "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")  # fmt: skip
BINARY = ("Add", "Sub", "Mul", "Div", "Pow")
#: elementwise ops with attributes inference does not read: (op, FLOAT attributes)
ACTIVATIONS = (("LeakyRelu", ("alpha",)), ("Elu", ("alpha",)), ("Selu", ("alpha", "gamma")),
               ("HardSigmoid", ("alpha", "beta")), ("ThresholdedRelu", ("alpha",)),
               ("Celu", ("alpha",)), ("Softplus", ()), ("Softsign", ()), ("HardSwish", ()),
               ("Mish", ()), ("Sin", ()), ("Cos", ()), ("Gelu", ()), ("Tan", ()), ("Asin", ()),
               ("Acos", ()), ("Atan", ()), ("Sinh", ()), ("Cosh", ()), ("Asinh", ()),
               ("Acosh", ()), ("Atanh", ()), ("Shrink", ("bias", "lambd")), ("Swish", ("alpha",)),
               ("BitwiseNot", ()))  # fmt: skip


def _onnx(serialized: bytes, data_prop: bool = True) -> bytes | None:
    """One strict run of ONNX's inference (as `_speculation.strict_run` makes it), or None
    when it raises."""
    try:
        return _speculation.cpp_shape_inference().infer_shapes(serialized, False, True, data_prop)
    except Exception:  # noqa: BLE001 - strict inference refused the model
        return None


def _entries(inferred: bytes) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The op types and the type table's entries, the bodies' included (what the static
    backend reads of an inferred model: `_speculation.inferred_types`)."""
    read = _speculation.inferred_types(inferred)
    assert read is not None, "bodies the native reader does not understand"
    ops, types = read
    return ops, list(types.items())


def _agrees(model: onnx.ModelProto | bytes) -> bool:
    """The native result equals ONNX's, with data propagation and without it (each where
    the native inference does not decline); False when it declined with propagation. A
    model ONNX refuses is always declined."""
    serialized = model if isinstance(model, bytes) else model.SerializeToString()
    for data_prop in (False, True):
        native = _infer.inferred(serialized, data_prop)
        expected = _onnx(serialized, data_prop)
        if expected is None:
            assert native is None, f"modelled a graph ONNX's strict run refuses ({data_prop=})"
        elif native is not None:
            assert _entries(native) == _entries(expected), f"{data_prop=}"
    return native is not None


# -- random graphs ---------------------------------------------------------------------------
_PARAMS = ("N", "M", "unk__0", "unk__2", "")


def _random_dim(rng: np.random.Generator) -> int | str | None:
    kind = rng.integers(0, 10)
    if kind < 6:
        return int(rng.choice([1, 1, 1, 4, 4, 6]))
    if kind < 9:
        return str(rng.choice(_PARAMS))
    return None


def _random_shape(rng: np.random.Generator) -> list | None:
    if rng.random() < 0.08:
        return None  # no shape at all
    return [_random_dim(rng) for _ in range(int(rng.integers(0, 5)))]


def _value_info(name: str, elem: int, shape: list | None) -> onnx.ValueInfoProto:
    value = helper.make_tensor_value_info(name, elem, shape)
    if shape is not None:  # an empty-string param: a dim with a param that is ""
        for dim, spec in zip(value.type.tensor_type.shape.dim, shape, strict=True):
            if spec == "":
                dim.dim_param = ""
    return value


def _declared(rng: np.random.Generator, name: str, elem: int) -> onnx.ValueInfoProto:
    """An output `name` declared without a type, typed without a shape, or with a random one."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return helper.make_empty_tensor_value_info(name)
    return _value_info(name, elem, None if kind == 1 else _random_shape(rng))


def _constant_value(rng, value: np.ndarray) -> onnx.TensorProto:
    """A Constant's FLOAT tensor as an exporter writes it (raw_data), or as onnx.helper's
    make_tensor does (float_data), now and then with a value more or less than its dims need
    (which ONNX's inference never reads), in another element type's field, or FLOAT16 in
    int32_data."""
    pick = rng.random()
    if pick < 0.5:
        return numpy_helper.from_array(value)
    tensor = helper.make_tensor("v", TensorProto.FLOAT, value.shape, value.ravel())
    if pick < 0.6:
        tensor.float_data.append(1.0)
    elif pick < 0.65 and len(tensor.float_data):
        del tensor.float_data[-1]
    elif pick < 0.7:
        tensor.ClearField("float_data")
        tensor.int64_data.extend(range(value.size))
    elif pick < 0.8:
        tensor = helper.make_tensor("v", TensorProto.FLOAT16, value.shape, value.ravel())
    return tensor


def _int64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _scalar(name: str, value: int, as_int32: bool = False) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, np.int32 if as_int32 else np.int64), name)


def _random_elementwise(rng, pick, k: int, initializers: list) -> tuple[str, list, dict]:
    """An activation with random attributes (now and then one of another type, or one the op
    does not define), a Clip (min, max: initializers, a graph's tensor, left out), a
    LayerNormalization (axis at random), a Gather (indices of random dims and values, axis
    at random), an Unsqueeze or a Squeeze (`_random_squeeze`), a Slice (`_random_slice`), a
    reduction or an ArgMax/ArgMin (`_random_reduction`)."""
    kind = rng.integers(0, 19)
    if kind == 18:
        return _random_resize(rng, pick, k, initializers)
    if kind >= 16:
        return _random_tile_or_pad(rng, pick, k, initializers, tile=kind == 16)
    if kind >= 14:
        return _random_reduction(rng, pick, k, initializers)
    if kind >= 12:
        return _random_slice(rng, pick, k, initializers)
    if kind >= 10:
        return _random_squeeze(rng, pick, k, initializers, unsqueeze=kind == 10)
    if kind < 5:
        op, names = ACTIVATIONS[int(rng.integers(0, len(ACTIVATIONS)))]
        attributes: dict = {name: float(rng.random()) for name in names if rng.random() < 0.7}
        if op == "Gelu" and rng.random() < 0.5:
            attributes["approximate"] = str(rng.choice(["none", "tanh"]))
        if rng.random() < 0.05:
            attributes["alpha"] = int(rng.integers(0, 3))  # an INT: declined
        if rng.random() < 0.05:
            attributes["other"] = 1.0
        return op, [pick()], attributes
    if kind == 7:
        ins = [pick(), pick()] + ([pick()] if rng.random() < 0.5 else [])
        attributes = {"axis": int(rng.integers(-5, 5))} if rng.random() < 0.7 else {}
        if rng.random() < 0.3:
            attributes["epsilon"] = float(rng.random())
        return "LayerNormalization", ins, attributes
    if kind < 7:
        ins = [pick()]
        for bound in ("min", "max")[: int(rng.integers(0, 3))]:
            choice = rng.integers(0, 3)
            if choice == 0:
                initializers.append(
                    numpy_helper.from_array(np.array(rng.random(), np.float32), f"{bound}{k}")
                )
                ins.append(f"{bound}{k}")
            else:
                ins.append("" if choice == 1 else pick())
        return "Clip", ins, {}
    dims = [int(rng.choice([1, 2, 3])) for _ in range(rng.integers(0, 3))]
    indices = rng.integers(-1, 3, size=dims).astype(np.int64)
    initializers.append(numpy_helper.from_array(indices, f"indices{k}"))
    attributes = {"axis": int(rng.integers(-2, 2))} if rng.random() < 0.7 else {}
    return "Gather", [pick(), f"indices{k}"], attributes


def _random_tile_or_pad(rng, pick, k: int, initializers: list, tile: bool):
    """A Tile of constant repeats, or a Pad of constant pads (and axes, which opset 18 takes),
    of random lengths (the data's rank is not known here) and values (negative now and then),
    INT32 or a graph's tensor now and then; a Pad's mode and constant value at random."""

    def ints(name: str, low: int, high: int, length: int) -> str:
        choice = rng.random()
        if choice < 0.1:
            return pick()  # not a constant
        dtype = np.int32 if choice < 0.15 else np.int64
        values = rng.integers(low, high, size=length).astype(dtype)
        initializers.append(numpy_helper.from_array(values, name))
        return name

    if tile:
        repeats = ints(f"repeats{k}", -1 if rng.random() < 0.1 else 0, 4, int(rng.integers(0, 5)))
        return "Tile", [pick(), repeats], {}
    axes = [int(a) for a in rng.integers(-4, 4, size=int(rng.integers(0, 3)))]
    count = len(axes) if rng.random() < 0.4 else int(rng.integers(0, 5))
    low, high = [(-1, 3), (0, 3), (0, 1)][int(rng.choice(3, p=[0.1, 0.6, 0.3]))]  # (0, 1): none
    ins = [pick(), ints(f"pads{k}", low, high, 2 * count)]
    if rng.random() < 0.4:
        ins.append("" if rng.random() < 0.5 else pick())  # a constant value
        if len(ins) == 3 and rng.random() < 0.5:
            initializers.append(numpy_helper.from_array(np.array(axes, np.int64), f"axes{k}"))
            ins.append(f"axes{k}")
    attributes = (
        {"mode": str(rng.choice(["constant", "reflect", "edge"]))} if rng.random() < 0.4 else {}
    )
    return "Pad", ins, attributes


def _random_resize(rng, pick, k: int, initializers: list, rank: int | None = None):
    """A Resize by constant FLOAT scales or INT64 sizes of random lengths (the data's rank is
    not known here) and values, or by a graph's tensor; both or neither now and then, empty
    scales, scales of another type, an axes attribute (out of range or repeated now and
    then), a keep_aspect_ratio_policy. `rank`: the data's, if known (the inputs' length
    then mostly matches it)."""
    length = rank if rank is not None and rng.random() < 0.8 else int(rng.integers(0, 5))
    ins = [pick(), "" if rng.random() < 0.8 else pick()]  # (roi: not read)
    by = str(rng.choice(["scales", "sizes", "computed", "both", "neither", "empty", "ints"],
                        p=[0.35, 0.3, 0.1, 0.05, 0.05, 0.05, 0.1]))  # fmt: skip
    scales = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 0.3], size=length).astype(np.float32)
    if by in ("scales", "both", "empty", "ints"):
        values = {"empty": np.zeros([0], np.float32), "ints": scales.astype(np.int64)}.get(
            by, scales
        )
        initializers.append(numpy_helper.from_array(values, f"scales{k}"))
        ins.append(f"scales{k}")
    elif by == "computed":
        ins.append(pick())
    else:
        ins.append("")
    if by in ("sizes", "both"):
        sizes = rng.integers(0 if rng.random() < 0.1 else 1, 9, size=length).astype(np.int64)
        initializers.append(numpy_helper.from_array(sizes, f"sizes{k}"))
        ins.append(f"sizes{k}")
    attributes: dict = {}
    if rng.random() < 0.2 and length:
        attributes["axes"] = (
            [int(a) for a in rng.permutation(length) - (length if rng.random() < 0.5 else 0)]
            if rng.random() < 0.7
            else [int(a) for a in rng.integers(-4, 4, size=length)]
        )
    if rng.random() < 0.3:
        attributes["mode"] = str(rng.choice(["nearest", "linear", "cubic"]))
    if rng.random() < 0.05:
        attributes["keep_aspect_ratio_policy"] = "not_larger"
    return "Resize", ins, attributes


def _random_reduction(rng, pick, k: int, initializers: list):
    """A reduction of REDUCTIONS (axes as an attribute or an input, whichever the opset
    defines — the graph's opset is not known here, so both, each left out now and then; axes
    out of range, repeated or empty; keepdims and noop_with_empty_axes at random), or an
    ArgMax/ArgMin (axis at random or left out, keepdims, select_last_index)."""
    if rng.random() < 0.25:
        attributes = {"keepdims": int(rng.integers(0, 2))} if rng.random() < 0.6 else {}
        if rng.random() < 0.7:
            attributes["axis"] = int(rng.integers(-4, 4))
        if rng.random() < 0.2:
            attributes["select_last_index"] = 1
        return str(rng.choice(["ArgMax", "ArgMin"])), [pick()], attributes
    op = str(rng.choice(REDUCTIONS))
    axes = [int(a) for a in rng.integers(-3, 3, size=int(rng.integers(0, 3)))]
    attributes: dict = {}
    if rng.random() < 0.6:
        attributes["keepdims"] = int(rng.integers(0, 2))
    ins = [pick()]
    if rng.random() < 0.5:  # as an input (declined, or an error, where the op takes an attribute)
        if rng.random() < 0.8:
            initializers.append(numpy_helper.from_array(np.array(axes, np.int64), f"axes{k}"))
            ins.append(f"axes{k}")
        if rng.random() < 0.3:
            attributes["noop_with_empty_axes"] = int(rng.integers(0, 2))
    elif rng.random() < 0.8 and axes:  # (an empty INTS attribute reads as none)
        attributes["axes"] = axes
    return op, ins, attributes


def _random_slice(rng, pick, k: int, initializers: list):
    """A Slice of random starts, ends, axes and steps (out of range, of other lengths, a step
    of 0, INT32 or a tensor of the graph now and then; axes and steps left out)."""
    size = int(rng.integers(1, 3))

    def bounds(name: str, low: int, high: int, length: int = size) -> str:
        values = [int(v) for v in rng.integers(low, high, size=length)]
        if rng.random() < 0.1 and values:
            values[0] = int(rng.choice([2**62, -(2**62)]))
        if rng.random() < 0.03:
            values = [max(-9, min(9, v)) for v in values]
            initializers.append(numpy_helper.from_array(np.array(values, np.int32), name))
        else:
            initializers.append(_int64(name, values))
        return name

    ins = [
        pick(),
        bounds(f"starts{k}", -5, 6),
        bounds(f"ends{k}", -5, 7, size + (rng.random() < 0.03)),
    ]
    if rng.random() < 0.6:
        ins.append(bounds(f"axes{k}", -4, 4) if rng.random() < 0.9 else "")
        if rng.random() < 0.5:
            steps = [int(s) for s in rng.choice([-2, -1, 1, 1, 2, 0], size=size)]
            initializers.append(_int64(f"steps{k}", steps))
            ins.append(f"steps{k}")
    if rng.random() < 0.15:
        ins[int(rng.integers(1, len(ins)))] = pick()  # a bound the graph computes
    return "Slice", ins, {}


def _random_squeeze(rng, pick, k: int, initializers: list, unsqueeze: bool):
    """An Unsqueeze or a Squeeze of random axes (out of range or given twice now and then; a
    Squeeze's left out, or a tensor of the graph)."""
    axes = [int(a) for a in rng.integers(-3, 4, size=rng.integers(0 if not unsqueeze else 1, 3))]
    choice = rng.integers(0, 10)
    if choice < 7:
        initializers.append(_int64(f"axes{k}", axes))
        return ("Unsqueeze" if unsqueeze else "Squeeze"), [pick(), f"axes{k}"], {}
    if choice < 9 and not unsqueeze:
        return "Squeeze", [pick()], {}
    return ("Unsqueeze" if unsqueeze else "Squeeze"), [pick(), pick()], {}


def random_model(seed: int) -> onnx.ModelProto:
    """A graph of the modelled ops (and a few others) with random shapes and attributes,
    valid or not: what ONNX infers or refuses is the reference either way."""
    rng = np.random.default_rng(seed)
    opset = int(
        rng.choice(
            [11, 12, 13, 14, 15, 17, 18, 19, 21, 23, 25, 27, 28] + [10, 29] * (seed % 7 == 0)
        )
    )
    float_type = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT16,
                                 TensorProto.DOUBLE]))  # fmt: skip
    inputs = [
        _value_info(f"x{k}", float_type, _random_shape(rng)) for k in range(rng.integers(1, 4))
    ]
    if rng.random() < 0.05:
        inputs.append(_value_info("ints", TensorProto.INT64, _random_shape(rng)))
    tensors = [value.name for value in inputs]
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    if rng.random() < 0.3:
        weight = rng.standard_normal(
            [int(rng.choice([1, 2, 3, 4])) for _ in range(rng.integers(1, 3))]
        ).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, "w"))
        tensors.append("w")
    uses_foreign = False

    def pick() -> str:
        return str(rng.choice(tensors[-6:] if rng.random() < 0.7 else tensors))

    for k in range(int(rng.integers(3, 25))):
        out = f"t{k}"
        choice = rng.integers(0, 100)
        attributes: dict = {}
        domain = ""
        if choice < 16:
            op, ins = str(rng.choice(UNARY)), [pick()]
        elif choice < 20:
            op, ins, attributes = _random_elementwise(rng, pick, k, initializers)
        elif choice < 45:
            op, ins = str(rng.choice(BINARY)), [pick(), pick()]
        elif choice < 55:
            op, ins = "MatMul", [pick(), pick()]
        elif choice < 62:
            op, ins = str(rng.choice(["Softmax", "LogSoftmax", "Hardmax"])), [pick()]
            if rng.random() < 0.7:
                attributes["axis"] = int(rng.integers(-5, 5))
        elif choice < 70:
            op, ins = "Transpose", [pick()]
            if rng.random() < 0.7:
                rank = int(rng.integers(0, 5))
                perm = list(rng.permutation(rank))
                if rng.random() < 0.1 and perm:
                    perm[0] = rank  # out of range
                attributes["perm"] = [int(p) for p in perm]
        elif choice < 78:
            shape_name = f"shape{k}"
            values = [int(v) for v in rng.choice([-1, 0, 0, 1, 2, 3, 4, 6, 12, -2],
                                                 size=rng.integers(0, 5))]  # fmt: skip
            initializers.append(_int64(shape_name, values))
            op, ins = "Reshape", [pick(), shape_name]
            if opset >= 14 and rng.random() < 0.2:
                attributes["allowzero"] = int(rng.integers(0, 2))
        elif choice < 86:
            op, ins = "ReduceMean", [pick()]
            axes = [int(a) for a in rng.integers(-4, 4, size=rng.integers(0, 3))]
            if opset >= 18:
                if rng.random() < 0.7:
                    initializers.append(_int64(f"axes{k}", axes))
                    ins.append(f"axes{k}")
                if rng.random() < 0.3:
                    attributes["noop_with_empty_axes"] = int(rng.integers(0, 2))
            elif rng.random() < 0.7:
                attributes["axes"] = axes
            if rng.random() < 0.5:
                attributes["keepdims"] = int(rng.integers(0, 2))
        elif choice < 90:
            op, ins = "Cast", [pick()]
            attributes["to"] = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16,
                                               TensorProto.DOUBLE]))  # fmt: skip
        elif choice < 94:
            value = rng.standard_normal(
                [int(rng.choice([1, 2, 3])) for _ in range(rng.integers(0, 3))]
            ).astype(np.float32)
            op, ins = "Constant", []
            attributes["value"] = _constant_value(rng, value)
        else:
            op, ins, domain = "Gelu", [pick()], "com.example"
            uses_foreign = True
        node = helper.make_node(op, ins, [out], name=f"n{k}", domain=domain)
        for key, value in attributes.items():
            ints = isinstance(value, list)
            node.attribute.append(
                helper.make_attribute(
                    key, value, attr_type=onnx.AttributeProto.INTS if ints else None
                )
            )
        nodes.append(node)
        tensors.append(out)
    outputs = []
    for name in dict.fromkeys([tensors[-1], str(rng.choice(tensors[len(inputs) :]))]):
        if name in {value.name for value in inputs} or name == "w":
            continue
        outputs.append(_declared(rng, name, float_type))
    imports = [helper.make_opsetid("", opset)]
    if uses_foreign:
        imports.append(helper.make_opsetid("com.example", 1))
    graph = helper.make_graph(nodes, "random", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def _model_of(nodes, name, inputs, outputs, initializers, opset: int, foreign: bool):
    """A model of these nodes at `opset`, importing com.example too where `foreign`."""
    imports = [helper.make_opsetid("", opset)]
    if foreign:
        imports.append(helper.make_opsetid("com.example", 1))
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def random_elementwise_model(seed: int) -> onnx.ModelProto:
    """A graph of the ops of `_random_elementwise`, a few plain unary and binary ops, Casts,
    small Constants and now and then an op without a schema: each of these ops met more
    often than in `random_model`, and the values data propagation passes on (a rank-1
    tensor's, through Add, Sub, Mul, Cast, Unsqueeze, Squeeze, Gather and Slice)."""
    rng = np.random.default_rng(seed)
    opset = int(rng.choice([11, 12, 13, 14, 17, 18, 20, 21, 25, 26, 27, 28]))
    float_type = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16]))
    inputs = [_value_info(f"x{k}", float_type, _random_shape(rng)) for k in range(2)]
    if rng.random() < 0.1:
        inputs.append(_value_info("ints", TensorProto.INT64, _random_shape(rng)))
    tensors = [value.name for value in inputs]
    nodes, initializers = [], []
    uses_foreign = False

    def pick() -> str:
        return str(rng.choice(tensors[-3:] if rng.random() < 0.8 else tensors))

    for k in range(int(rng.integers(2, 12))):
        choice, domain, attributes = rng.integers(0, 100), "", {}
        if choice < 60:
            op, ins, attributes = _random_elementwise(rng, pick, k, initializers)
        elif choice < 75:
            op, ins = str(rng.choice(UNARY)), [pick()]
        elif choice < 85:  # (Add, Sub and Mul pass values of data propagation on)
            op, ins = str(rng.choice(BINARY)), [pick(), pick()]
        elif choice < 90:
            op, ins, attributes = "Cast", [pick()], {"to": float_type}
        elif choice < 95:
            value = rng.standard_normal([int(rng.integers(1, 4))] * int(rng.integers(0, 2)))
            op, ins = "Constant", []
            attributes = {"value": _constant_value(rng, value.astype(np.float32))}
        else:
            op, ins, domain, uses_foreign = "Gelu", [pick()], "com.example", True
        nodes.append(
            helper.make_node(op, ins, [f"t{k}"], name=f"n{k}", domain=domain, **attributes)
        )
        tensors.append(f"t{k}")
    outputs = [_declared(rng, tensors[-1], float_type)]
    return _model_of(nodes, "elementwise", inputs, outputs, initializers, opset, uses_foreign)


def random_misc_model(seed: int) -> onnx.ModelProto:
    """A graph of the first-input ops with inputs or attributes of their own (CumSum, PRelu,
    LRN, LpNormalization, ScatterND, RMSNormalization), Sum and Mean of one to four inputs
    broadcast, Dropout (ratio and training_mode of random ranks or left out, with its mask
    now and then), IsNaN and IsInf (an untyped input
    among them: after an op without a schema), and a few unary ops: attributes of another
    type, or that the op does not define, now and then."""
    rng = np.random.default_rng(seed)
    opset = int(rng.choice([11, 12, 13, 14, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28]))
    float_type = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE]))
    inputs = [_value_info(f"x{k}", float_type, _random_shape(rng)) for k in range(2)]
    tensors = [value.name for value in inputs]
    nodes, initializers = [], []
    uses_foreign = False

    def pick() -> str:
        return str(rng.choice(tensors[-3:] if rng.random() < 0.8 else tensors))

    def scalar_like(name: str, elem) -> str:
        shape = [] if rng.random() < 0.8 else [int(rng.integers(1, 3))]
        initializers.append(numpy_helper.from_array(np.zeros(shape, elem), name))
        return name

    for k in range(int(rng.integers(2, 12))):
        choice, domain, attributes, outs = rng.integers(0, 100), "", {}, [f"t{k}"]
        if choice < 15:
            op, ins = str(rng.choice(["Sum", "Mean"])), [pick() for _ in range(rng.integers(1, 5))]
        elif choice < 27:
            op = "CumSum"
            axis = scalar_like(f"axis{k}", rng.choice([np.int64, np.int32]))
            ins = [pick(), axis if rng.random() < 0.9 else pick()]
            for name in ("exclusive", "reverse"):
                if rng.random() < 0.3:
                    attributes[name] = int(rng.integers(0, 2))
        elif choice < 37:
            op, ins = "PRelu", [pick(), pick()]
        elif choice < 45:
            op, ins = "LRN", [pick()]
            if rng.random() < 0.9:
                attributes["size"] = int(rng.integers(1, 6))
            for name in ("alpha", "beta", "bias"):
                if rng.random() < 0.3:
                    attributes[name] = float(rng.random())
        elif choice < 65:
            op, ins = "Dropout", [pick()]
            for name, elem in (("ratio", np.float32), ("training_mode", np.bool_)):
                if rng.random() < 0.5 and (opset >= 12 or rng.random() < 0.1):  # (10: none)
                    ins.append(scalar_like(f"{name}{k}", elem) if rng.random() < 0.8 else "")
            if ins[-1] == "":
                ins.pop()
            if rng.random() < 0.2:
                attributes["seed"] = int(rng.integers(0, 9))
            elif opset < 12 and rng.random() < 0.5:  # (Dropout-10's ratio, an attribute)
                attributes["ratio"] = float(rng.random())
            if rng.random() < 0.4:
                outs.append(f"mask{k}")
        elif choice < 70:
            op, ins = str(rng.choice(["IsNaN", "IsInf"])), [pick()]
            if op == "IsInf" and rng.random() < 0.4:
                attributes["detect_negative"] = int(rng.integers(0, 2))
        elif choice < 74:
            op, ins = "LpNormalization", [pick()]
            for name, low, high in (("axis", -4, 4), ("p", 1, 3)):
                if rng.random() < 0.5:
                    attributes[name] = int(rng.integers(low, high))
        elif choice < 80:
            indices = rng.integers(0, 2, size=[int(rng.integers(1, 3)), int(rng.integers(1, 3))])
            initializers.append(numpy_helper.from_array(indices.astype(np.int64), f"idx{k}"))
            op, ins = "ScatterND", [pick(), f"idx{k}", pick()]
            if rng.random() < 0.3:
                attributes["reduction"] = str(rng.choice(["none", "add", "mul"]))
        elif choice < 86:
            op, ins = "RMSNormalization", [pick(), pick()]
            if rng.random() < 0.6:
                attributes["axis"] = int(rng.integers(-5, 4))
            if rng.random() < 0.3:
                attributes["epsilon"] = float(rng.random())
        elif choice < 92:
            op, ins = str(rng.choice(UNARY[:-1])), [pick()]
        else:
            op, ins, domain, uses_foreign = "Gelu", [pick()], "com.example", True
        if rng.random() < 0.03:
            attributes["alpha" if rng.random() < 0.5 else "size"] = 1.5 if op == "LRN" else 1
        nodes.append(helper.make_node(op, ins, outs, name=f"n{k}", domain=domain, **attributes))
        if op not in ("IsNaN", "IsInf"):  # (BOOL: the next nodes read floats)
            tensors.append(f"t{k}")
    outputs = [_declared(rng, tensors[-1], float_type)]
    return _model_of(nodes, "misc", inputs, outputs, initializers, opset, uses_foreign)


def random_einsum_model(seed: int) -> onnx.ModelProto:
    """Einsums of one to three operands of random ranks and dims, their equations made from
    the operands' ranks (an ellipsis in place of some dims, a right-hand side or none, its
    labels sometimes missing from the inputs, spaces, a rank that does not fit now and then),
    one after another and after a Relu."""
    rng = np.random.default_rng(70_000 + seed)
    opset = int(rng.choice([11, 12, 13, 17, 21, 25, 26, 27, 28]))
    letters = "abcdAB"
    inputs, nodes = [], []
    tensors = []
    for k in range(3):
        shape = _random_shape(rng)
        inputs.append(_value_info(f"x{k}", TensorProto.FLOAT, shape))
        tensors.append(f"x{k}")

    def term(rank: int, ellipsis_dims: int | None) -> str:
        if rng.random() < 0.05:
            rank += int(rng.choice([-1, 1]))
        labels = [str(rng.choice(list(letters))) for _ in range(max(rank, 0))]
        if ellipsis_dims is not None and ellipsis_dims <= len(labels):
            at = int(rng.integers(0, len(labels) - ellipsis_dims + 1))
            labels[at : at + ellipsis_dims] = ["..."]
        if rng.random() < 0.05:  # (a character outside the spec: onnx never ends, `test_...`)
            labels.insert(int(rng.integers(0, len(labels) + 1)), " ")
        return "".join(labels)

    for k in range(int(rng.integers(1, 4))):
        operands = [str(rng.choice(tensors)) for _ in range(int(rng.integers(1, 4)))]
        ranks = []
        for name in operands:
            value = next((v for v in inputs if v.name == name), None)
            known = value is not None and value.type.tensor_type.HasField("shape")
            ranks.append(
                len(value.type.tensor_type.shape.dim) if known else int(rng.integers(0, 4))
            )
        ellipsis = int(rng.integers(0, 3)) if rng.random() < 0.3 else None
        left = ",".join(term(rank, ellipsis) for rank in ranks)
        equation = left
        if rng.random() < 0.6:
            used = [c for c in left if c.isalpha()]
            right = [str(rng.choice(used)) for _ in range(int(rng.integers(0, 3)))] if used else []
            right = list(dict.fromkeys(right))
            if rng.random() < 0.05:
                right.append("z")  # a label missing from the inputs
            if "..." in left and rng.random() < 0.7:
                right.insert(0, "...")
            equation += "->" + "".join(right)
        if rng.random() < 0.05:
            equation = equation.replace(",", ", ")
        attributes = {"equation": equation} if rng.random() < 0.97 else {}
        nodes.append(helper.make_node("Einsum", operands, [f"e{k}"], name=f"n{k}", **attributes))
        tensors.append(f"e{k}")
        if rng.random() < 0.3:
            nodes.append(helper.make_node("Relu", [f"e{k}"], [f"r{k}"]))
            tensors.append(f"r{k}")
    outputs = [helper.make_empty_tensor_value_info(tensors[-1])]
    graph = helper.make_graph(nodes, "einsum", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


# -- random graphs of shapes and integer tensors ------------------------------------------------
def random_shape_model(seed: int) -> onnx.ModelProto:
    """What LLM builders and exporters write around a graph's shapes: Shape (start and end at
    random, past the rank now and then), Gathers of its values (indices in and out of range),
    Casts to INT32 and INT64, integer arithmetic with constants, Unsqueeze, Squeeze and Slice
    of integer tensors, ReduceSum of an INT64 mask (axes constant or left out, keepdims,
    noop_with_empty_axes), Reshapes of constant shapes and of shapes the graph computes
    (propagated values: dims, names, unknowns, -1 and 0), Concats of them, of constants and of
    other tensors (along axis 0 and others), Expands to such shapes, Where, Trilu and Split
    (sizes given, num_outputs, neither), Gemm, Flatten, GatherElements, Min and Max,
    comparisons, Range and ConstantOfShape (of constants and of computed shapes), and ops
    without a schema in the
    default domain (onnxruntime's SimplifiedLayerNormalization) and in com.microsoft."""
    rng = np.random.default_rng(seed)
    opset = int(rng.choice([11, 12, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26, 27, 28]))
    float_type = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16]))
    inputs = [
        _value_info("x", float_type, _random_shape(rng)),
        _value_info("mask", TensorProto.INT64, _random_shape(rng)),
    ]
    tensors = [value.name for value in inputs]
    nodes, initializers = [], []
    foreign = False

    def pick() -> str:
        return str(rng.choice(tensors[-3:] if rng.random() < 0.8 else tensors))

    def constant(k: int, rank: int, low: int = -3, high: int = 4) -> str:
        values = rng.integers(low, high, size=[int(rng.integers(1, 3))] * rank).astype(np.int64)
        if rng.random() < 0.2:
            values = values.astype(np.int32)
        initializers.append(numpy_helper.from_array(values, f"c{k}"))
        return f"c{k}"

    for k in range(int(rng.integers(2, 14))):
        choice, domain, attributes = int(rng.integers(0, 163)), "", {}
        outputs = [f"t{k}"]
        if choice >= 158:  # ConstantOfShape of a shape the graph computes, or a constant
            op, ins = "ConstantOfShape", [pick() if rng.random() < 0.6 else constant(k, 1, 0, 4)]
            if rng.random() < 0.6:
                elem = int(rng.choice([TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL]))
                dims = [1] if rng.random() < 0.9 else []
                attributes["value"] = helper.make_tensor("v", elem, dims, [1])
        elif choice >= 153:  # Range of constant scalars or computed tensors
            ins = []
            for bound, low, high in ((0, -2, 3), (1, -3, 9), (2, -2, 3)):
                if rng.random() < 0.7:
                    value = (
                        int(rng.integers(low, high)) or 1
                        if bound == 2
                        else int(rng.integers(low, high))
                    )
                    initializers.append(_scalar(f"r{k}_{bound}", value, rng.random() < 0.1))
                    ins.append(f"r{k}_{bound}")
                else:
                    ins.append(pick())
            op = "Range"
            if rng.random() < 0.2:  # (an attribute of Range-27, read by no inference)
                attributes["stash_type"] = int(rng.choice([1, 11]))
        elif choice >= 147:  # comparisons and logical ops: BOOL, broadcast
            op = str(
                rng.choice(["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And"])
            )
            ins = [pick(), pick() if rng.random() < 0.7 else constant(k, int(rng.integers(0, 2)))]
        elif choice >= 143:  # Min and Max of one to three tensors
            op, ins = str(rng.choice(["Min", "Max"])), [pick() for _ in range(rng.integers(1, 4))]
        elif choice >= 140:  # GatherElements: the indices' shape
            op, ins = "GatherElements", [pick(), pick()]
            if rng.random() < 0.5:
                attributes["axis"] = int(rng.integers(-1, 2))
        elif choice >= 137:  # Flatten
            op, ins = "Flatten", [pick()]
            if rng.random() < 0.8:
                attributes["axis"] = int(rng.integers(-4, 5))
        elif choice >= 133:  # Gemm (transA, transB; C or not)
            op, ins = "Gemm", [pick(), pick()] + ([pick()] if rng.random() < 0.5 else [])
            for name in ("transA", "transB"):
                if rng.random() < 0.5:
                    attributes[name] = int(rng.integers(0, 2))
            if rng.random() < 0.3:
                attributes["alpha"] = 0.5
        elif choice >= 127:  # Split: sizes a constant, num_outputs (18), or neither
            op, ins = "Split", [pick()]
            parts = int(rng.integers(1, 4))
            outputs += [f"t{k}_{i}" for i in range(1, parts)]
            if opset < 13:  # (Split-11: the sizes an attribute, at times not one per output)
                if rng.random() < 0.6:
                    count = parts + int(rng.random() < 0.1)
                    attributes["split"] = [int(v) for v in rng.integers(0, 4, size=count)]
            elif rng.random() < 0.5:
                ins.append(constant(k, 1, 0, 4) if rng.random() < 0.8 else pick())
            if opset >= 18 and rng.random() < 0.7:
                attributes["num_outputs"] = parts if rng.random() < 0.9 else parts + 1
            if rng.random() < 0.7:
                attributes["axis"] = int(rng.integers(-2, 2))
        elif choice >= 122:  # Expand to a shape the graph computes, or a constant one
            shape = pick() if rng.random() < 0.6 else constant(k, 1, 1, 3)
            op, ins = "Expand", [pick(), shape]
        elif choice >= 117:  # Where of three tensors broadcast
            op, ins = "Where", [pick(), pick(), pick()]
        elif choice >= 112:  # Trilu (of rank 2 at least), its k a constant
            op, ins = "Trilu", [pick()] + ([constant(k, 0)] if rng.random() < 0.4 else [])
            if rng.random() < 0.5:
                attributes["upper"] = int(rng.integers(0, 2))
        elif choice >= 100:  # Concat of shapes, constants and other tensors
            op, ins = "Concat", [pick() for _ in range(int(rng.integers(1, 4)))]
            if rng.random() < 0.5:
                ins.insert(int(rng.integers(0, len(ins) + 1)), constant(k, 1, -1, 5))
            if rng.random() < 0.95:
                attributes["axis"] = int(rng.choice([0, 0, 0, -1, 1, -2]))
        elif choice < 18:
            op, ins = "Shape", [pick()]
            if opset >= 15 or rng.random() < 0.05:
                for name in ("start", "end"):
                    if rng.random() < 0.5:
                        attributes[name] = int(rng.integers(-6, 7))
        elif choice < 32:
            op, ins = "Gather", [pick(), constant(k, int(rng.integers(0, 2)))]
            if rng.random() < 0.2:
                attributes["axis"] = int(rng.integers(-2, 2))
        elif choice < 42:
            op, ins = "Cast", [pick()]
            attributes["to"] = int(rng.choice([TensorProto.INT32, TensorProto.INT64, float_type]))
        elif choice < 56:
            op = str(rng.choice(["Add", "Sub", "Mul", "Div"]))
            ins = [
                pick(),
                constant(k, int(rng.integers(0, 2)), 1, 3) if rng.random() < 0.6 else pick(),
            ]
        elif choice < 64:
            op, ins, attributes = _random_squeeze(rng, pick, k, initializers, rng.random() < 0.5)
        elif choice < 70:
            op, ins, attributes = _random_slice(rng, pick, k, initializers)
        elif choice < 80:
            op, ins = "ReduceSum", [pick()]
            if rng.random() < 0.7:
                axes = [int(a) for a in rng.integers(-3, 3, size=rng.integers(0, 3))]
                initializers.append(_int64(f"axes{k}", axes))
                ins.append(f"axes{k}")
            for name in ("keepdims", "noop_with_empty_axes"):
                if rng.random() < 0.4:
                    attributes[name] = int(rng.integers(0, 2))
        elif choice < 85:
            if rng.random() < 0.5:
                shape = [int(v) for v in rng.choice([-1, 0, 1, 2, 4], size=rng.integers(1, 4))]
                initializers.append(_int64(f"shape{k}", shape))
                op, ins = "Reshape", [pick(), f"shape{k}"]
            else:  # a shape the graph computes (data propagation's values, or its rank)
                op, ins = "Reshape", [pick(), pick()]
            if opset >= 14 and rng.random() < 0.3:
                attributes["allowzero"] = int(rng.integers(0, 2))
        elif choice < 90:
            op, ins = "Relu", [pick()]
        elif choice < 95:
            op, ins = "SimplifiedLayerNormalization", [pick(), pick()]
            attributes["epsilon"] = 1e-5
        else:
            op, ins, domain, foreign = (
                "GroupQueryAttention",
                [pick(), pick()],
                "com.microsoft",
                True,
            )
        nodes.append(helper.make_node(op, ins, outputs, name=f"n{k}", domain=domain, **attributes))
        tensors.extend(outputs)
    outputs = [_declared(rng, tensors[-1], TensorProto.INT64 if rng.random() < 0.5 else float_type)]
    imports = [helper.make_opsetid("", opset)]
    if foreign:
        imports.append(helper.make_opsetid("com.microsoft", 1))
    graph = helper.make_graph(nodes, "shapes", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


# -- random quantized graphs ------------------------------------------------------------------
_ZERO_POINT_TYPES = (np.int8, np.uint8, np.int8, np.int32, np.int16)


def random_quantized_model(seed: int) -> onnx.ModelProto:
    """Layers as quantizers write them (QuantizeLinear, DequantizeLinear of the activation and
    of a weight, MatMul, Add of a dequantized INT32 bias, Relu; or dynamic ones:
    `_random_dynamic_layer`) with random variations: scales
    of FLOAT or FLOAT16, zero points of several types, left out or given as an empty name or
    an untyped value, per-axis and block attributes, attributes an opset does not define,
    `output_dtype`, data without a shape."""
    rng = np.random.default_rng(20_000 + seed)
    opset = int(rng.choice([11, 12, 13, 17, 19, 21, 23, 25, 26, 27, 28]))
    hidden = int(rng.choice([2, 4]))
    inputs = [
        _value_info(
            "x", TensorProto.FLOAT, _random_shape(rng) if rng.random() < 0.2 else ["N", hidden]
        )
    ]
    nodes, initializers, current = [], [], "x"
    uses_foreign = False
    for k in range(int(rng.integers(1, 5))):
        if rng.random() < 0.3:
            current = _random_dynamic_layer(rng, k, current, hidden, nodes, initializers)
            continue
        scale_type = np.float16 if opset >= 19 and rng.random() < 0.2 else np.float32
        initializers.append(numpy_helper.from_array(np.array(0.05, scale_type), f"s{k}"))
        zp_type = _ZERO_POINT_TYPES[int(rng.integers(len(_ZERO_POINT_TYPES)))]
        initializers.append(numpy_helper.from_array(np.array(0, zp_type), f"z{k}"))
        zero_point = str(rng.choice([f"z{k}", f"z{k}", "", "none", "untyped"]))
        q_inputs = [current, f"s{k}"] + {"": [""], "none": [], "untyped": [f"u{k}"]}.get(
            zero_point, [zero_point]
        )
        if zero_point == "untyped":
            nodes.append(helper.make_node("Gelu", ["x"], [f"u{k}"], domain="com.example"))
            uses_foreign = True
        attributes: dict = {}
        if rng.random() < 0.2:
            attributes["axis"] = int(rng.integers(-2, 2))
        if rng.random() < 0.1:
            attributes["saturate"] = 1
        if rng.random() < 0.05:
            attributes["block_size"] = 2
        if rng.random() < 0.05:
            attributes["output_dtype"] = int(TensorProto.INT8)
        nodes.append(helper.make_node("QuantizeLinear", q_inputs, [f"q{k}"], **attributes))
        dq_inputs = [f"q{k}", f"s{k}"] + ([q_inputs[2]] if len(q_inputs) > 2 else [])
        nodes.append(helper.make_node("DequantizeLinear", dq_inputs, [f"dq{k}"]))
        weight = rng.integers(-5, 5, (hidden, hidden)).astype(np.int8)
        initializers += [
            numpy_helper.from_array(weight, f"w{k}"),
            numpy_helper.from_array(np.full(hidden, 0.01, np.float32), f"ws{k}"),
            numpy_helper.from_array(np.zeros(hidden, np.int8), f"wz{k}"),
            numpy_helper.from_array(rng.integers(-9, 9, hidden).astype(np.int32), f"b{k}"),
            numpy_helper.from_array(np.array(0.0005, np.float32), f"bs{k}"),
        ]
        nodes += [
            helper.make_node("DequantizeLinear", [f"w{k}", f"ws{k}", f"wz{k}"], [f"wd{k}"], axis=1),
            helper.make_node("DequantizeLinear", [f"b{k}", f"bs{k}"], [f"bd{k}"]),
            helper.make_node("MatMul", [f"dq{k}", f"wd{k}"], [f"mm{k}"]),
            helper.make_node("Add", [f"mm{k}", f"bd{k}"], [f"a{k}"]),
            helper.make_node("Relu", [f"a{k}"], [f"r{k}"]),
        ]
        current = f"r{k}"
    outputs = [helper.make_empty_tensor_value_info(current)]
    if rng.random() < 0.3:
        outputs.append(_value_info("q0", TensorProto.INT8, None))  # maybe not the zero point's
    imports = [helper.make_opsetid("", opset)]
    if uses_foreign:
        imports.append(helper.make_opsetid("com.example", 1))
    graph = helper.make_graph(nodes, "quantized", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def _random_dynamic_layer(rng, k: int, current: str, hidden: int, nodes, initializers) -> str:
    """A layer as onnxruntime's dynamic quantization writes it (DynamicQuantizeLinear of the
    activation, MatMulInteger with the weight, the product of the scales): weights of UINT8
    or INT8 and of rank 1 to 3 (now and then of another inner dim: a failing MatMul), zero
    points given, left out or an empty name. Its output's name."""
    weight_type = np.uint8 if rng.random() < 0.5 else np.int8
    inner = hidden if rng.random() < 0.9 else hidden + 1
    shape = {1: [inner], 2: [inner, hidden], 3: [2, inner, hidden]}[int(rng.integers(1, 4))]
    initializers += [
        numpy_helper.from_array(rng.integers(0, 9, shape).astype(weight_type), f"mw{k}"),
        numpy_helper.from_array(np.array(0, weight_type), f"mwz{k}"),
        numpy_helper.from_array(np.array(0.01, np.float32), f"mws{k}"),
    ]
    zero_points = [[], [""], [f"my{k}_zp"], [f"my{k}_zp", f"mwz{k}"], ["", f"mwz{k}"]]
    chosen = zero_points[int(rng.integers(len(zero_points)))]
    nodes += [
        helper.make_node(
            "DynamicQuantizeLinear", [current], [f"my{k}", f"my{k}_scale", f"my{k}_zp"]
        ),
        helper.make_node("MatMulInteger", [f"my{k}", f"mw{k}", *chosen], [f"mi{k}"]),
        helper.make_node("Cast", [f"mi{k}"], [f"mc{k}"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [f"my{k}_scale", f"mws{k}"], [f"msc{k}"]),
        helper.make_node("Mul", [f"mc{k}", f"msc{k}"], [f"md{k}"]),
    ]
    return f"md{k}"


def random_resize_model(seed: int) -> onnx.ModelProto:
    """Resizes of data of rank 1 to 4 (dims mostly values, now and then names) by `_random_
    resize`'s inputs, or by sizes the graph computes from the data's shape (Shape, Mul by a
    constant, Concat: data propagation's values)."""
    rng = np.random.default_rng(40_000 + seed)
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 9)) if rng.random() < 0.85 else "d" for _ in range(rank)]
    inputs = [_value_info("x", TensorProto.FLOAT, shape)]
    nodes, initializers, current = [], [], "x"
    for k in range(int(rng.integers(1, 3))):
        if rng.random() < 0.25:  # sizes computed: the data's dims, some doubled
            initializers.append(_int64(f"twice{k}", [int(v) for v in rng.integers(1, 3, rank)]))
            nodes += [
                helper.make_node("Shape", [current], [f"shape{k}"]),
                helper.make_node("Mul", [f"shape{k}", f"twice{k}"], [f"sizes{k}"]),
                helper.make_node("Resize", [current, "", "", f"sizes{k}"], [f"y{k}"]),
            ]
        else:
            op, ins, attributes = _random_resize(
                rng, lambda data=current: data, k, initializers, rank
            )
            nodes.append(helper.make_node(op, ins, [f"y{k}"], **attributes))
        current = f"y{k}"
    opset = int(rng.choice([11, 12, 13, 17, 18, 19, 21, 25, 26, 27, 28]))
    graph = helper.make_graph(
        nodes, "resize", inputs, [helper.make_empty_tensor_value_info(current)], initializers
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def random_detection_model(seed: int) -> onnx.ModelProto:
    """The ops of a detector's post-processing with random shapes (values, names, unknown;
    ranks at random, so that many fail) and attributes: NonZero, TopK (K a constant of one
    value, of another shape or type, or a graph's tensor), RoiAlign (rois of 4 or 5 columns,
    batch indices of another count now and then), ScatterElements, Mod, GatherND (batch_dims,
    an index depth beyond the data's rank), NonMaxSuppression, each reading the graph's
    inputs or an earlier node's output."""
    rng = np.random.default_rng(50_000 + seed)
    opset = int(rng.choice([11, 12, 13, 16, 17, 18, 21, 24, 25, 26, 27, 28]))
    inputs = [
        _value_info("x", TensorProto.FLOAT, _random_shape(rng)),
        _value_info("i", TensorProto.INT64, _random_shape(rng)),
    ]
    tensors = {"x": "float", "i": "int"}
    nodes, initializers = [], []

    def pick(kind: str) -> str:
        return str(rng.choice([n for n, k in tensors.items() if k == kind]))

    def shaped(name: str, elem: int, shape: list) -> str:
        inputs.append(_value_info(name, elem, shape if rng.random() < 0.9 else _random_shape(rng)))
        return name

    for k in range(int(rng.integers(1, 6))):
        op = str(rng.choice(["NonZero", "TopK", "RoiAlign", "ScatterElements", "Mod",
                             "BitShift", "GatherND", "NonMaxSuppression"]))  # fmt: skip
        attributes: dict = {}
        outputs = [f"y{k}"]
        if op == "NonZero":
            ins, kind = [pick(str(rng.choice(["float", "int"])))], "int"
        elif op == "TopK":
            choice = rng.random()
            if choice < 0.7:
                value = np.array([int(rng.integers(0, 5))], np.int64)
                if rng.random() < 0.1:
                    value = value.reshape([1, 1]) if rng.random() < 0.5 else value.astype(np.int32)
                initializers.append(numpy_helper.from_array(value, f"k{k}"))
                k_name = f"k{k}"
            else:
                k_name = shaped(f"k{k}", TensorProto.INT64, [1])
            ins, outputs, kind = [pick("float"), k_name], [f"y{k}", f"yi{k}"], "float"
            if rng.random() < 0.6:
                attributes["axis"] = int(rng.integers(-4, 4))
            if rng.random() < 0.3:
                attributes["largest"] = int(rng.integers(0, 2))
        elif op == "RoiAlign":
            rois = int(rng.choice([2, 3]))
            image = [str(rng.choice(["N", "M"])), int(rng.choice([1, 3])), 8, _random_dim(rng)]
            ins = [
                shaped(f"image{k}", TensorProto.FLOAT, image)
                if rng.random() < 0.8
                else pick("float"),
                shaped(f"rois{k}", TensorProto.FLOAT, [rois, int(rng.choice([4, 4, 5]))]),
                shaped(f"batch{k}", TensorProto.INT64, [int(rng.choice([rois, rois, 7]))]),
            ]
            kind = "float"
            for name in ("output_height", "output_width"):
                if rng.random() < 0.6:
                    attributes[name] = int(rng.integers(1, 8))
            if rng.random() < 0.3:
                attributes["mode"] = str(rng.choice(["avg", "max"]))
        elif op == "ScatterElements":
            ins = [pick("float"), pick("int"), pick("float")]
            kind = "float"
            if rng.random() < 0.5:
                attributes["axis"] = int(rng.integers(-2, 2))
        elif op == "Mod":
            ins, kind = [pick("int"), pick("int")], "int"
            if rng.random() < 0.3:
                attributes["fmod"] = 0
        elif op == "BitShift":
            ins, kind = [pick("int"), pick("int")], "int"
            if rng.random() < 0.9:  # (required: ONNX's inference does not check that)
                attributes["direction"] = str(rng.choice(["LEFT", "RIGHT"]))
        elif op == "GatherND":
            depth = int(rng.integers(0, 4))
            ins = [pick("float"), shaped(f"nd{k}", TensorProto.INT64, [2, depth])]
            if rng.random() < 0.3:
                ins[1] = pick("int")
            kind = "float"
            if rng.random() < 0.3:
                attributes["batch_dims"] = int(rng.integers(0, 2))
        else:
            ins = [
                shaped(f"boxes{k}", TensorProto.FLOAT, [1, 6, 4]),
                shaped(f"scores{k}", TensorProto.FLOAT, [1, 2, 6]),
            ]
            ins = ins[: int(rng.integers(1, 3))] if rng.random() < 0.05 else ins
            kind = "int"
            if rng.random() < 0.3:
                attributes["center_point_box"] = 1
        nodes.append(helper.make_node(op, ins, outputs, name=f"n{k}", **attributes))
        tensors[outputs[0]] = kind
        if len(outputs) > 1:
            tensors[outputs[1]] = "int"
    graph_outputs = [
        helper.make_empty_tensor_value_info(name) for name in tensors if name[0] == "y"
    ]
    graph = helper.make_graph(nodes, "detection", inputs, graph_outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


# -- random convolutions ----------------------------------------------------------------------
def random_conv_model(seed: int) -> onnx.ModelProto:
    """Chains of Conv, ConvTranspose (its output_shape, output_padding and group at random),
    MaxPool and AveragePool (1-D to 3-D; random kernels, strides,
    dilations, pads or auto_pad of each kind, a bias or not, ceil_mode; attributes of the
    wrong size, zero or negative, a kernel_shape that is not the weight's or none) with
    normalizations (`_random_normalization`), DepthToSpace or SpaceToDepth, Relu, a residual
    Add and a global pool, on data
    whose spatial dims are values, names or unknown, and weights whose dims may be unknown (a
    graph input)."""
    rng = np.random.default_rng(30_000 + seed)
    spatial = int(rng.integers(1, 4))
    channels = int(rng.choice([1, 2, 4]))

    def dim() -> int | str | None:
        return [int(rng.integers(1, 9)), "H", None, int(rng.integers(1, 9))][int(rng.integers(4))]

    shape = [str(rng.choice(["N", "batch"])), channels, *(dim() for _ in range(spatial))]
    if rng.random() < 0.05:
        shape = shape[:2]  # too few dims
    inputs = [_value_info("x", TensorProto.FLOAT, shape)]
    nodes, initializers, current = [], [], "x"
    for k in range(int(rng.integers(1, 4))):
        kernel = [int(rng.choice([1, 2, 3, 5])) for _ in range(spatial)]
        weight = f"w{k}"
        layer = str(rng.choice(["Conv", "Conv", "MaxPool", "AveragePool", "ConvTranspose"]))
        if rng.random() < 0.1:  # a weight of unknown dims
            inputs.append(
                _value_info(weight, TensorProto.FLOAT, [channels, channels, *([None] * spatial)])
            )
        else:
            array = np.zeros([channels, channels, *kernel], np.float32)
            initializers.append(numpy_helper.from_array(array, weight))
        attributes: dict = {}

        def ints(size: int, low: int, high: int) -> list[int]:
            if rng.random() < 0.05:
                size += int(rng.choice([-1, 1]))  # the wrong size
            return [int(rng.integers(low, high)) for _ in range(max(size, 0))]

        if rng.random() < 0.4:
            attributes["strides"] = (
                ints(spatial, 1, 4) if rng.random() < 0.95 else ints(spatial, -1, 1)
            )
        if rng.random() < 0.4:
            attributes["dilations"] = (
                ints(spatial, 1, 3) if rng.random() < 0.95 else ints(spatial, -1, 1)
            )
        if rng.random() < 0.3:
            attributes["kernel_shape"] = kernel if rng.random() < 0.8 else ints(spatial, 0, 4)
        if rng.random() < 0.4:
            attributes["pads"] = (
                ints(2 * spatial, 0, 3) if rng.random() < 0.95 else ints(2 * spatial, -2, 1)
            )
        elif rng.random() < 0.5:
            attributes["auto_pad"] = str(
                rng.choice(["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "OTHER"])
            )
        ins = [current, weight]
        if layer == "ConvTranspose":
            if rng.random() < 0.3:
                attributes["output_padding"] = ints(spatial, 0, 2) if rng.random() < 0.95 else [-1]
            if rng.random() < 0.25:
                attributes["output_shape"] = ints(spatial, 0, 20)
            if rng.random() < 0.3:
                attributes["group"] = int(rng.choice([1, 2, channels, 0, 3]))
            if "pads" in attributes and rng.random() < 0.1:
                attributes["auto_pad"] = str(rng.choice(["NOTSET", "SAME_UPPER"]))
        if layer not in ("Conv", "ConvTranspose"):  # a pool: its kernel_shape required
            ins = [current]
            if rng.random() < 0.95:
                attributes["kernel_shape"] = kernel
            if rng.random() < 0.2:
                attributes["ceil_mode"] = int(rng.integers(0, 2))
            if layer == "AveragePool" and rng.random() < 0.3:
                attributes["count_include_pad"] = int(rng.integers(0, 2))
        elif rng.random() < 0.2:
            attributes["group"] = 1
        if layer in ("Conv", "ConvTranspose") and rng.random() < 0.3:
            initializers.append(numpy_helper.from_array(np.zeros(channels, np.float32), f"b{k}"))
            ins.append(f"b{k}")
        conv = helper.make_node(layer, ins, [f"c{k}"])
        for key, value in attributes.items():
            kind = onnx.AttributeProto.INTS if isinstance(value, list) else None
            conv.attribute.append(helper.make_attribute(key, value, attr_type=kind))
        nodes.append(conv)
        current = f"c{k}"
        if rng.random() < 0.4:
            current = _random_normalization(rng, k, current, channels, inputs, nodes, initializers)
        if rng.random() < (0.3 if spatial == 2 else 0.03):  # (of a 4-D shape only)
            op = str(rng.choice(["DepthToSpace", "SpaceToDepth"]))
            attributes = {"blocksize": int(rng.choice([1, 2, 2, 3, 0]))}
            if (op == "DepthToSpace" or rng.random() < 0.3) and rng.random() < 0.5:
                attributes["mode"] = str(rng.choice(["DCR", "CRD"]))  # (SpaceToDepth's: 28)
            if rng.random() < 0.05:
                attributes = {}
            nodes.append(helper.make_node(op, [current], [f"s{k}"], **attributes))
            current = f"s{k}"
        nodes.append(helper.make_node("Relu", [current], [f"r{k}"]))
        current = f"r{k}"
        if rng.random() < 0.3:
            nodes.append(helper.make_node("Add", [current, "x"], [f"a{k}"]))
            current = f"a{k}"
    if rng.random() < 0.3:
        pool = str(rng.choice(["GlobalAveragePool", "GlobalMaxPool"]))
        nodes.append(helper.make_node(pool, [current], ["pooled"]))
        current = "pooled"
    outputs = [helper.make_empty_tensor_value_info(current)]
    opset = int(rng.choice([11, 12, 13, 14, 17, 19, 21, 22, 25, 26, 27, 28]))
    graph = helper.make_graph(nodes, "conv", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _random_normalization(rng, k, current, channels, inputs, nodes, initializers) -> str:
    """A BatchNormalization (its four parameters of `channels` values; now and then of
    another count, another rank or unknown dims: a graph input) or an InstanceNormalization
    of `current`; its output's name."""
    if rng.random() < 0.2:
        ins = [current, f"in_scale{k}", f"in_bias{k}"]
        for name in ins[1:]:
            initializers.append(numpy_helper.from_array(np.ones(channels, np.float32), name))
        nodes.append(helper.make_node("InstanceNormalization", ins, [f"n{k}"], epsilon=1e-5))
        return f"n{k}"
    ins = [current]
    for name in ("scale", "bias", "mean", "var"):
        name = f"bn_{name}{k}"
        shape = [channels]
        choice = rng.random()
        if choice < 0.05:
            shape = [channels + 1]
        elif choice < 0.1:
            shape = [channels, 1]
        if rng.random() < 0.1:
            inputs.append(_value_info(name, TensorProto.FLOAT, [None] * len(shape)))
        else:
            initializers.append(numpy_helper.from_array(np.ones(shape, np.float32), name))
        ins.append(name)
    attributes = {"epsilon": 1e-5} if rng.random() < 0.5 else {}
    if rng.random() < 0.2:
        attributes["momentum"] = 0.9
    if rng.random() < 0.1:
        attributes["training_mode"] = 0
    nodes.append(helper.make_node("BatchNormalization", ins, [f"n{k}"], **attributes))
    return f"n{k}"


# -- random graphs with Ifs -------------------------------------------------------------------
_BODY_OPS = ("Relu", "Neg", "Identity", "Sigmoid", "Add", "Mul", "MatMul", "Softmax",
             "Transpose", "Cast", "Constant", "Reshape", "If")  # fmt: skip
#: mostly ops whose inference fails on no input, so that most graphs are ones ONNX infers
_BODY_WEIGHTS = np.array([16, 16, 16, 10, 6, 6, 2, 2, 2, 4, 5, 3, 12]) / 100
_BODY_WEIGHTS_LEAF = np.append(_BODY_WEIGHTS[:-1], 0) / _BODY_WEIGHTS[:-1].sum()


def _random_branch(rng, name: str, outer: list[str], outputs: int, depth: int, float_type: int):
    """A branch graph of 1-4 random nodes reading `outer` names and its own, `outputs`
    outputs declared untyped, typed without a shape, or typed with a random shape (names of
    made-up dims among them); sometimes a node of an op not modelled in branches, an output
    passed through from the enclosing graph, or a name the enclosing graph defines."""
    tensors = list(outer)
    nodes = []

    def pick() -> str:
        return str(rng.choice(tensors[-4:] if rng.random() < 0.7 else tensors))

    for k in range(int(rng.integers(1, 5))):
        out = f"{name}_t{k}"
        op = str(rng.choice(_BODY_OPS, p=_BODY_WEIGHTS if depth < 2 else _BODY_WEIGHTS_LEAF))
        attributes: dict = {}
        if op in ("Add", "Mul", "MatMul"):
            ins = [pick(), pick()]
        elif op == "Constant":
            ins = []
            value = rng.standard_normal(
                [int(rng.choice([1, 2, 3])) for _ in range(rng.integers(0, 3))]
            ).astype(np.float32)
            attributes["value"] = _constant_value(rng, value)
        elif op == "Reshape":
            shape = f"{name}_shape{k}"
            values = [int(v) for v in rng.choice([-1, 0, 1, 2, 3, 4], size=rng.integers(1, 4))]
            nodes.append(helper.make_node("Constant", [], [shape], value=_int64(shape, values)))
            ins = [pick(), shape if rng.random() < 0.9 else "shape_outer"]
        elif op == "Cast":
            ins = [pick()]
            attributes["to"] = int(rng.choice([TensorProto.FLOAT, TensorProto.FLOAT16]))
        elif op == "Softmax":
            ins = [pick()]
            attributes["axis"] = int(rng.integers(-3, 3))
        elif op == "Transpose":
            ins = [pick()]
        elif op == "If":
            count = int(rng.integers(1, 3))
            outs = [f"{out}_{i}" for i in range(count)]
            branches = {
                f"{kind}_branch": _random_branch(
                    rng, f"{out}_{kind}", tensors, count, depth + 1, float_type
                )
                for kind in ("then", "else")
            }
            nodes.append(helper.make_node("If", ["cond"], outs, **branches))
            tensors += outs
            continue
        else:
            ins = [pick()]
        if rng.random() < 0.005:
            op = "Shape"  # not modelled
        if rng.random() < 0.005 and outer:
            out = str(rng.choice(outer))  # a name defined twice
        nodes.append(helper.make_node(op, ins, [out], **attributes))
        tensors.append(out)
    produced = [n.output[0] for n in nodes if n.op_type != "If"] or [tensors[-1]]
    while len(produced) < outputs:  # a value for each output
        nodes.append(helper.make_node("Identity", [produced[-1]], [f"{name}_copy{len(produced)}"]))
        produced.append(nodes[-1].output[0])
    declared = []
    for index in range(outputs):
        source = produced[-1 - index] if index < len(produced) else produced[-1]
        if rng.random() < 0.01:
            source = str(rng.choice(outer))  # passed through
        declared.append(_declared(rng, source, float_type))
    names = [v.name for v in declared]
    if len(set(names)) != len(names):  # one output named twice: keep the first
        declared = [v for i, v in enumerate(declared) if v.name not in names[:i]]
        while len(declared) < outputs:
            declared.append(helper.make_empty_tensor_value_info(f"{name}_missing{len(declared)}"))
    return helper.make_graph(nodes, name, [], declared)


def _inferable_random_model(seed: int) -> onnx.ModelProto:
    """The first `random_model` from seed `5 * seed` on that ONNX infers (most are refused;
    a graph with Ifs is to be refused for its Ifs)."""
    for candidate in range(5 * seed, 5 * seed + 100):
        model = random_model(candidate)
        if _onnx(model.SerializeToString()) is not None:
            return model
    return model


def random_model_with_ifs(seed: int) -> onnx.ModelProto:
    """A random graph ONNX infers (`_inferable_random_model`) with If nodes inserted after
    random nodes: branches reading the
    graph's names (`_random_branch`), of the same or different output counts, types and
    shapes, nested up to two deep; a BOOL input `cond`."""
    rng = np.random.default_rng(10_000 + seed)
    model = _inferable_random_model(seed)
    graph = model.graph
    float_type = graph.input[0].type.tensor_type.elem_type
    nodes: list[onnx.NodeProto] = []
    known = [v.name for v in graph.input] + [t.name for t in graph.initializer]
    for index, node in enumerate(graph.node):
        nodes.append(node)
        known += [o for o in node.output if o]
        if rng.random() < 0.35:
            count = int(rng.integers(1, 3))
            outs = [f"if{index}_{i}" for i in range(count)]
            counts = (count, count if rng.random() < 0.95 else count + 1)
            branches = {
                f"{kind}_branch": _random_branch(rng, f"if{index}_{kind}", known, n, 1, float_type)
                for kind, n in zip(("then", "else"), counts, strict=True)
            }
            if rng.random() < 0.5:  # the else branch first in the attributes
                branches = dict(reversed(list(branches.items())))
            nodes.append(helper.make_node("If", ["cond"], outs, name=f"if{index}", **branches))
            known += outs
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    graph.initializer.append(_int64("shape_outer", [-1]))
    if rng.random() < 0.3 and graph.node[-1].op_type == "If":  # the If's output declared
        graph.output.append(_value_info(graph.node[-1].output[0], float_type, _random_shape(rng)))
    return model


def with_random_value_info(make):
    """`make`, its graph given value_info as a model saved after inference declares it, then
    changed as tools and hands leave it: entries left out, dims made symbolic, static or
    unknown, a shape dropped, in half of them stale dims, ranks and element types, entries
    for initializers, graph inputs and outputs and for a name no node makes, names made up
    (`unk__<n>`), the order shuffled."""

    def made(seed: int) -> onnx.ModelProto:
        model = make(seed)
        rng = np.random.default_rng(seed + 7919)
        graph = model.graph
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph.value_info
        except Exception:  # noqa: BLE001 - an invalid model: declare what the graph names
            inferred = []
        known = {entry.name: entry for entry in (*inferred, *graph.input, *graph.output)}
        for tensor in graph.initializer:
            known[tensor.name] = helper.make_tensor_value_info(
                tensor.name, tensor.data_type, list(tensor.dims)
            )
        entries = [entry for entry in inferred if rng.random() < 0.7]
        for name in [*(t.name for t in graph.initializer), *(v.name for v in graph.input),
                     *(v.name for v in graph.output)]:  # fmt: skip
            if rng.random() < 0.15 and known[name].type.HasField("tensor_type"):
                entries.append(onnx.ValueInfoProto())
                entries[-1].CopyFrom(known[name])
        if rng.random() < 0.1:
            entries.append(_value_info("nowhere", TensorProto.FLOAT, _random_shape(rng)))
        stale = 0.03 if rng.random() < 0.5 else 0.0  # half of them as inference left them
        for entry in entries:
            tensor = entry.type.tensor_type
            change = rng.random()
            if change < stale:
                tensor.elem_type = int(rng.choice([TensorProto.FLOAT16, TensorProto.INT64]))
            elif change < 2 * stale and tensor.HasField("shape"):
                tensor.shape.dim.add().dim_value = 1  # a stale rank
            elif change < 0.1:
                tensor.ClearField("shape")
            elif change < 0.4:
                for dim in tensor.shape.dim:
                    if rng.random() < 0.4:
                        spec = _random_dim(rng)
                        if spec is None:
                            dim.Clear()
                        elif isinstance(spec, str):
                            dim.dim_param = spec
                        elif rng.random() < stale * 10 or not dim.HasField("dim_value"):
                            dim.dim_value = spec  # (stale where it differs)
        order = rng.permutation(len(entries))
        del graph.value_info[:]
        graph.value_info.extend(entries[k] for k in order)
        return model

    made.__name__ = f"{make.__name__}_with_value_info"
    return made


# -- the random graphs, against ONNX ----------------------------------------------------------
@needs_checked_onnx
@pytest.mark.parametrize(
    ("make", "cases", "modelled_at_least"),
    [
        (random_model, 1500, 1 / 5),
        (random_quantized_model, 600, 1 / 4),
        (random_conv_model, 800, 1 / 4),
        (random_model_with_ifs, 1500, 1 / 6),
        (random_elementwise_model, 1000, 1 / 5),
        (random_shape_model, 2000, 1 / 5),
        (random_resize_model, 600, 1 / 4),
        (random_detection_model, 800, 1 / 4),
        (random_misc_model, 1000, 1 / 4),
        (random_einsum_model, 1500, 1 / 5),
        (with_random_value_info(random_model), 600, 1 / 8),
        (with_random_value_info(random_quantized_model), 300, 1 / 8),
        (with_random_value_info(random_conv_model), 300, 1 / 8),
        (with_random_value_info(random_model_with_ifs), 500, 1 / 8),
        (with_random_value_info(random_elementwise_model), 400, 1 / 8),
        (with_random_value_info(random_shape_model), 800, 1 / 8),
        (with_random_value_info(random_detection_model), 300, 1 / 8),
        (with_random_value_info(random_misc_model), 400, 1 / 8),
    ],
    ids=[
        "common ops",
        "quantized",
        "convolutions",
        "Ifs",
        "activations, Clip, Gather, LN, Squeeze",
        "shapes and integer tensors",
        "Resize",
        "detection post-processing",
        "CumSum, PRelu, LRN, ScatterND, Sum, Mean, Dropout, IsNaN, IsInf, ...",
        "Einsum",
        "common ops, value_info",
        "quantized, value_info",
        "convolutions, value_info",
        "Ifs, value_info",
        "activations, value_info",
        "shapes, value_info",
        "detection post-processing, value_info",
        "CumSum, PRelu, Dropout, ..., value_info",
    ],
)
def test_random_graphs_as_onnx_infers_them(make, cases, modelled_at_least):
    modelled = 0
    for seed in range(cases):
        model = make(seed)
        try:
            modelled += _agrees(model)
        except AssertionError as err:
            raise AssertionError(f"seed {seed}: {err}") from err
    assert modelled >= cases * modelled_at_least, f"only {modelled} of {cases} modelled"


# -- the corpus --------------------------------------------------------------------------------
def _corpus() -> list[tuple[str, bytes]]:
    """The examples, the test fixtures, the onnx wheel's models and its node test cases (as
    they are, with constant inputs, and with symbolic dims): (name, serialized model)."""
    from tools.oracle import corpus

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = glob.glob(os.path.join(root, "examples", "*.onnx"))
    paths += glob.glob(os.path.join(root, "tests", "fixtures", "**", "*.onnx"), recursive=True)
    paths += [str(path) for _, path in corpus.wheel_models()]
    found = []
    for path in sorted(set(paths)):
        with open(path, "rb") as model_file:
            found.append((path, model_file.read()))
    cases = corpus._test_cases()
    for variants in (
        corpus.node_case_models(cases),
        corpus.const_variants(cases),
        corpus.dynamic_variants(cases),
        corpus.dynamic_variants(cases, every_dim=True),
    ):
        found += [(name, model.SerializeToString()) for name, model in variants]
    return found


def _lean_bytes(data: bytes) -> bytes:
    """The bytes the lean path hands ONNX's inference (weights left out), or `data`."""
    try:
        light, _ = _speculation._lean_input(data)
    except Exception:  # noqa: BLE001 - a model the native reader declines
        return data
    return bytes(light)


@needs_checked_onnx
def test_every_corpus_model_as_onnx_infers_it():
    models = _corpus()
    assert len(models) > 3000  # the node test cases are there
    modelled = 0
    for name, data in models:
        for serialized in {_lean_bytes(data), data}:
            try:
                modelled += _agrees(serialized)
            except AssertionError as err:
                raise AssertionError(f"{name}: {err}") from err
    assert modelled >= 200, modelled


# -- what it models, case by case ------------------------------------------------------------
def _model(nodes, inputs, outputs, initializers=(), opset=17, extra_imports=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    imports = [helper.make_opsetid("", opset), *extra_imports]
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


@needs_checked_onnx
def test_an_op_without_schema_leaves_what_follows_untyped_as_onnx_does():
    model = _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["a"]),
            helper.make_node("FastGelu", ["a"], ["g"], domain="com.microsoft"),
            helper.make_node("MatMul", ["g", "w"], ["b"]),  # input 0 untyped: no type
            helper.make_node("Add", ["a", "b"], ["c"]),  # input 1 untyped: no shape
            helper.make_node("Softmax", ["c"], ["s"]),
            helper.make_node("Reshape", ["s", "shape"], ["r"]),  # dims made up
        ],
        [_value_info("x", TensorProto.FLOAT, ["batch", "seq", 8])],
        [helper.make_empty_tensor_value_info("r")],
        [numpy_helper.from_array(np.ones((8, 8), np.float32), "w"), _int64("shape", [0, 0, 2, 4])],
        extra_imports=[helper.make_opsetid("com.microsoft", 1)],
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert "g" not in types and "b" not in types
    assert onnx.TypeProto.FromString(types["c"]).tensor_type.HasField("shape") is False
    r = onnx.TypeProto.FromString(types["r"]).tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in r] == ["unk__0", "unk__1", 2, 4]


#: (op, its inputs, attributes) whose element type is read from `g`, an output of an op
#: without schema: each fails there (its output untyped), as ONNX's inference function does
_READS_AN_UNTYPED_INPUT = [
    ("Relu", ["g"], {}),
    ("Clip", ["g"], {}),
    ("Add", ["g", "w"], {}),
    ("Pow", ["g", "x"], {}),
    ("MatMul", ["g", "w"], {}),
    ("Softmax", ["g"], {"axis": 1}),
    ("Transpose", ["g"], {"perm": [1, 0, 2]}),
    ("Reshape", ["g", "shape"], {}),
    ("Gather", ["g", "one"], {"axis": 0}),
    ("Unsqueeze", ["g", "axes"], {}),
    ("Squeeze", ["g", "axes"], {}),
    ("Slice", ["g", "axes", "one1", "axes"], {}),
    ("Concat", ["g", "x"], {"axis": 0}),
    ("Split", ["g"], {"axis": 2, "num_outputs": 2}),
    ("Flatten", ["g"], {}),
    ("Gemm", ["g2d", "w"], {}),
    ("Where", ["cond", "g", "x"], {}),
    ("Expand", ["g", "shape3"], {}),
    ("Max", ["g", "x"], {}),
    ("GatherElements", ["g", "idx"], {}),
    ("LayerNormalization", ["g", "scale"], {}),
    ("Tile", ["g", "reps"], {}),
    ("ReduceMean", ["g", "axes"], {}),
    ("Trilu", ["g"], {}),
]


@needs_checked_onnx
@pytest.mark.parametrize(("op", "inputs", "attributes"), _READS_AN_UNTYPED_INPUT)
def test_an_op_reading_an_untyped_input_fails_there_and_the_run_goes_on(op, inputs, attributes):
    """After an op without schema, a node whose element type comes from an untyped input
    fails (no type), told without a throw (`untyped` in infer.cpp), and what follows is still
    inferred: as ONNX does."""
    outputs = ["y", "y2"] if op == "Split" else ["y"]
    model = _model(
        [
            helper.make_node("FastGelu", ["x"], ["g"], domain="com.microsoft"),
            helper.make_node("FastGelu", ["x2d"], ["g2d"], domain="com.microsoft"),
            helper.make_node(op, inputs, outputs, **attributes),
            helper.make_node("Relu", ["x"], ["z"]),
            helper.make_node("Shape", ["g"], ["s"]),
        ],
        [
            _value_info("x", TensorProto.FLOAT, ["batch", 4, 8]),
            _value_info("x2d", TensorProto.FLOAT, ["batch", 8]),
            _value_info("cond", TensorProto.BOOL, ["batch", 4, 8]),
            _value_info("idx", TensorProto.INT64, ["batch", 4, 8]),
        ],
        [helper.make_empty_tensor_value_info(name) for name in (*outputs, "z", "s")],
        [
            numpy_helper.from_array(np.ones((8, 8), np.float32), "w"),
            numpy_helper.from_array(np.ones(8, np.float32), "scale"),
            _int64("shape", [0, 32]),
            _int64("shape3", [1, 4, 8]),
            _int64("axes", [0]),
            _int64("one1", [1]),
            _int64("reps", [1, 1, 2]),
            _scalar("one", 1),
        ],
        opset=18,
        extra_imports=[helper.make_opsetid("com.microsoft", 1)],
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])

    def elem(name: str) -> int:
        return onnx.TypeProto.FromString(types.get(name, b"")).tensor_type.elem_type

    assert [elem(name) for name in outputs] == [0] * len(outputs)
    assert (elem("z"), elem("s")) == (TensorProto.FLOAT, TensorProto.INT64)


@needs_checked_onnx
def _with_ints(node: onnx.NodeProto, name: str, values: list[int]) -> onnx.NodeProto:
    node.attribute.append(helper.make_attribute(name, values, attr_type=onnx.AttributeProto.INTS))
    return node


@pytest.mark.parametrize(
    ("nodes", "opset", "modelled"),
    [
        ([helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1])], 11, True),
        ([helper.make_node("Squeeze", ["x"], ["y"], axes=[1, 7])], 11, True),  # (7 left out)
        ([helper.make_node("Squeeze", ["x"], ["y"])], 12, True),
        ([helper.make_node("Softmax", ["x"], ["y"])], 11, True),  # (axis 1)
        ([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], 11, True),
        ([_with_ints(helper.make_node("Transpose", ["x"], ["y"]), "perm", [])], 12, True),
        ([helper.make_node("ReduceSum", ["x"], ["y"], axes=[1])], 12, True),
        ([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["y"], to=7),
          helper.make_node("Reshape", ["x", "y"], ["z"])], 11, True),  # (no Cast-9 values)
        ([helper.make_node("Slice", ["x", "i0", "i1", "i2"], ["y"])], 11, True),
        ([helper.make_node("Slice", ["e", "i0", "i1", "i0", "i0"], ["y"])], 11, True),  # (0)
        ([helper.make_node("Slice", ["e", "i0", "i1", "i0", "i0"], ["y"])], 13, False),
        ([helper.make_node("Split", ["x"], ["y", "z"], axis=2, split=[1, 2])], 11, True),
        ([helper.make_node("Split", ["x"], ["y", "z", "u"], axis=-1)], 12, True),  # (equal)
        ([helper.make_node("Split", ["x"], ["y", "z"], axis=2)], 11, False),  # (3 in 2: fails)
        ([helper.make_node("Split", ["x"], ["y", "z"], axis=2, split=[1, 1])], 11, False),
        ([helper.make_node("Split", ["x"], ["y"], axis=0, split=[4])], 11, True),  # (N: unknown)
        ([helper.make_node("Resize", ["x", "", "f3", "i3"], ["y"])], 11, True),  # (both)
        ([helper.make_node("Resize", ["x", "", "f3", "i3"], ["y"])], 13, False),
        ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], dilations=[2])], 11, True),
        ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], pads=[1, 0])], 11, True),
        ([helper.make_node("Dropout", ["x"], ["y", "m"], ratio=0.25)], 11, True),
        ([helper.make_node("GatherND", ["x", "i1"], ["y"])], 11, True),
        ([helper.make_node("QuantizeLinear", ["x", "f1"], ["q"]),
          helper.make_node("DequantizeLinear", ["q", "f1"], ["y"])], 11, True),
        ([helper.make_node("QuantizeLinear", ["x", "f1"], ["y"], axis=1)], 12, False),
        ([helper.make_node("ArgMax", ["x"], ["y"], axis=-1, keepdims=0)], 11, True),
        ([helper.make_node("ArgMin", ["x"], ["y"], select_last_index=1)], 12, True),
        ([helper.make_node("Expand", ["x", "i1"], ["y"])], 11, True),
        ([helper.make_node("Shape", ["v"], ["s"]), helper.make_node("Expand", ["x", "s"], ["y"])],
         12, True),  # (a shape of 3 values: 3 dims unknown, broadcast)
        ([helper.make_node("LessOrEqual", ["x", "x"], ["y"])], 15, True),  # (no dim made up)
        ([helper.make_node("LessOrEqual", ["x", "v"], ["y"])], 15, False),  # (a function's)
    ],
    ids=["unsqueeze-11", "squeeze-11", "squeeze-12", "softmax-11", "gemm-11", "transpose-1",
         "reducesum-11", "cast-9", "slice-11", "slice-11-dim-0-step-0", "slice-13-step-0",
         "split-11", "split-12-equal", "split-11-uneven", "split-11-sum", "split-11-unknown",
         "resize-11-both", "resize-13-both", "maxpool-11-dilated",
         "maxpool-11", "dropout-10", "gathernd-11", "qdq-10", "quantize-10-axis", "argmax-11", "argmin-12", "expand-8", "expand-8-rank", "lessorequal-12", "lessorequal-12-made-up"],
)  # fmt: skip
def test_the_opset_11_and_12_versions_infer_as_onnx_infers_them(nodes, opset, modelled):
    """Below opset 13 the versions of defs/*/old.cc infer: an op whose inference differs from
    its version 13's and is not modelled is declined (the function LessOrEqual-12 where it
    makes up a dim; an attribute the old version does not define, as Q/DQ-10's axis); Split-11 reads its sizes from an attribute, or makes equal parts;
    Resize-11 takes sizes and scales both (the sizes win), where Resize-13 fails; MaxPool-11
    infers as 12 does; Dropout-10 takes its ratio as an attribute; GatherND-11 has no
    batch_dims. Slice-11 gives a dim of 0 before it reads the step (0 here),
    where Slice-13 fails: not modelled as failing (declined), as ONNX's strict run raises."""
    x = _value_info("x", TensorProto.FLOAT, ["N", 1, 3])
    v = _value_info("v", TensorProto.FLOAT, [None, 1, 1])  # (N and a dim unknown: made up)
    e = _value_info("e", TensorProto.FLOAT, [0, 3])  # (a dim of 0)
    w = numpy_helper.from_array(np.ones((3, 3), np.float32), "w")
    ints = [_int64(f"i{k}", [k]) for k in range(3)]
    ints += [_int64("i3", [2, 2, 6]), numpy_helper.from_array(np.ones(3, np.float32), "f3")]
    ints.append(numpy_helper.from_array(np.array(0.5, np.float32), "f1"))
    outputs = [helper.make_empty_tensor_value_info(nodes[-1].output[0])]
    graph = helper.make_graph(nodes, "g", [x, v, e], outputs, [w, *ints])
    if nodes[0].op_type == "Gemm":
        graph.input[0].CopyFrom(_value_info("x", TensorProto.FLOAT, ["N", 3]))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    assert _agrees(model) is modelled


@pytest.mark.parametrize("equation", [".,", "a1,b", "ab,b#->a", "a.b,b", "a->a."])
def test_an_einsum_equation_outside_the_spec_is_declined(equation):
    """onnx 1.23's run never ends on a term holding a character the spec does not allow
    (`tests/test_inference_deadline.py`): there is no result to equal, and none is made."""
    ranks = [len([c for c in term if c.isalpha()]) for term in equation.split("->")[0].split(",")]
    inputs = [_value_info(f"x{k}", TensorProto.FLOAT, [2] * r) for k, r in enumerate(ranks)]
    node = helper.make_node("Einsum", [v.name for v in inputs], ["y"], equation=equation)
    graph = helper.make_graph([node], "g", inputs, [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert _infer.inferred(model.SerializeToString(), True) is None


def test_made_up_names_skip_the_ones_declared():
    model = _model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [_value_info("x", TensorProto.FLOAT, [None, "unk__0"])],
        [_value_info("y", TensorProto.FLOAT, ["unk__1", None, 3])],
        [_int64("shape", [-1, 0, 3])],
    )
    assert _agrees(model)


@needs_checked_onnx
def test_made_up_names_skip_those_value_info_declares():
    """Names a value_info entry declares (`unk__<n>` among others, or near it) are not made
    up again: only the declarations whose bytes hold the prefix are read for them."""
    model = _model(
        [
            helper.make_node("Reshape", ["x", "shape"], ["a"]),
            helper.make_node("Reshape", ["a", "shape"], ["b"]),
            helper.make_node("Reshape", ["b", "shape"], ["y"]),
        ],
        [_value_info("x", TensorProto.FLOAT, [None, 4, 3])],
        [helper.make_empty_tensor_value_info("y")],
        [_int64("shape", [-1, 0, 0])],
    )
    model.graph.value_info.extend(
        [
            _value_info("a", TensorProto.FLOAT, ["unk__0", "unk__x", "Unk__1"]),
            _value_info("b", TensorProto.FLOAT, [None, "unk__2", "unk_3"]),
        ]
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    dims = onnx.TypeProto.FromString(types["y"]).tensor_type.shape.dim
    made = [d.dim_param for d in dims if d.dim_param.startswith("unk__")]
    assert made and not {"unk__0", "unk__2"} & set(made)


@needs_checked_onnx
def test_declared_outputs_are_merged_as_onnx_merges_them():
    model = _model(
        [helper.make_node("Add", ["x", "y"], ["z"])],
        [
            _value_info("x", TensorProto.FLOAT, ["N", 1]),
            _value_info("y", TensorProto.FLOAT, [1, 4]),
        ],
        [_value_info("z", TensorProto.FLOAT, [None, "C"])],
    )
    assert _agrees(model)
    conflicting = _model(
        [helper.make_node("Add", ["x", "y"], ["z"])],
        [_value_info("x", TensorProto.FLOAT, [2, 3]), _value_info("y", TensorProto.FLOAT, [3])],
        [_value_info("z", TensorProto.FLOAT, [2, 4])],
    )
    assert _infer.inferred(conflicting.SerializeToString()) is None
    assert _onnx(conflicting.SerializeToString()) is None


@needs_checked_onnx
def test_value_info_is_read_and_merged_as_onnx_reads_and_merges_it():
    relu = helper.make_node("Relu", ["x"], ["y"])
    add = helper.make_node("Add", ["y", "w"], ["z"])
    inputs = [_value_info("x", TensorProto.FLOAT, ["N", 3])]
    weight = numpy_helper.from_array(np.ones((1, 3), np.float32), "w")

    def model(*value_info, outputs=None):
        outputs = outputs or [_value_info("z", TensorProto.FLOAT, None)]
        made = _model([relu, add], inputs, list(outputs), [weight])
        made.graph.value_info.extend(value_info)
        return made

    def z_of(made) -> list:
        return _typed(dict(_entries(_infer.inferred(made.SerializeToString()))[1]), "z")

    # a declared static dim where inference computes N is kept, and read by what follows
    declared = model(_value_info("y", TensorProto.FLOAT, [4, None]))
    assert _agrees(declared) and z_of(declared) == [4, 3]
    # an initializer is read as value_info declares it; a graph input's entry is left as it is
    for entries in (
        [_value_info("w", TensorProto.FLOAT, ["K", 3])],
        [_value_info("x", TensorProto.FLOAT, [2, 3])],
        [_value_info("z", TensorProto.FLOAT, [None, "C"])],
        [
            _value_info("y", TensorProto.FLOAT, ["unk__0", None]),
            _value_info("q", TensorProto.FLOAT, []),
        ],
    ):
        assert _agrees(model(*entries))
    # an output declared without a type leaves the value_info entry of its name merged
    untyped = model(
        _value_info("z", TensorProto.FLOAT, [None, "C"]),
        outputs=[helper.make_empty_tensor_value_info("z")],
    )
    assert _agrees(untyped) and z_of(untyped) == ["N", 3]
    # stale entries: ONNX's strict run fails, and the native inference declines
    for stale in (
        _value_info("y", TensorProto.FLOAT16, ["N", 3]),
        _value_info("y", TensorProto.FLOAT, ["N", 3, 1]),
        _value_info("y", TensorProto.FLOAT, ["N", 4]),
        _value_info("w", TensorProto.FLOAT, [1, 4]),
    ):
        assert not _agrees(model(stale))


def _branch(name: str, nodes, outputs) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, [], outputs)


def _if_model(then_nodes, else_nodes, then_outputs, else_outputs, before=(), outputs=None):
    """x [2, 3] FLOAT, w [3] FLOAT and cond BOOL; `before` nodes, then an If of these branches
    whose outputs are y0, y1, ...."""
    count = len(then_outputs)
    node = helper.make_node(
        "If",
        ["cond"],
        [f"y{i}" for i in range(count)],
        then_branch=_branch("then", then_nodes, then_outputs),
        else_branch=_branch("else", else_nodes, else_outputs),
    )
    foreign = any(n.domain for n in before)
    return _model(
        [*before, node],
        [_value_info("x", TensorProto.FLOAT, ["N", 3]), _value_info("cond", TensorProto.BOOL, [])],
        outputs or [helper.make_empty_tensor_value_info(f"y{i}") for i in range(count)],
        [numpy_helper.from_array(np.ones(3, np.float32), "w"), _int64("flat", [-1])],
        extra_imports=[helper.make_opsetid("com.example", 1)] if foreign else (),
    )


def _typed(types: dict, name: str) -> list | None:
    """The dims of `name` in an entries dict (None: no shape)."""
    tensor = onnx.TypeProto.FromString(types[name]).tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_param or d.dim_value for d in tensor.shape.dim]


@needs_checked_onnx
def test_if_branches_are_inferred_and_united_as_onnx_does():
    """Each branch sees the graph's names; the If's output is the then branch's type with the
    dims the else branch disagrees on made up anew; the branches' own values are typed in
    their own value_info."""
    model = _if_model(
        [helper.make_node("Add", ["x", "w"], ["a"]), helper.make_node("Relu", ["a"], ["t"])],
        [
            helper.make_node("Constant", [], ["s"], value=_int64("s", [3, 2])),
            helper.make_node("Reshape", ["x", "s"], ["e"]),
        ],
        [helper.make_empty_tensor_value_info("t")],
        [_value_info("e", TensorProto.FLOAT, [3, None])],
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert _typed(types, "a") == ["N", 3] and _typed(types, "e") == [3, 2]
    assert _typed(types, "y0") == ["unk__0", "unk__1"]


@needs_checked_onnx
def test_a_branch_that_fails_after_an_op_without_schema_leaves_the_if_untyped():
    """After an op without a schema, ONNX ignores the If's failure: the then branch's nodes are
    inferred (their types kept), the else branch never is, and the If's outputs stay untyped."""
    model = _if_model(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("MatMul", ["g", "w"], ["m"]),  # g untyped: fails
            helper.make_node("Neg", ["r"], ["t"]),
        ],
        [helper.make_node("Neg", ["x"], ["e"])],
        [helper.make_empty_tensor_value_info("t")],
        [helper.make_empty_tensor_value_info("e")],
        before=[helper.make_node("Gelu", ["x"], ["g"], domain="com.example")],
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert types["r"] and types["t"]  # typed
    assert not types.get("e") and not types.get("y0")  # untyped (b"") or absent
    without_gelu = _if_model(
        [helper.make_node("MatMul", ["q", "w"], ["t"])],
        [helper.make_node("Neg", ["x"], ["e"])],
        [helper.make_empty_tensor_value_info("t")],
        [helper.make_empty_tensor_value_info("e")],
    )
    assert _onnx(without_gelu.SerializeToString()) is None
    assert _infer.inferred(without_gelu.SerializeToString()) is None


@needs_checked_onnx
def test_a_constant_whose_type_does_not_merge_gives_no_value():
    """A Constant whose output is declared with another element type fails, and a Reshape
    after it has no value to read: only the rank its declared shape gives (the native
    inference once gave the output the Constant's shape)."""
    model = _if_model(
        [
            helper.make_node("Constant", [], ["s"], value=_int64("s", [0])),
            helper.make_node("Reshape", ["x", "s"], ["t"]),
        ],
        [helper.make_node("Neg", ["x"], ["e"]), helper.make_node("Neg", ["x"], ["e2"])],
        [helper.make_empty_tensor_value_info("t"), _value_info("s", TensorProto.FLOAT, [1])],
        [helper.make_empty_tensor_value_info("e"), helper.make_empty_tensor_value_info("e2")],
        before=[helper.make_node("Gelu", ["x"], ["g"], domain="com.example")],
    )
    expected = _onnx(model.SerializeToString())
    # (the Constant's [0] would copy x's first dim, N; without it, only the rank is known)
    assert expected is not None and _typed(dict(_entries(expected)[1]), "t") == ["unk__0"]
    assert _agrees(model)


def test_a_branch_reading_a_constant_of_the_graph_in_its_data_propagation_is_declined():
    """ONNX's branch sees no value of an enclosing graph's constant; its data propagation
    (an Add of it) notes unknown values for the constant in the one map of values the whole
    run shares, and a later Add of the enclosing graph reads those: the Reshape it feeds has
    unknown dims, where without the If it has the constant's. Not modelled: declined."""
    shape = _int64("X", [2, 3])
    zeros = _int64("Z", [0, 0])
    then_branch = _branch(
        "then",
        [helper.make_node("Add", ["X", "X"], ["t"])],
        [helper.make_empty_tensor_value_info("t")],
    )
    else_branch = _branch(
        "else",
        [helper.make_node("Mul", ["X", "X"], ["e"])],
        [helper.make_empty_tensor_value_info("e")],
    )
    after = [
        helper.make_node("Add", ["X", "Z"], ["s"]),
        helper.make_node("Reshape", ["y", "s"], ["r"]),
    ]
    inputs = [_value_info("y", TensorProto.FLOAT, [6])]
    outputs = [helper.make_empty_tensor_value_info("r")]
    plain = _model(after, inputs, outputs, [shape, zeros])
    if_node = helper.make_node(
        "If", ["cond"], ["o"], then_branch=then_branch, else_branch=else_branch
    )
    with_if = _model(
        [if_node, *after],
        [_value_info("cond", TensorProto.BOOL, []), *inputs],
        outputs,
        [shape, zeros],
    )
    reshaped = {
        name: _typed(dict(_entries(_onnx(model.SerializeToString()))[1]), "r")
        for name, model in (("plain", plain), ("with_if", with_if))
    }
    assert reshaped == {"plain": [2, 3], "with_if": ["unk__0", "unk__1"]}  # the case
    assert _agrees(plain) and not _agrees(with_if)  # (the second declined)


@pytest.mark.parametrize(
    "change",
    [
        "branch reads a constant of the graph",
        "branch output passed through",
        "branch defines a name of the graph",
        "branch inputs",
        "op not modelled in a branch",
    ],
)
def test_declines_the_branches_it_does_not_model(change):
    then_nodes = [helper.make_node("Relu", ["x"], ["t"])]
    else_nodes = [helper.make_node("Neg", ["x"], ["e"])]
    then_outputs = [helper.make_empty_tensor_value_info("t")]
    model = _if_model(
        then_nodes, else_nodes, then_outputs, [helper.make_empty_tensor_value_info("e")]
    )
    assert _infer.inferred(model.SerializeToString()) is not None
    (then_branch,) = [a.g for a in model.graph.node[0].attribute if a.name == "then_branch"]
    if change == "branch reads a constant of the graph":
        then_branch.node[0].CopyFrom(helper.make_node("Reshape", ["x", "flat"], ["t"]))
    elif change == "branch output passed through":
        then_branch.output[0].name = "x"
    elif change == "branch defines a name of the graph":
        then_branch.node.append(helper.make_node("Relu", ["x"], ["w"]))
    elif change == "branch inputs":
        then_branch.input.append(_value_info("i", TensorProto.FLOAT, [1]))
    elif change == "op not modelled in a branch":
        then_branch.node.append(helper.make_node("Size", ["x"], ["sh"]))
    assert _infer.inferred(model.SerializeToString()) is None
    assert _infer.declined_at() > 0


@pytest.mark.parametrize(
    "change",
    [
        "value_info without a type",
        "value_info named twice",
        "function",
        "unmodelled op",
        "old opset",
        "duplicate output",
        "denotation",
    ],
)
def test_declines_what_it_does_not_model(change):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    inputs = [_value_info("x", TensorProto.FLOAT, [2, 3])]
    outputs = [helper.make_empty_tensor_value_info("y")]
    model = _model(nodes, inputs, outputs)
    assert _infer.inferred(model.SerializeToString()) is not None
    if change == "value_info without a type":
        model.graph.value_info.append(helper.make_empty_tensor_value_info("y"))
    elif change == "value_info named twice":
        model.graph.value_info.append(_value_info("y", TensorProto.FLOAT, [2, 3]))
        model.graph.value_info.append(_value_info("y", TensorProto.FLOAT, [2, None]))
    elif change == "function":
        model.functions.append(helper.make_function("f", "F", ["a"], ["b"], [], []))
    elif change == "unmodelled op":
        model.graph.node.append(helper.make_node("Unique", ["y"], ["c"]))
    elif change == "old opset":
        model.opset_import[0].version = 10  # (below the opsets modelled: 11 on)
    elif change == "duplicate output":
        model.graph.node.append(helper.make_node("Relu", ["x"], ["y"]))
    elif change == "denotation":
        model.graph.input[0].type.denotation = "TENSOR"
    assert _infer.inferred(model.SerializeToString()) is None
    assert _infer.declined_at() > 0


def test_an_llm_builder_s_mask_arithmetic_is_inferred_as_onnx_infers_it():
    """onnxruntime-genai's builder: the attention mask's Shape gathered and cast to INT32,
    its ReduceSum less one cast to INT32, both read by a com.microsoft GroupQueryAttention,
    and a SimplifiedLayerNormalization in the default domain (no ONNX schema there): the
    native inference gives ONNX's types, with data propagation and without."""
    nodes = [
        helper.make_node("Shape", ["mask"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["total"]),
        helper.make_node("Cast", ["total"], ["total32"], to=TensorProto.INT32),
        helper.make_node("ReduceSum", ["mask", "axes"], ["sum"], keepdims=0),
        helper.make_node("Sub", ["sum", "one"], ["lens"]),
        helper.make_node("Cast", ["lens"], ["lens32"], to=TensorProto.INT32),
        helper.make_node("SimplifiedLayerNormalization", ["x", "w"], ["normed"], epsilon=1e-5),
        helper.make_node(
            "GroupQueryAttention", ["normed", "lens32", "total32"], ["attn"], domain="com.microsoft"
        ),
        helper.make_node("Relu", ["attn"], ["y"]),
    ]
    inputs = [
        _value_info("x", TensorProto.FLOAT16, ["batch", "seq", 64]),
        _value_info("mask", TensorProto.INT64, ["batch", "total"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        _int64("axes", [1]),
        numpy_helper.from_array(np.ones(64, np.float16), "w"),
    ]
    outputs = [_value_info("y", TensorProto.FLOAT16, ["batch", "seq", 64])]
    model = _model(
        nodes, inputs, outputs, initializers, 22, [helper.make_opsetid("com.microsoft", 1)]
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert onnx.TypeProto.FromString(types["lens32"]).tensor_type.elem_type == TensorProto.INT32
    assert "normed" not in types  # no schema: untyped, as ONNX leaves it


@needs_checked_onnx
def test_a_dynamo_export_s_shape_arithmetic_is_inferred_as_onnx_infers_it():
    """What PyTorch's dynamo exporter writes for attention (opset 20): q, k, v split by
    num_outputs, reshaped to (batch, seq, heads, dim) where the shape is Concat(Shape(x)
    sliced by start/end, constants) with allowzero, and a causal mask Expand(True,
    Concat(Shape, Shape)) -> Trilu -> Where: inferred natively, with the dims data
    propagation gives the names of, as ONNX's run infers them (with and without it)."""
    i64 = lambda name, values: _int64(name, values)  # noqa: E731
    nodes = [
        helper.make_node("Split", ["x"], ["q", "k", "v"], axis=2, num_outputs=3),
        helper.make_node("Shape", ["x"], ["b"], start=0, end=1),
        helper.make_node("Shape", ["x"], ["t"], start=1, end=2),
        helper.make_node("Concat", ["b", "t", "heads", "dim"], ["qshape"], axis=0),
        helper.make_node("Reshape", ["q", "qshape"], ["q4"], allowzero=1),
        helper.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
        helper.make_node("Concat", ["t", "t"], ["mshape"], axis=0),
        helper.make_node("Expand", ["true", "mshape"], ["ones"]),
        helper.make_node("Trilu", ["ones", "one"], ["mask"], upper=1),
        helper.make_node("MatMul", ["qt", "qt_t"], ["scores"]),
        helper.make_node("Where", ["mask", "ninf", "scores"], ["masked"]),
    ]
    model = _model(
        nodes,
        [
            _value_info("x", TensorProto.FLOAT, ["batch", "seq", 192]),
            _value_info("qt_t", TensorProto.FLOAT, ["batch", 4, 16, "seq"]),
        ],
        [_value_info("masked", TensorProto.FLOAT, None)],
        [
            i64("heads", [4]),
            i64("dim", [16]),
            i64("one", [1]),
            numpy_helper.from_array(np.array(True), "true"),
            numpy_helper.from_array(np.array(-np.inf, np.float32), "ninf"),
        ],
        opset=20,
    )
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString()))[1])
    assert _typed(types, "q") == ["batch", "seq", 64]
    assert _typed(types, "q4") == ["batch", "seq", 4, 16]
    assert _typed(types, "mask") == ["seq", "seq"]
    assert _typed(types, "masked") == ["batch", 4, "seq", "seq"]
    # without data propagation the reshaped dims are unknown (made-up names), as in ONNX's
    plain = dict(_entries(_infer.inferred(model.SerializeToString(), False))[1])
    assert [str(d).startswith("unk__") for d in _typed(plain, "q4")] == [True] * 4


def test_the_default_domain_ops_listed_are_onnx_s():
    """The op types the native inference takes for the default domain's (any other there has
    no schema: untyped outputs, later errors ignored) are onnx's, every release's schemas."""
    listed = _infer.default_domain_ops()
    assert listed == {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == ""}


@needs_checked_onnx
def test_a_model_made_with_onnx_s_default_opset_is_modelled():
    """`helper.make_model` without `opset_imports` imports the newest opset the installed onnx
    defines (28 for 1.23): what a model built by hand holds. Its modelled ops infer natively,
    as the random graphs of opsets 26 to 28 hold them equal to ONNX's runs; above the newest,
    ONNX runs."""
    low, high = _infer.opset_range()
    assert high == onnx.defs.onnx_opset_version()
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
            helper.make_node("Sub", ["x", "m"], ["d"]),
            helper.make_node("SpaceToDepth", ["d"], ["s"], blocksize=2, mode="CRD"),
            helper.make_node("Range", ["zero", "ten", "one"], ["r"], stash_type=1),
        ],
        "g",
        [_value_info("x", TensorProto.FLOAT, [1, 4, 6, 8])],
        [helper.make_empty_tensor_value_info("s"), helper.make_empty_tensor_value_info("r")],
        [_int64("axes", [-1]), _scalar("zero", 0), _scalar("ten", 10), _scalar("one", 1)],
    )
    model = helper.make_model(graph)
    assert _agrees(model)
    types = dict(_entries(_infer.inferred(model.SerializeToString(), True))[1])
    assert _typed(types, "s") == [1, 16, 3, 4]
    assert _typed(types, "r") == [10]
    model.opset_import[0].version = high + 1
    assert _infer.inferred(model.SerializeToString(), True) is None


def test_onnx_runs_for_a_release_not_checked(monkeypatch):
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_empty_tensor_value_info("y")],
    ).SerializeToString()
    monkeypatch.setattr(_speculation, "NATIVE_INFERENCE_ONNX", frozenset({"0.1"}))
    _speculation._native_inference_matches_onnx.cache_clear()
    try:
        assert _speculation.native_inferred(model) is None
        assert _speculation.strict_run(model, 1) is not None  # ONNX's run
    finally:
        monkeypatch.undo()
        _speculation._native_inference_matches_onnx.cache_clear()
    assert (_speculation.native_inferred(model) is not None) == ONNX_CHECKED


@pytest.mark.parametrize("seed", range(200))
def test_damaged_bytes_never_crash(seed):
    rng = np.random.default_rng(seed)
    data = bytearray(random_model(seed).SerializeToString())
    for _ in range(int(rng.integers(1, 6))):
        data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    cut = bytes(data[: int(rng.integers(1, len(data) + 1))])
    for serialized in (bytes(data), cut):
        native = _infer.inferred(serialized)
        if native is not None and ONNX_CHECKED:
            expected = _onnx(serialized)
            assert expected is not None and _entries(native) == _entries(expected)


def _propagating(nodes, initializers) -> onnx.ModelProto:
    """`nodes` over x FLOAT [3], y FLOAT [2] and a FLOAT axes input `a` [1] (no constant),
    the last node's output the graph's."""
    inputs = [
        _value_info("x", TensorProto.FLOAT, [3]),
        _value_info("y", TensorProto.FLOAT, [2]),
        _value_info("a", TensorProto.INT64, [1]),
    ]
    out = helper.make_empty_tensor_value_info(nodes[-1].output[0])
    return _model(nodes, inputs, [out], initializers)


@needs_checked_onnx
@pytest.mark.parametrize(
    ("nodes", "values", "modelled"),
    [
        pytest.param(  # [1, 3] holds the 3 values of x: index 2 is one of them
            [("Unsqueeze", ["x", "zero"], "u"), ("Gather", ["u", "two"], "g")],
            {"zero": [0], "two": [2]},
            True,
            id="gather-of-passed-on-values",
        ),
        pytest.param(  # ... index 5 is not: the run with propagation fails
            [("Unsqueeze", ["x", "zero"], "u"), ("Gather", ["u", "five"], "g")],
            {"zero": [0], "five": [5]},
            False,
            id="gather-out-of-passed-on-values",
        ),
        pytest.param(  # 3 values and 2 values: Add's propagation fails
            [
                ("Unsqueeze", ["x", "zero"], "u"),
                ("Unsqueeze", ["y", "one"], "v"),
                ("Add", ["u", "v"], "s"),
            ],
            {"zero": [0], "one": [1]},
            False,
            id="add-of-values-that-do-not-broadcast",
        ),
        pytest.param(  # no shape (axes not a constant), yet x's values: Slice's propagation fails
            [("Unsqueeze", ["x", "a"], "u"), ("Slice", ["u", "one", "ends"], "s")],
            {"one": [1], "ends": [2, 3]},
            False,
            id="slice-of-values-without-a-shape",
        ),
        pytest.param(  # a range of them, passed on to a Gather of index 0
            [("Slice", ["x", "one", "two"], "s"), ("Gather", ["s", "zero"], "g")],
            {"one": [1], "two": [2], "zero": [0]},
            True,
            id="slice-then-gather",
        ),
    ],
)
def test_the_values_data_propagation_passes_on_are_followed(nodes, values, modelled):
    """ONNX's data propagation gives a rank-1 tensor of a static dim that many unknown values
    and passes them on (Unsqueeze, Squeeze, Cast, Add, Sub, Mul, Gather, Slice), whatever the
    shapes become; a Gather, Slice or Add that their lengths do not fit fails the strict run
    with propagation only. The native inference follows those lengths: it gives ONNX's
    types where both runs agree, and declines where they differ."""
    model = _propagating(
        [helper.make_node(op, ins, [out]) for op, ins, out in nodes],
        [_int64(name, v) for name, v in values.items()],
    )
    serialized = model.SerializeToString()
    assert (_onnx(serialized) is not None) == modelled  # the case is what it says
    assert _onnx(serialized, data_prop=False) is not None
    assert _agrees(model) == modelled


# -- the lean run of a model with value_info ---------------------------------------------------
@needs_checked_onnx
@pytest.mark.parametrize(
    ("make", "cases"),
    [(random_model, 250), (random_shape_model, 250), (random_conv_model, 300)],
    ids=["common ops", "shapes and integer tensors", "convolutions"],
)
def test_the_lean_run_of_declared_graphs_gives_the_policy_s_table(make, cases, monkeypatch):
    """The prefetching child's run (`_speculation.lean_inferred`: the declarations checked on
    a copy without their static dims, that run kept as the model's where every declaration
    merges into what it computed unchanged: `_wire.merges_unchanged`, `_wire.declared_once`)
    gives the table of the policy (`inference.infer_table`, which runs step by step) on
    random graphs whose value_info inference left, then tools and hands changed; and the
    check's run stands for the model's in some of them."""
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    runs = []
    strict_run = _speculation.strict_run
    monkeypatch.setattr(
        _speculation, "strict_run", lambda *a, **k: runs.append(1) or strict_run(*a, **k)
    )
    make = with_random_value_info(make)
    compared = one_run = 0
    for seed in range(cases):
        model = make(seed)
        del runs[:]
        try:
            lean = _speculation.lean_inferred(model.SerializeToString())
        except _speculation.SpeculationFailed:
            continue
        if lean is None:
            continue
        state = _speculation.table_state(lean)
        assert state is not None
        assert state[0] == infer_table(model)._raw, f"seed {seed}"
        compared += 1
        one_run += len(runs) == 1 and len(model.graph.value_info) > 0
    assert compared >= cases / 5 and one_run >= 5, (compared, one_run)


def _exported_with_metadata() -> onnx.ModelProto:
    """A graph as PyTorch's dynamo exporter writes one: value_info for every tensor, weights
    included, leaving unknown the dims it does not know, and a stack trace on every node."""
    weight = numpy_helper.from_array(np.ones((8, 8), np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="node_mm"),
        helper.make_node("Relu", ["mm"], ["r"], name="node_relu"),
        helper.make_node("Add", ["r", "x"], ["y"], name="node_add"),
    ]
    for node in nodes:
        node.doc_string = "a doc string"
        for key in ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node"):
            entry = node.metadata_props.add()
            entry.key, entry.value = key, f"File 'model.py', line 12, in forward ({node.name})"
    model = _model(
        nodes,
        [_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [weight],
        opset=20,
    )
    model.graph.value_info.extend(
        [
            _value_info("w", TensorProto.FLOAT, [8, 8]),
            _value_info("mm", TensorProto.FLOAT, [None, 8]),
            _value_info("r", TensorProto.FLOAT, ["batch", None]),
        ]
    )
    for value in model.graph.value_info:
        entry = value.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.original_node_name", value.name
    return model


@needs_checked_onnx
def test_what_inference_never_reads_is_left_out_of_the_lean_run(monkeypatch):
    """Node doc strings and metadata (a stack trace on each node of a dynamo export) are left
    out of the copy ONNX infers (`_speculation.unread_dropped`: nothing else changes, the
    same types), and value_info that declares the weights and leaves dims unknown is merged
    unchanged: one run of inference, the policy's table."""
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    model = _exported_with_metadata()
    onnx.checker.check_model(model, full_check=True)
    serialized = model.SerializeToString()
    dropped = _speculation.unread_dropped(serialized)
    expected = onnx.ModelProto()
    expected.CopyFrom(model)
    for node in expected.graph.node:
        node.ClearField("doc_string")
        node.ClearField("metadata_props")
    for value in expected.graph.value_info:
        value.ClearField("metadata_props")
    assert onnx.load_from_string(dropped) == expected
    assert _speculation.unread_dropped(dropped) is dropped  # nothing left to drop: itself
    assert _entries(_onnx(dropped)) == _entries(_onnx(serialized))
    runs = []
    strict_run = _speculation.strict_run
    monkeypatch.setattr(
        _speculation, "strict_run", lambda *a, **k: runs.append(a[0]) or strict_run(*a, **k)
    )
    lean = _speculation.lean_inferred(serialized)
    assert _speculation.table_state(lean)[0] == infer_table(model)._raw
    assert len(runs) == 1 and b"stack_trace" not in runs[0]
    # a declaration that says more than inference computes (a static dim where it computes
    # the network's symbolic one): the check declares that symbol instead, which merges as
    # the check's run computed it: still one run, the policy's table
    model.graph.value_info[1].type.tensor_type.shape.dim[0].dim_value = 2
    del runs[:]
    lean = _speculation.lean_inferred(model.SerializeToString())
    assert _speculation.table_state(lean)[0] == infer_table(model)._raw
    assert len(runs) == 1


# -- lenient runs: the types and errors of stale declarations ----------------------------------
def _onnx_lenient(serialized: bytes, data_prop: bool) -> tuple[bytes | None, str]:
    """ONNX's lenient run (or None where it raises) and its strict run's error ("" where it
    passes)."""
    infer = _speculation.cpp_shape_inference()
    try:
        lenient = infer.infer_shapes(serialized, False, False, data_prop)
    except Exception:  # noqa: BLE001 - refused even leniently
        lenient = None
    try:
        infer.infer_shapes(serialized, False, True, data_prop)
        error = ""
    except Exception as err:  # noqa: BLE001 - the strict run's error
        error = str(err)
    return lenient, error


def _lenient_agrees(model: onnx.ModelProto) -> bool:
    """The native lenient run (with and without data propagation) gives ONNX's lenient types
    and, from its errors, ONNX's strict error text (`_speculation.strict_error_of`); False
    where it declined."""
    serialized = model.SerializeToString()
    modelled = False
    for data_prop in (False, True):
        native = _infer.inferred(serialized, data_prop, False)
        if native is None:
            continue
        lenient, error = _onnx_lenient(serialized, data_prop)
        assert lenient is not None, f"modelled a graph ONNX refuses ({data_prop=})"
        inferred, errors = native
        assert _entries(inferred) == _entries(lenient), f"{data_prop=}"
        assert _speculation.strict_error_of(errors) == error, f"{data_prop=}"
        modelled = True
    return modelled


@needs_checked_onnx
@pytest.mark.parametrize(
    ("make", "cases"),
    [
        (random_model, 400),
        (random_shape_model, 600),
        (random_quantized_model, 200),
    ],
    ids=["common ops", "shapes", "quantized"],
)
def test_lenient_runs_note_the_errors_onnx_notes(make, cases):
    """Where declarations are stale (an element type, a rank, a dim of another value), ONNX's
    lenient run notes each merge error and goes on; the native one gives the same types and
    errors (ONNX's strict error text made from them), or declines (an op's own failure, an If:
    a lenient run's branches note their errors)."""
    make = with_random_value_info(make)
    modelled = with_errors = 0
    for seed in range(cases):
        model = make(seed)
        try:
            agrees = _lenient_agrees(model)
        except AssertionError as err:
            raise AssertionError(f"seed {seed}: {err}") from err
        modelled += agrees
        if agrees:
            native = _infer.inferred(model.SerializeToString(), True, False)
            with_errors += native is not None and bool(native[1])
    assert modelled >= cases / 10 and with_errors >= 5, (modelled, with_errors)


@needs_checked_onnx
def test_a_stale_declaration_fails_the_strict_run_with_onnx_s_error(monkeypatch):
    """The builder of onnxruntime-genai declares a tensor of rank 1 with rank 0 in every model
    it writes: the strict run (`_speculation.strict_run`) raises the error ONNX's raises,
    from one native lenient run, and ONNX's inference does not run."""
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["y"], name="relu"),
            helper.make_node("Add", ["y", "x"], ["z"]),
        ],
        [_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [_value_info("z", TensorProto.FLOAT, None)],
    )
    model.graph.value_info.append(_value_info("y", TensorProto.FLOAT, []))
    serialized = model.SerializeToString()
    _, expected = _onnx_lenient(serialized, True)
    assert "differ in rank" in expected
    real = _speculation.cpp_shape_inference()
    runs = []

    class Recording:
        InferenceError = real.InferenceError

        @staticmethod
        def infer_shapes(*args):
            runs.append(args)
            return real.infer_shapes(*args)

    monkeypatch.setattr(_speculation, "cpp_shape_inference", lambda: Recording)
    with pytest.raises(real.InferenceError) as raised:
        _speculation.strict_run(serialized, len(model.graph.node))
    assert str(raised.value) == expected and not runs


@needs_checked_onnx
@pytest.mark.parametrize(
    ("make", "cases"),
    [(random_model, 400), (random_shape_model, 600), (random_quantized_model, 300)],
    ids=["common ops", "shapes", "quantized"],
)
def test_the_lean_policy_of_a_stale_model_is_the_policy_s_table(make, cases):
    """Where the lean run fails on a stale declaration, the table the child makes from that
    run's model natively (`_speculation.lean_policy`) is the policy's (`infer_table`: types,
    shape consumers and strict error), with the lean check's types handed to it or not."""
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    make = with_random_value_info(make)
    compared = 0
    for seed in range(cases):
        model = make(seed)
        try:
            _speculation.lean_inferred(model.SerializeToString())
            continue
        except _speculation.SpeculationFailed as failed:
            state = _speculation.lean_policy(failed)
            checked = failed.checked_types
        if state is None:
            continue
        for table in (infer_table(model, (), checked), infer_table(model)):
            policy = (table._raw, table.shape_consumers, table.strict_error)
            assert state == policy, f"seed {seed}"
        compared += 1
    assert compared >= 5, compared


def random_failing_chain(seed: int) -> onnx.ModelProto:
    """A chain of ops ONNX's strict inference of opset 17 may fail on where the native
    inference declines: MeanVarianceNormalization without `axes` (its function body's
    Constant then has no value: each node after it "expected to have type"), with `axes`,
    and modelled ops around it; a Reshape (a shape consumer: data propagation) in some, a
    stale value_info declaration in some, long node names in some (`_speculation._renames`)."""
    rng = np.random.default_rng(seed)
    pick = ["Relu", "Tanh", "MVN", "MVN axes", "Hardmax", "Softmax", "Einsum"]
    names = "layer/" * 30 if rng.random() < 0.2 else ""
    nodes, initializers, value_info = [], [], []
    current = "x"
    for k in range(int(rng.integers(1, 7))):
        op = pick[int(rng.integers(len(pick)))]
        out = f"t{k}"
        name = f"{names}n{k}"
        if op.startswith("MVN"):
            axes = {"axes": [0, 2, 3]} if op == "MVN axes" else {}
            nodes.append(
                helper.make_node("MeanVarianceNormalization", [current], [out], name, **axes)
            )
        elif op == "Einsum":
            nodes.append(helper.make_node("Einsum", [current], [out], name, equation="nchw->nchw"))
        elif op in ("Hardmax", "Softmax"):
            nodes.append(helper.make_node(op, [current], [out], name, axis=1))
        else:
            nodes.append(helper.make_node(op, [current], [out], name))
        current = out
    if rng.random() < 0.3:
        initializers.append(_int64("shape", [0, -1]))
        nodes.append(helper.make_node("Reshape", [current, "shape"], ["flat"], f"{names}reshape"))
        current = "flat"
    if rng.random() < 0.3 and len(nodes) > 1:
        value_info.append(_value_info(nodes[0].output[0], TensorProto.FLOAT, [1, 2]))  # stale
    model = _model(
        nodes,
        [_value_info("x", TensorProto.FLOAT, ["n", 4, 3, 3])],
        [helper.make_empty_tensor_value_info(current)],
        initializers,
    )
    model.graph.value_info.extend(value_info)
    return model


@needs_checked_onnx
def test_a_lean_run_that_was_the_policy_s_strict_run_hands_its_error_on(monkeypatch):
    """Where the lean run failed and was the policy's own strict run (no data propagation,
    one run of the model under its own names), its error is what the policy's strict run
    raises, and the policy given it (`infer_table(..., strict_error)`) makes only the lenient
    run: the same table. Otherwise (data propagation, short names) nothing is handed on."""
    from trtforge.analyzer import inference_guard
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    real = inference_guard.infer_shapes
    strict_runs = []

    def counted(serialized, check_type, strict, data_prop):
        strict_runs.append(strict)
        return real(serialized, check_type, strict, data_prop)

    handed, kept = 0, 0
    for seed in range(160):
        model = random_failing_chain(seed)
        try:
            _speculation.lean_inferred(model.SerializeToString())
            continue
        except _speculation.SpeculationFailed as raised:
            failed = raised
        ops = [n.op_type for n in model.graph.node]
        # (ONNX's run of a short-named copy raises short names; the native run does not rename)
        renamed = any(len(n.name) > 100 for n in model.graph.node) and (
            _speculation.native_lenient(failed.checked_model, False) is None
        )
        expected = infer_table(model)
        if failed.strict_error is None:
            assert _speculation.propagates(ops) or renamed, f"seed {seed}"
            kept += 1
            continue
        assert not _speculation.propagates(ops) and not renamed, f"seed {seed}"
        assert failed.strict_error == expected.strict_error, f"seed {seed}"
        monkeypatch.setattr(inference_guard, "infer_shapes", counted)
        del strict_runs[:]
        table = infer_table(model, (), failed.checked_types, failed.strict_error)
        monkeypatch.setattr(inference_guard, "infer_shapes", real)
        assert True not in strict_runs, f"seed {seed}"
        assert (table._raw, table.shape_consumers, table.strict_error) == (
            expected._raw,
            expected.shape_consumers,
            expected.strict_error,
        ), f"seed {seed}"
        handed += 1
    assert handed >= 20 and kept >= 5, (handed, kept)


@needs_checked_onnx
def test_a_stale_model_s_two_runs_are_made_at_once(monkeypatch):
    """Where the lean check fails on a stale declaration, the model's runs with and without
    data propagation are made at once, in two threads (`native_lenient_pair`): each is the
    run made alone, and the policy's table asks for neither again."""
    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    made = []
    real = _speculation._infer.inferred
    monkeypatch.setattr(
        _speculation,
        "_infer",
        type("Spy", (), {"inferred": staticmethod(lambda *a: made.append(a[1:]) or real(*a))}),
    )
    paired = 0
    for seed in range(300):
        model = with_random_value_info(random_model)(seed)
        _speculation._native_lenient.cache_clear()
        del made[:]
        try:
            _speculation.lean_inferred(model.SerializeToString())
            continue
        except _speculation.SpeculationFailed as failed:
            if failed.checked_model is None or (False, False) not in made:
                continue
            runs = len(made)
            state = _speculation.lean_policy(failed)
            assert len(made) == runs  # (both remembered)
            checked = failed.checked_model
        if state is None:
            continue
        for data_prop in (False, True):
            alone = real(checked, data_prop, False)
            assert _speculation.native_lenient(checked, data_prop) == (
                alone[0],
                _speculation.strict_error_of(alone[1]),
            ), f"seed {seed}"
        paired += 1
    assert paired >= 5, paired


@needs_checked_onnx
def test_the_lean_policy_propagates_where_the_policy_does():
    """A stale declaration beside a Reshape to the graph's own Shape: the policy infers with
    data propagation (the Reshape's dims are unknown without it), and so does the table the
    lean child makes."""
    from trtforge.analyzer.inference import infer_table

    if _speculation._wire is None:
        pytest.skip("the native reader is not built")
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["y"]),
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Reshape", ["y", "s"], ["r"]),
        ],
        [_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [_value_info("r", TensorProto.FLOAT, None)],
    )
    model.graph.value_info.append(_value_info("y", TensorProto.FLOAT, ["N", 4, 1]))  # stale
    with pytest.raises(_speculation.SpeculationFailed) as failed:
        _speculation.lean_inferred(model.SerializeToString())
    state = _speculation.lean_policy(failed.value)
    table = infer_table(model)
    assert state == (table._raw, table.shape_consumers, table.strict_error)
    assert "differ in rank" in table.strict_error
    assert _typed(state[0], "r") == ["N", 4]
