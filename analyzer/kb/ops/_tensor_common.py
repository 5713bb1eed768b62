"""Shared facts for the tensor-manipulation, indexing and control-flow rules.

Not a rule module (the leading underscore keeps the registry from loading it as one).

Sources: onnx-tensorrt onnxOpImporters.cpp (`notInvalidType(..., {"UINT8"})` guards and
`convertDtype` in importerUtils.cpp); observed with the TensorRT-RTX 1.7.1 parser: DOUBLE tensors
are accepted (the parser casts them down to FLOAT), UINT8 is refused by almost every importer
("Found unsupported input type of UINT8") and only passes through Identity/Shape/Size, and
INT16/UINT16/UINT32/UINT64/STRING/complex tensors have no TensorRT type at all.
"""

from __future__ import annotations

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.graph import QUANTIZATION_OPS, GraphView, structural_analysis
from trtforge.analyzer.kb.policy import FLOATS, MAX_DIM, QUANT
from trtforge.analyzer.kb.rule import NodeContext

#: element types a TensorRT tensor can hold once imported (DOUBLE is cast down to FLOAT).
TENSOR = frozenset(FLOATS | QUANT | {"DOUBLE", "INT32", "INT64", "INT8", "BOOL"})
#: the same plus UINT8, which a few importers pass through (network I/O only).
TENSOR_U8 = TENSOR | {"UINT8"}
#: layers that interpolate (Resize, GridSample): no BOOL and no integer data.
INTERPOLATABLE = frozenset(FLOATS | QUANT | {"DOUBLE", "INT8"})
#: data for DepthToSpace/SpaceToDepth (shuffles, but the importer refuses BOOL and UINT8).
NO_BOOL = TENSOR - {"BOOL"}
#: integer index / shape tensors.
INDEX = frozenset({"INT32", "INT64"})
#: anything numeric that the parser reads as a shape-tensor value.
SHAPE_VALUES = frozenset({"INT32", "INT64"})
FLOAT_LIKE = frozenset(FLOATS | {"DOUBLE"})

OPSRC = "onnx-tensorrt onnxOpImporters.cpp"
FOLD = Fix("rewrite", "fold-constants")
REQUANTIZE_FIX = (Fix("rewrite", "requantize"),)
OBSERVED = "observed with TensorRT-RTX 1.7.1 parser"

#: ops whose output is computable while building the engine when their inputs' shapes are.
_SHAPE_OPS = frozenset({"Shape", "Size"})
#: ops that never yield build-time values.
_OPAQUE = frozenset({"If", "Loop", "Scan", "NonZero", "Unique", "NonMaxSuppression"})


def shape_derived(
    graph: GraphView, name: str, depth: int = 24, network_inputs: bool = True
) -> bool:
    """True when tensor `name` is a build-time constant or computed only from shapes.

    TensorRT evaluates such values as shape tensors, so an importer that needs a value (a float
    `scales`, a float `Range` bound) can use them: constants, Shape/Size outputs, INT32/INT64
    network inputs (which become shape tensors) and anything computed from those only (casts
    to float included). A FLOAT network input, or a value computed from tensor data, is not.
    Observed with the TensorRT-RTX 1.7.1 parser (the ONNX window-function expansions cast an
    INT64 network input to float and feed Range: accepted).

    With `network_inputs=False`, values that depend on a network input do not count (for
    inputs whose values TensorRT must know while building, like Squeeze/Unsqueeze axes).
    Remembered per graph (`_depth_memo`).
    """
    if not name:
        return True
    return _depth_memo(
        graph,
        "shape_derived",
        (name, network_inputs),
        depth,
        lambda: _shape_derived(graph, name, depth, network_inputs),
    )


def _shape_derived(graph: GraphView, name: str, depth: int, network_inputs: bool) -> bool:
    dtype, _, _, is_constant, is_graph_input = graph.facts(name)
    if is_constant:
        return True
    if is_graph_input:  # an integer network input becomes a shape tensor
        return network_inputs and dtype in SHAPE_VALUES
    if depth <= 0:
        return False
    producer = graph.producer_index.get(name)
    if producer is None:
        return False  # a body input or an outer value we cannot see through
    fields = graph.fields
    op = fields.ops[producer]
    if op in _SHAPE_OPS:
        return True
    if op in _OPAQUE:
        return False
    inputs = [n for n in fields.inputs[producer] if n]
    return bool(inputs) and all(shape_derived(graph, n, depth - 1, network_inputs) for n in inputs)


def shape_derived_without_inputs(graph: GraphView, name: str) -> bool:
    """`shape_derived(graph, name, network_inputs=False)`: a constant, or computed from
    shapes only (no network input), for `NodeContext.input_derived`."""
    return shape_derived(graph, name, network_inputs=False)


def float_value_input(ctx: NodeContext, index: int, what: str):
    """Finding when float input `index` must be a value TensorRT can evaluate but is not.

    TensorRT carries values that decide shapes as shape tensors, which must be INT32/INT64
    unless they are build-time constants or computed from shapes; a FLOAT network input (or a
    float computed from data) cannot be one. Observed with TensorRT-RTX 1.7.1: "Network input
    scales is a shape tensor and must have type Int32 or Int64".
    """
    info = ctx.input(index)
    if info is None or info.dtype not in FLOAT_LIKE:
        return None
    if ctx.input_derived(index, shape_derived):
        return None
    seen = "a network input" if info.is_graph_input else "computed from tensor data"
    return ctx.finding(
        "float-shape-input",
        f"{what} ('{ctx.node.input[index]}') is a {info.dtype} value {seen}; TensorRT needs it "
        "as a build-time constant or a value computed from shapes",
        "make it an initializer (trt-rewrite --fold-constants when it depends only on static "
        "shapes), or pass integer sizes instead",
        source=OBSERVED,
    )


#: how deep `reads_float_network_input` walks up the producers.
FLOAT_INPUT_DEPTH = 24


def reads_float_network_input(graph: GraphView, name: str, depth: int = FLOAT_INPUT_DEPTH) -> bool:
    """True when `name` is computed (through anything but Shape/Size) from a float network input
    in at most `depth` producer steps: every tensor's distance from those inputs, computed once
    per graph (`_float_input_hops`), or a walk remembered per graph (`_depth_memo`)."""
    if not name or depth <= 0:
        return False
    if depth <= FLOAT_INPUT_DEPTH:
        hops = _float_input_hops(graph)
        if hops is not None:
            return hops.get(name, depth) < depth
    return _depth_memo(
        graph,
        "reads_float_network_input",
        name,
        depth,
        lambda: _reads_float_network_input(graph, name, depth),
    )


def _depth_memo(graph: GraphView, analysis: str, key, depth: int, compute) -> bool:
    """`compute()`, the answer of a walk up the producers at most `depth` deep, remembered per
    graph (`GraphView.analysis`) for answers that can only turn from False to True as the
    depth grows: True at some depth holds deeper, False at some depth holds shallower. Each
    tensor keeps the least depth it was True at and the most it was False at, so a walk that
    many nodes start (every block's shape computation) is made about once."""
    table = graph.analysis(analysis)
    true_at, false_at = table.get(key, (None, None))
    if true_at is not None and true_at <= depth:
        return True
    if false_at is not None and false_at >= depth:
        return False
    found = compute()
    if found:
        true_at = depth if true_at is None else min(true_at, depth)
    else:
        false_at = depth if false_at is None else max(false_at, depth)
    table[key] = (true_at, false_at)
    return found


def _float_input_hops(graph: GraphView) -> dict[str, int] | None:
    """`_hops_from_float_inputs`, once per graph."""
    return graph.structural("float input hops")


@structural_analysis("float input hops")
def _hops_from_float_inputs(graph: GraphView) -> dict[str, int] | None:
    """`GraphView.producer_hops` from the graph's float network inputs (a walk of depth d
    from a tensor finds one exactly when its hops are below d); None where the graph walks
    instead (a body, no native module). Structural: it reads the declared input types, the
    constants and the producers, never an inferred type."""
    # (an input's facts are those of its declared type: asked once per type, 50,000 inputs;
    # an initializer listed as an input is a constant, not a network input)
    floats: dict[bytes, bool] = {}
    sources = []
    for name, of_type in graph.declared_input_types().items():
        if not name:
            continue
        found = floats.get(of_type)
        if found is None:
            found = floats[of_type] = _is_float_network_input(graph.facts(name))
        if found:
            sources.append(name)
    return graph.producer_hops(sources, _SHAPE_OPS, FLOAT_INPUT_DEPTH)


def _is_float_network_input(facts) -> bool:
    dtype, _, _, is_constant, is_graph_input = facts
    return not is_constant and is_graph_input and dtype in FLOAT_LIKE


def _reads_float_network_input(graph: GraphView, name: str, depth: int) -> bool:
    dtype, _, _, is_constant, is_graph_input = graph.facts(name)
    if is_constant:
        return False
    if is_graph_input:
        return dtype in FLOAT_LIKE
    producer = graph.producer_index.get(name)
    fields = graph.fields
    if producer is None or fields.ops[producer] in _SHAPE_OPS:
        return False
    return any(reads_float_network_input(graph, n, depth - 1) for n in fields.inputs[producer] if n)


def shape_input(ctx: NodeContext, index: int, what: str):
    """Finding when an integer shape-tensor input is computed from a FLOAT network input, or
    is an unsqueezed quantized scalar (`unsqueezed_quantized_scalar`).

    TensorRT computes shape tensors while building; one computed from float network data
    (e.g. Cast(float input) fed to Reshape's shape or Range's limit) fails with
    "Assertion !isInFlight(...)" (observed with TensorRT-RTX 1.7.1).
    """
    if not ctx.has_input(index):
        return None
    info = ctx.input(index)  # facts first: a verdict from them alone is shared (VerdictMemo)
    quantized = info.rank is not None and info.rank <= 1 and not info.is_initializer
    if quantized and ctx.graph_has_quantization:  # computed constants included
        finding = quantized_extent(ctx, index, what) or quantized_constant(ctx, index, what)
        if finding is not None:
            return finding
    if info.is_constant:
        return None
    if info.dtype in FLOAT_LIKE:
        return None  # float values are judged by float_value_input
    if not ctx.input_derived(index, reads_float_network_input):
        return None
    name = ctx.node.input[index]
    return ctx.finding(
        "float-shape-input",
        f"{what} ('{name}') is computed from a FLOAT network input; TensorRT computes it as a "
        "shape tensor and cannot",
        "feed the dimensions as INT64 network inputs, or fold them to constants",
        source=OBSERVED,
    )


#: ops through which an unsqueezed quantized scalar keeps the extent TensorRT cannot compute
#: (the experiments in `unsqueezed_quantized_scalar`: Add and Cast between the Unsqueeze and
#: the Concat still fail).
_EXTENT_CARRIERS = frozenset(
    {"Add", "Sub", "Mul", "Div", "Mod", "Pow", "Max", "Min", "Neg", "Abs", "Floor", "Ceil",
     "Round", "Relu", "Clip", "Sqrt", "Cast", "Identity"}
)  # fmt: skip
QDQ_SOURCE = (
    "observed with the TensorRT-RTX 1.7.1 parser (CPU-only): Reshape shape, Slice ends, Tile "
    "repeats, ConstantOfShape, and a Concat mixing it with other tensors fail on Unsqueeze of "
    'a rank-0 value computed by QuantizeLinear/DequantizeLinear ("Error while computing '
    'output extent", "ends.size() == axes.size()"); a Concat of such tensors only, Add '
    "and Cast pass it on; the same value reshaped to [1], or unsqueezed before quantization, "
    "parses"
)


def unsqueezed_quantized_scalar(graph: GraphView, name: str) -> str | None:
    """The name of an Unsqueeze whose extent tensor `name` carries, or None.

    TensorRT cannot compute, while parsing, the extent of an Unsqueeze of a rank-0 value that a
    QuantizeLinear/DequantizeLinear computed (directly, or through rank-0 arithmetic). The
    unknown extent travels through elementwise arithmetic and casts (`_EXTENT_CARRIERS`) and
    through a Concat of such tensors only; a Concat that mixes one with other tensors, or a
    shape input that reads one, is refused (QDQ_SOURCE). onnxruntime's quantizer writes these
    when a model computes sizes in float (`ceil(h / p) * p` in MobileViT's patching): the
    scalar Mul/Div get Q/DQ pairs, and Unsqueeze + Concat build the shape.
    """
    if not name or name not in _extent_reach(graph):
        return None
    table = graph.analysis("unsqueezed_quantized_scalar")
    if name not in table:
        table[name] = _extent_source(graph, name, {}, _WALK_DEPTH)
    return table[name]


#: how many producers deep the walks for quantized shape values go
_WALK_DEPTH = 12


def _extent_reach(graph: GraphView) -> frozenset[str]:
    """The tensors `_extent_source` may find an unsqueezed quantized scalar from: those
    downstream of such an Unsqueeze through Concats and through carriers' rank-1 inputs
    (`_reached`). The static backend asks the walk of every shape input of every node when
    it compares their verdicts; this keeps it to the few that can find one."""

    def source(name: str) -> bool:
        return graph.tensor(name).rank == 0 and _quantized_scalar(graph, name)

    def through(name: str, op: str) -> bool:
        return op == "Concat" or (op in _EXTENT_CARRIERS and graph.tensor(name).rank == 1)

    return _reached(graph, "extent_reach", "Unsqueeze", source, through)


def _int8_constant_reach(graph: GraphView) -> frozenset[str]:
    """The tensors `_dequantized_int8_constant` may find a DequantizeLinear of an INT8
    initializer from: those downstream of one through tensors of rank 0 or 1 (`_reached`)."""

    def source(name: str) -> bool:
        data = graph.tensor(name)
        return data.is_initializer and data.dtype == "INT8"

    def through(name: str, op: str) -> bool:
        rank = graph.tensor(name).rank
        return rank is not None and rank <= 1 and op not in _SHAPE_OPS and op not in _OPAQUE

    return _reached(graph, "int8_constant_reach", "DequantizeLinear", source, through)


def _reached(graph: GraphView, analysis: str, op: str, source, through) -> frozenset[str]:
    """The starts — the first output of each `op` node whose first input is a `source` —
    and the tensors at most _WALK_DEPTH nodes downstream of them, a step from a tensor to
    the outputs of a node that reads it taken where `through(tensor, op)`: every tensor a
    walk up the producers that stops at the starts' producers, and goes up only such steps,
    can end at one from (a superset: the walk decides). Made once per graph."""
    memo = graph.analysis(analysis)
    reached = memo.get("")
    if reached is None:
        f = graph.fields
        readers: dict[str, list[int]] = {}
        frontier = [
            f.outputs[i][0]
            for i, kind in enumerate(f.ops)
            if kind == op and f.inputs[i] and f.outputs[i] and f.inputs[i][0]
            and f.outputs[i][0] and source(f.inputs[i][0])
        ]  # fmt: skip
        found = set(frontier)
        if frontier:
            for i, names in enumerate(f.inputs):
                for name in names:
                    if name:
                        readers.setdefault(name, []).append(i)
        for _ in range(_WALK_DEPTH):
            step = []
            for name in frontier:
                for i in readers.get(name, ()):
                    if through(name, f.ops[i]):
                        new = [out for out in f.outputs[i] if out and out not in found]
                        found.update(new)
                        step += new
            frontier = step
            if not frontier:
                break
        reached = memo[""] = frozenset(found)
    return reached


def _extent_source(graph: GraphView, name: str, seen: dict, depth: int) -> str | None:
    if not name or depth <= 0:
        return None
    if name in seen:
        return seen[name]
    seen[name] = None
    node = graph.producer(name)
    found = None
    if node is None:
        pass
    elif node.op_type == "Unsqueeze" and node.input:
        if graph.tensor(node.input[0]).rank == 0 and _quantized_scalar(graph, node.input[0]):
            found = node.name or node.output[0]
    elif node.op_type == "Concat":
        sources = [_extent_source(graph, n, seen, depth - 1) for n in node.input if n]
        if sources and all(sources):
            found = sources[0]
    elif node.op_type in _EXTENT_CARRIERS:
        for source in node.input:
            if source and graph.tensor(source).rank == 1:
                found = _extent_source(graph, source, seen, depth - 1)
                if found is not None:
                    break
    seen[name] = found
    return found


def _quantized_scalar(graph: GraphView, name: str, depth: int = 16) -> bool:
    """True when rank-0 tensor `name` is a QuantizeLinear/DequantizeLinear output or is
    computed from one through rank-0 tensors only. (The producers are looked up by index, and
    a rank is read only of a tensor some node computes: a BERT's 10,000 Unsqueezes of
    `Gather(Shape(x), i)` are asked, once each.)"""
    producers = graph.producer_index
    at = producers.get(name)
    if at is None or depth <= 0:
        return False
    fields = graph.fields
    op = fields.ops[at]
    if op in QUANTIZATION_OPS:
        return True
    if op in _SHAPE_OPS or op in _OPAQUE:
        return False
    return any(
        source in producers
        and graph.tensor(source).rank == 0
        and _quantized_scalar(graph, source, depth - 1)
        for source in fields.inputs[at]
    )


def quantized_extent(ctx: NodeContext, index: int, what: str, unsqueeze: str | None = None):
    """Finding when input `index` carries the extent of an unsqueezed quantized scalar (see
    `unsqueezed_quantized_scalar`, or `unsqueeze`: the one a caller found); None otherwise."""
    if unsqueeze is None:  # (an analysis: the verdict stays shared where it finds none)
        unsqueeze = ctx.input_derived(index, unsqueezed_quantized_scalar)
    if unsqueeze is None:
        return None
    name = ctx.node.input[index]
    return ctx.finding(
        "quantized-scalar-extent",
        f"{what} ('{name}') carries the extent of Unsqueeze '{unsqueeze}' of a quantized "
        "scalar (a QuantizeLinear/DequantizeLinear computes a rank-0 value), which TensorRT "
        "cannot compute while parsing",
        "compute the scalar without quantization: trt-rewrite --requantize (scalar Q/DQ become "
        "exact float arithmetic)",
        REQUANTIZE_FIX,
        source=QDQ_SOURCE,
    )


def quantized_constant(ctx: NodeContext, index: int, what: str):
    """Finding when shape input `index` is computed (through rank-0/1 tensors) from a
    DequantizeLinear of an INT8 initializer: TensorRT evaluates a shape input symbolically
    while parsing and cannot read INT8 weights ("SymbolicExecute is not supported for weights
    type Int8", observed with the TensorRT-RTX 1.7.1 parser)."""
    dequantize = ctx.input_derived(index, dequantized_int8_constant)
    if dequantize is None:
        return None
    name = ctx.node.input[index]
    return ctx.finding(
        "quantized-constant-shape",
        f"{what} ('{name}') is computed from DequantizeLinear '{dequantize}' of an INT8 "
        "initializer; TensorRT cannot evaluate INT8 weights in a shape computation",
        "store the value in float (trt-rewrite --requantize folds the DequantizeLinear of a "
        "constant into a float constant)",
        REQUANTIZE_FIX,
        source='observed with the TensorRT-RTX 1.7.1 parser: "SymbolicExecute is not '
        'supported for weights type Int8" (Reshape shape from Cast(DequantizeLinear(INT8 '
        "initializer)), directly or through Concat)",
    )


def dequantized_int8_constant(graph: GraphView, name: str) -> str | None:
    """The name of the DequantizeLinear of an INT8 initializer that tensor `name` is computed
    from through rank-0/1 tensors (`quantized_constant`), or None."""
    if not name or name not in _int8_constant_reach(graph):
        return None
    table = graph.analysis("dequantized_int8_constant")
    if name not in table:
        table[name] = _dequantized_int8_constant(graph, name, set(), _WALK_DEPTH)
    return table[name]


def _dequantized_int8_constant(graph: GraphView, name: str, seen: set, depth: int) -> str | None:
    if not name or depth <= 0 or name in seen:
        return None
    seen.add(name)
    node = graph.producer(name)
    if node is None or node.op_type in _SHAPE_OPS or node.op_type in _OPAQUE:
        return None
    if node.op_type == "DequantizeLinear" and node.input:
        data = graph.tensor(node.input[0])
        if data.is_initializer and data.dtype == "INT8":
            return node.name or node.output[0]
    if _extent_source(graph, name, {}, 2) is not None:
        return None  # refused before: the Concat or shape input that reads the Unsqueeze
    for source in node.input:
        rank = graph.tensor(source).rank if source else None
        if rank is not None and rank <= 1:
            found = _dequantized_int8_constant(graph, source, seen, depth - 1)
            if found is not None:
                return found
    return None


def shape_inputs_check(*specs: tuple[int, str]):
    """A rule check applying `shape_input` to each (index, description)."""

    def check(ctx: NodeContext):
        for index, what in specs:
            finding = shape_input(ctx, index, what)
            if finding is not None:
                yield finding

    return check


def static_length(ctx: NodeContext, index: int, what: str):
    """Finding when a 1-D shape-tensor input (a shape, starts/ends/axes, pads, sizes) has a
    dynamic length: its length sets the output's rank or the number of axes, which TensorRT
    needs at build time. Observed with TensorRT-RTX 1.7.1 (held-out all-dims-dynamic probes):
    Reshape/Expand `shape`, ConstantOfShape's input and Resize `sizes` fail in the shape
    analyzer ("value should have been set by symbolic execution of producer"), Slice
    ("The shape of input starts misaligns with the shape of input axes … = -1") and Pad
    ("pads should be twice the length of input axes … actual length is: -1") in importSlice /
    importPad; Tile `repeats` of dynamic length parses.

    Only network inputs are judged: the length of a computed shape tensor (Concat of Shape
    slices, …) is often unknown to ONNX shape inference but known to TensorRT.
    """
    info = ctx.input(index)
    if info is None or info.shape is None or len(info.shape) != 1 or info.static_shape:
        return None
    if not info.is_graph_input:
        return None
    return ctx.finding(
        "dynamic-length",
        f"{what} ('{ctx.node.input[index]}') has a dynamic length {list(info.shape)}; TensorRT "
        "needs the number of elements (the output rank or axis count) at build time",
        f"give {what} a static length (e.g. build it with Concat of fixed pieces)",
        source=OBSERVED,
    )


def static_lengths_check(*specs: tuple[int, str]):
    """A rule check applying `static_length` to each (index, description)."""

    def check(ctx: NodeContext):
        for index, what in specs:
            finding = static_length(ctx, index, what)
            if finding is not None:
                yield finding

    return check


def build_time_input(ctx: NodeContext, index: int, why: str):
    """Finding when input `index` is not known while building (constant or from shapes).

    Observed with TensorRT-RTX 1.7.1: Unsqueeze/Squeeze axes computed from Shape(...) are
    accepted; axes that are a network input fail ("axis is not a constant").
    """
    if not ctx.has_input(index):
        return None
    if ctx.input(index).is_constant:  # a fact: the verdict stays shareable (VerdictMemo)
        return None
    if ctx.input_derived(index, shape_derived_without_inputs):
        return None
    name = ctx.node.input[index]
    return ctx.finding(
        "input-not-constant",
        f"input {index} ('{name}') must be a build-time constant: {why}",
        "fold it into an initializer (trt-rewrite --fold-constants) if it depends only on "
        "static shapes; otherwise export with a fixed value",
        (FOLD,),
    )


#: TensorRT tensors have at most 8 dims (nvinfer1::Dims::MAX_DIMS).
MAX_DIMS = 8


def output_rank(ctx: NodeContext, rank: int | None):
    """Finding when the node would produce a tensor of more than MAX_DIMS dims.

    Observed with TensorRT-RTX 1.7.1: Reshape to 9 dims fails ("Number of dimensions (9) is
    not in the valid range [-1, Dims::MAX_DIMS]").
    """
    if rank is None or rank <= MAX_DIMS:
        return None
    return ctx.finding(
        "rank-above-8",
        f"the output would have {rank} dims; TensorRT tensors have at most {MAX_DIMS}",
        "merge adjacent dims so that no tensor exceeds 8 dims",
    )


def output_dims_fit(ctx: NodeContext):
    """A static output dim above MAX_DIM: the layer is refused ("Invalid Node"; observed
    with TensorRT-RTX 1.7.1: Pad, Tile and Expand to 2^31 - 1 parse, to 2^31 fail; Resize to
    2^31 sizes "inherently negative length" — given as scales it parses and builds —, Reshape
    to [2^31] fails). A dim that is only known at run time (computed from a symbolic input
    dim) parses, and so does a ConstantOfShape of any size (a fill of a shape tensor): those
    are not judged here."""
    out = ctx.output(0)
    if out is None or out.shape is None:
        return
    big = [d for d in out.shape if isinstance(d, int) and d > MAX_DIM]
    if big:
        yield ctx.finding(
            "dim-too-large",
            f"the output {list(out.shape)} has a dim of {big[0]}; TensorRT builds this layer "
            f"only with dims up to {MAX_DIM} (2^31 - 1)",
            "fix the exporter: the sizes (pads, repeats, shape) were computed wrongly; no "
            "engine can hold this tensor",
        )


def int32_values(ctx: NodeContext, index: int, what: str):
    """A constant input whose values must fit INT32 (observed with TensorRT-RTX 1.7.1: Slice
    steps of -2^31 and 2^31 - 1 parse, -2^31 - 1 and 2^31 fail with "Invalid Node")."""
    value = ctx.input_value(index) if ctx.has_input(index) else None
    if value is None or getattr(value, "dtype", None) is None or value.dtype.kind not in "iu":
        return
    outside = [int(v) for v in value.reshape(-1) if not -(2**31) <= int(v) <= MAX_DIM]
    if outside:
        yield ctx.finding(
            "int32-range",
            f"{what} holds {outside[0]}, outside the 32-bit range TensorRT's layer takes",
            f"fix the exporter: {what} must lie in [-2^31, 2^31 - 1]",
        )
