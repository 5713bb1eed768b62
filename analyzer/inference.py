"""Types of tensors: the type table and the shape-inference policy every part of trtforge uses.

`infer_types` runs ONNX shape inference the safe way (on the model without its large weights;
data propagation only where it can help and cannot blow up) and keeps each tensor's type as
serialized bytes (`TypeTable`). `ModelSession` (`analyzer/session.py`) calls it once per
version of a model; the read-only view the rules see is `graph.GraphView`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Container, Iterator, Mapping

import onnx

from trtforge.analyzer import _speculation, inference_guard
from trtforge.analyzer._shallow_graph import (
    merged_columns,
    shallow_graph,
)
from trtforge.analyzer._speculation import (
    COMPUTED_DOMAINS,
    CONTROL_FLOW,
    ELEMENT_TYPE_CONFLICT,
    INFERENCE_READS_ANY_RANK_OF,
    INFERENCE_READS_VALUES_OF,
    MAX_DATA_PROP_ELEMENTS,
    MAX_INFERENCE_INITIALIZER_BYTES,
    SHAPE_CONSUMERS,
    VALUE_READERS,
    address_space_cap,
    bodies_of,
    checked_declarations,
    first_types,
    inferred_types,
    propagates,
    shape_consumers,
    strict_run,
    too_large_for_data_prop,
)

log = logging.getLogger("trtforge.inference")

#: prefix of the symbolic dims ONNX shape inference makes up for unknown sizes (`unk__<n>`).
GENERATED_DIM = "unk__"


def dtype_name(elem_type: int | None) -> str:
    """`FLOAT`, `INT64`, ... for an ONNX element type (`UNDEFINED` when unknown)."""
    if not elem_type:
        return "UNDEFINED"
    name = _DTYPE_NAMES.get(elem_type)
    return name if name is not None else f"TYPE{elem_type}"


#: element type number -> name (a dict: the protobuf enum's Name() costs ~1 µs a call).
_DTYPE_NAMES: dict[int, str] = {number: name for name, number in onnx.TensorProto.DataType.items()}


Dim = int | str | None


def _type_of(value_type: onnx.TypeProto) -> tuple[str, tuple[Dim, ...] | None]:
    """(dtype name, shape) of a type; memoized by the type's bytes (most tensors of a large
    model share a handful of types, and decoding dims costs ~1 µs each in Python)."""
    return _type_of_bytes(value_type.SerializeToString(), value_type)


def _type_of_bytes(
    raw: bytes, value_type: onnx.TypeProto | None = None
) -> tuple[str, tuple[Dim, ...] | None]:
    """`_type_of` of a serialized TypeProto (`value_type`: the same, parsed, if at hand)."""
    known = _TYPE_CACHE.get(raw)
    if known is None:
        known = _decode_type(value_type or onnx.TypeProto.FromString(raw))
        if len(_TYPE_CACHE) < 100_000:
            _TYPE_CACHE[raw] = known
    return known


_TYPE_CACHE: dict[bytes, tuple[str, tuple[Dim, ...] | None]] = {}


def _decode_type(value_type: onnx.TypeProto) -> tuple[str, tuple[Dim, ...] | None]:
    kind = value_type.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        tensor = value_type.tensor_type if kind == "tensor_type" else value_type.sparse_tensor_type
        shape: tuple[Dim, ...] | None = None
        if tensor.HasField("shape"):
            shape = tuple(
                [
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tensor.shape.dim
                ]
            )
        return dtype_name(tensor.elem_type), shape
    if kind == "sequence_type":
        return "SEQUENCE", None
    if kind == "map_type":
        return "MAP", None
    if kind == "optional_type":
        return "OPTIONAL", None
    return "UNDEFINED", None


def _is_heavy(tensor: onnx.TensorProto, valued: Container[str]) -> bool:
    """Whether shape inference runs without the initializer `tensor` (`_weightless`): one
    stored externally, serialized larger than MAX_INFERENCE_INITIALIZER_BYTES, or a weight
    (`_speculation.INFERENCE_READS_VALUES_OF`) whose name is not in `valued` (the inputs of
    the nodes of INFERENCE_READS_ANY_RANK_OF)."""
    return (
        tensor.data_location == onnx.TensorProto.EXTERNAL
        or tensor.ByteSize() > MAX_INFERENCE_INITIALIZER_BYTES
        or (_may_be_weight(tensor) and tensor.name not in valued)
    )


def _may_be_weight(tensor: onnx.TensorProto) -> bool:
    """Of rank 2 or more and not INT32/INT64 (`_speculation.INFERENCE_READS_VALUES_OF`): a
    weight unless an op of INFERENCE_READS_ANY_RANK_OF reads it."""
    return len(tensor.dims) >= 2 and tensor.data_type not in INFERENCE_READS_VALUES_OF


def _copy_field(message, name: str, value) -> None:
    """Sets a scalar field; text that is not UTF-8 (protobuf reads it as bytes and refuses to
    assign it back) is copied as it is, through the wire format."""
    if type(value) is not bytes:
        setattr(message, name, value)
        return
    number = message.DESCRIPTOR.fields_by_name[name].number
    message.MergeFromString(_varint(number << 3 | 2) + _varint(len(value)) + value)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _holds_weight(node: onnx.NodeProto, valued: Container[str]) -> bool:
    """Whether `node` is a Constant (default domain) whose `value` is a weight
    (`_may_be_weight`, not stored externally) and none of whose outputs is in `valued`:
    `_weightless` leaves the weight's values out."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
        return False
    if any(name in valued for name in node.output):
        return False
    return any(_constant_weight(attr) for attr in node.attribute)


def _constant_weight(attr: onnx.AttributeProto) -> bool:
    """Whether a Constant's attribute is its `value`, a weight held in the file."""
    tensor = attr.t
    return (
        attr.name == "value"
        and attr.HasField("t")
        and _may_be_weight(tensor)
        and tensor.data_location != onnx.TensorProto.EXTERNAL
    )


#: TensorProto's fields that hold its values.
_DATA_FIELDS = (
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "raw_data",
    "double_data",
    "uint64_data",
)


def _without_weight(node: onnx.NodeProto) -> onnx.NodeProto:
    """A copy of a Constant node (`_holds_weight`) whose weight has no values."""
    bare = onnx.NodeProto()
    bare.CopyFrom(node)
    for attr in bare.attribute:
        if _constant_weight(attr):
            for field in _DATA_FIELDS:
                attr.t.ClearField(field)
    return bare


def _weightless(model: onnx.ModelProto, heavy_at: Collection[int] = ()) -> onnx.ModelProto:
    """`model` with its large, external and weight initializers (`_is_heavy`, and those at
    the positions `heavy_at`) turned into typed graph inputs, and the weights its Constant
    nodes hold without their values (`_holds_weight`).

    Shape inference with data propagation reads initializer values: on an external tensor it
    allocates the tensor's full size (gigabytes for large models, though the data is never
    read), and it copies embedded weights (~0.8 s for 50,000 small ones, 110 MB); a Constant's
    value it copies too. Types and shapes of weights do not need their values, so inference
    runs on a copy without them. Returns `model` itself when it has no such weight.

    Where inference reads no initializer's values (no top-level node of an op in
    `_speculation.VALUE_READERS`, no local function), every initializer not declared as an
    input is such an input too: ONNX copies each initializer it is given.

    `heavy_at`: the initializers a lean load left without data (`LoadedModel.elided`), each
    heavy in the whole model, so that the copy is the whole model's.
    """
    graph = model.graph
    valued: Container[str] = ()  # the nodes are walked only where a weight may be kept
    nodes = list(graph.node)
    constants = [i for i, n in enumerate(nodes) if n.op_type == "Constant"]
    if constants or any(map(_may_be_weight, graph.initializer)):
        valued = {
            name
            for node in nodes
            if node.op_type in INFERENCE_READS_ANY_RANK_OF
            for name in node.input
        }
    heavy_at = frozenset(heavy_at)
    declared = {vi.name for vi in graph.input}
    reads_no_values = not model.functions and VALUE_READERS.isdisjoint(n.op_type for n in nodes)
    heavy = [
        t
        for i, t in enumerate(graph.initializer)
        if i in heavy_at or (reads_no_values and t.name not in declared) or _is_heavy(t, valued)
    ]
    holding = {i: _without_weight(nodes[i]) for i in constants if _holds_weight(nodes[i], valued)}
    if not heavy and not holding:
        return model
    light = onnx.ModelProto()
    for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version"):
        _copy_field(light, name, getattr(model, name))
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    target = light.graph
    _copy_field(target, "name", graph.name)
    target.node.extend(holding.get(i, n) for i, n in enumerate(nodes))
    target.input.extend(graph.input)
    target.output.extend(graph.output)
    target.value_info.extend(graph.value_info)
    target.sparse_initializer.extend(graph.sparse_initializer)
    heavy_names = {t.name for t in heavy}
    target.initializer.extend(t for t in graph.initializer if t.name not in heavy_names)
    for tensor in heavy:
        if tensor.name not in declared:
            value = onnx.helper.make_tensor_value_info("", tensor.data_type, tensor.dims)
            _copy_field(value, "name", tensor.name)
            target.input.append(value)
    return light


def onnxruntime_symbolic(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """`model` with the value types onnxruntime's symbolic shape inference finds (it knows
    onnxruntime's com.microsoft ops, which ONNX's inference leaves untyped), as far as it
    gets; None where onnxruntime is not installed, the model's opset is below 7 (which it
    refuses), or its inference raises.

    Its `infer_shapes` saves an incompletely inferred model, weights and all, as
    `sym_shape_infer_temp.onnx` plus a data file in the current directory before raising:
    files in whatever folder the user runs from. The same steps run here instead, and what
    was inferred is kept. Should onnxruntime change those steps, this returns None (no
    types) rather than write."""
    try:
        from onnxruntime.tools import symbolic_shape_infer as symbolic
    except ImportError:
        return None
    engine_class = symbolic.SymbolicShapeInference
    steps = ("_preprocess", "_infer_impl", "_update_output_from_vi")
    if not all(hasattr(engine_class, step) for step in steps):
        return None
    try:
        opset = symbolic.get_opset(model)
        if not opset or opset < 7:
            return None
        engine = engine_class(2**31 - 1, True, False, 0)  # int_max, auto_merge, guess, verbose
        engine._preprocess(model)
        while engine.run_:
            engine._infer_impl()
        engine._update_output_from_vi()
        return engine.out_mp_
    except Exception:  # noqa: BLE001 - best effort: the caller goes without
        return None


def symbolic_types(model: onnx.ModelProto, names: Container[str]) -> dict[str, onnx.TypeProto]:
    """Types of `names` from onnxruntime's symbolic shape inference (`onnxruntime_symbolic`),
    which knows onnxruntime's com.microsoft ops (FastGelu, SkipLayerNormalization,
    Attention, …) whose outputs, and what follows them, ONNX's inference leaves untyped; {}
    where it gives none (the caller then goes without)."""
    inferred = onnxruntime_symbolic(model)
    if inferred is None:
        return {}
    return {
        value.name: value.type
        for value in inferred.graph.value_info
        if value.name in names and _typed(value.type)
    }


def _typed(value_type: onnx.TypeProto) -> bool:
    """Whether `value_type` says something: a kind, and for a tensor an element type (an
    incomplete symbolic inference leaves empty ones)."""
    kind = value_type.WhichOneof("value")
    return kind is not None and (kind != "tensor_type" or value_type.tensor_type.elem_type != 0)


#: the integer element types (INT32, INT64) of the shapes and indices an Identity may pass on.
_SHAPE_VALUE_TYPES = frozenset({onnx.TensorProto.INT32, onnx.TensorProto.INT64})


def _identities_as_casts(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[int]]:
    """`model` with each top-level Identity of an INT32/INT64 constant (an initializer, or a
    Constant's `value`) made a Cast to that same type, and the positions of those nodes;
    `model` itself and [] where there is none.

    ONNX 1.23's inference propagates no value through Identity (the op has no data
    propagation), but does through Cast. A shape read through an Identity of a constant — as
    the TorchScript exporter writes at opset 17 for weight-standardized convolutions (NF-Net,
    BiT: Reshape(f(W), Identity(shape))) — left every dim of the Reshape and of what follows
    unknown, where TensorRT folds the constant and knows them (the Conv reading those weights
    parses). A Cast to its input's own type is an Identity: the types are the same otherwise.
    The native reader makes the same copy of a serialized model (`_wire.identities_as_casts`).
    """
    graph = model.graph
    nodes = graph.node
    identities = [
        i for i, n in enumerate(nodes) if n.op_type == "Identity" and n.domain in ("", "ai.onnx")
    ]
    if not identities:
        return model, []
    typed = {t.name: t.data_type for t in graph.initializer}
    for node in nodes:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    typed[node.output[0]] = attr.t.data_type
                elif attr.name in ("value_int", "value_ints"):
                    typed[node.output[0]] = onnx.TensorProto.INT64
    casts = {
        i: typed[nodes[i].input[0]]
        for i in identities
        if len(nodes[i].input) == 1 and typed.get(nodes[i].input[0]) in _SHAPE_VALUE_TYPES
    }
    if not casts:
        return model, []
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for i, to in casts.items():
        node = copy.graph.node[i]
        node.op_type = "Cast"
        node.attribute.append(onnx.helper.make_attribute("to", to))
    return copy, sorted(casts)


def _checked_declarations(
    light: onnx.ModelProto, checked_types: Mapping[str, bytes] | None = None
) -> onnx.ModelProto:
    """`light` (the copy inference runs on) with each static dim its value_info, graph outputs
    or If/Loop/Scan bodies declare where inference from the network's inputs gives one of
    their symbolic dims declared as that symbol instead; `light` itself where there is none.

    TensorRT's parser computes every tensor's dims from the network's inputs and never reads
    value_info or declared output shapes. ONNX's inference keeps a static dim that one
    declares where it computes a symbolic one, and passes it on to what follows: a
    ConvTranspose whose input has the network's dynamic channels, a per-channel
    DequantizeLinear on a dynamic axis, then looked static to the knowledge base, where the
    parser refuses them. Inference is first run without the declared static dims
    (`_without_declared_dims`), and a declared dim is replaced only where that run traced it
    to a network input's symbolic dim, which TensorRT sees as dynamic
    (`_declared_as_computed`). A declaration that adds what inference cannot
    compute (an unknown dim: a Split whose sizes a stale declaration hides, a contrib op's
    output) stays, as before. Costs a second run, only for a model with symbolic input dims
    that declares static dims of computed tensors; the native reader makes both copies from
    the serialized model (`_speculation.checked_declarations`). `checked_types`: that run's
    types (name -> serialized type), where a lean child's check made them on the same model
    before its own run failed (`_speculation.SpeculationFailed`): not made again."""
    graph = light.graph
    if not _input_dim_params(graph):
        return light
    bodies = any(node.op_type in CONTROL_FLOW for node in graph.node)
    declares = len(graph.value_info) or any(_declares_static_dim(v.type) for v in graph.output)
    if not declares and not bodies:
        return light
    run = _run_without_declared_dims(graph)
    if checked_types is not None:
        run = lambda _cleared: checked_types  # noqa: E731 - the same model's, made already
    try:
        serialized = light.SerializeToString()
        native = checked_declarations(serialized, run, bodies)
        if native is not None:
            return light if native is serialized else onnx.ModelProto.FromString(native)
        cleared = _without_declared_dims(light)
        if cleared is light:
            return light
        return _declared_as_computed(light, run(cleared.SerializeToString()))
    except Exception as err:  # noqa: BLE001 - as `_infer`: keep the declarations
        log.info("shape inference without declared dims failed: %s", err)
        return light


def _run_without_declared_dims(graph: onnx.GraphProto):
    """The run `_checked_declarations` makes of the copy without declared dims: ONNX's
    inference, lenient, giving the serialized type of each tensor (name -> bytes); with data
    propagation where the policy would use it, made, as the policy makes it, only after a run
    without it shows no rank-1 tensor large enough to blow it up (`_safe_for_data_prop`)."""
    data_prop = propagates(n.op_type for n in graph.node) and not _large_1d_input(graph)

    def run(serialized: bytes) -> Mapping[str, bytes]:
        table = _table_of(_lenient_run(serialized, False))
        if data_prop and _safe_for_data_prop(table):
            table = _table_of(_lenient_run(serialized, True))
        return table.serialized_table()

    return run


def _declared_as_computed(light: onnx.ModelProto, computed: Mapping[str, bytes]) -> onnx.ModelProto:
    """`light` with each static dim a value_info entry or graph output (of the top-level
    graph or an If/Loop/Scan body: `_graphs`) declares for a tensor type, where the type
    `computed` gives the tensor (of the same rank) has a symbolic dim of the top-level
    graph's inputs, declared as that symbol; `light` itself where there is none (the
    reference of `_wire.declared_dims_checked`)."""
    params = _input_dim_params(light.graph)
    replaced: dict[tuple[int, str, int], list[tuple[int, str]]] = {}
    declarations = [
        ((number, field, i), value)
        for number, graph in enumerate(_graphs(light.graph))
        for field in ("value_info", "output")
        for i, value in enumerate(getattr(graph, field))
    ]
    for place, value in declarations:
        serialized = computed.get(value.name)
        if serialized is None or value.type.WhichOneof("value") != "tensor_type":
            continue
        found = _type_of_bytes(serialized)[1]
        declared = value.type.tensor_type.shape.dim
        if not value.type.tensor_type.HasField("shape") or found is None:
            continue
        if len(found) != len(declared):
            continue
        symbols = [
            (axis, dim)
            for axis, (given, dim) in enumerate(zip(declared, found, strict=True))
            if given.HasField("dim_value") and isinstance(dim, str) and dim in params
        ]
        # (a computed sparse tensor gives dims too: only a tensor type's count)
        if symbols and onnx.TypeProto.FromString(serialized).HasField("tensor_type"):
            replaced[place] = symbols
    if not replaced:
        return light
    copy = onnx.ModelProto()
    copy.CopyFrom(light)
    graphs = list(_graphs(copy.graph))  # (the same walk: the same numbers)
    for (number, field, position), symbols in replaced.items():
        declared = getattr(graphs[number], field)[position].type.tensor_type.shape.dim
        for axis, symbol in symbols:
            declared[axis].dim_param = symbol
    return copy


def _input_dim_params(graph: onnx.GraphProto) -> set[str]:
    """The symbolic dims of the graph's (tensor) inputs (names that are not empty)."""
    return {
        dim.dim_param
        for value in graph.input
        if value.type.WhichOneof("value") == "tensor_type"
        for dim in value.type.tensor_type.shape.dim
        if dim.dim_param
    }


def _without_declared_dims(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with the value_info of each tensor that a node of an ONNX domain computes
    (`_speculation.COMPUTED_DOMAINS`), and its graph output where a node reads it (an
    If/Loop/Scan body's, always: its node reads them), declaring no static dim, in the
    top-level graph and its bodies (`_graphs`): each dim_value of the tensor shapes its type
    holds left out (an unknown dim; symbolic names are kept). `model` itself where there is
    none, or where no graph input has a symbolic dim (no dim can then be traced to one). The
    declarations of what other nodes make (a plugin's output) are kept: only they give its
    dims. The native reader makes the same copy of a serialized model
    (`_wire.declared_dims_cleared`)."""
    if not _input_dim_params(model.graph):
        return model
    places = [
        (number, field, i)
        for number, graph in enumerate(_graphs(model.graph))
        for field, i in _declared_static(graph, top=number == 0)
    ]
    if not places:
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graphs = list(_graphs(copy.graph))  # (the same walk: the same numbers)
    for number, field, i in places:
        _clear_static_dims(getattr(graphs[number], field)[i].type)
    return copy


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """`graph`, then the If/Loop/Scan bodies of its ONNX-domain nodes (and theirs), in order:
    the graphs whose declarations ONNX's inference merges."""
    yield graph
    for node in graph.node:
        if node.domain not in COMPUTED_DOMAINS:
            continue
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for body in attr.graphs:
                yield from _graphs(body)


def _declared_static(graph: onnx.GraphProto, top: bool) -> list[tuple[str, int]]:
    """(field, position) of each of `graph`'s value_info entries and outputs that
    `_without_declared_dims` clears: a tensor an ONNX-domain node of the graph computes, whose
    type declares a static dim; a top-level output only where a node reads it."""
    computed = {
        name for node in graph.node if node.domain in COMPUTED_DOMAINS for name in node.output
    }
    outputs = [i for i, value in enumerate(graph.output) if _declares_static_dim(value.type)]
    if outputs and top:  # (ONNX merges an output's declared type as a value_info entry's)
        read = {name for node in graph.node for name in node.input}
        outputs = [i for i in outputs if graph.output[i].name in read]
    places = [
        ("value_info", i)
        for i, value in enumerate(graph.value_info)
        if value.name in computed and _declares_static_dim(value.type)
    ]
    return places + [("output", i) for i in outputs if graph.output[i].name in computed]


def _tensor_types(value_type: onnx.TypeProto) -> Iterator[onnx.TypeProto.Tensor]:
    """The tensor and sparse tensor types `value_type` holds, at any depth (sequences,
    optionals, maps)."""
    kind = value_type.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        yield getattr(value_type, kind)
    elif kind in ("sequence_type", "optional_type"):
        yield from _tensor_types(getattr(value_type, kind).elem_type)
    elif kind == "map_type":
        yield from _tensor_types(value_type.map_type.value_type)


def _declares_static_dim(value_type: onnx.TypeProto) -> bool:
    return any(
        dim.HasField("dim_value")
        for tensor in _tensor_types(value_type)
        for dim in tensor.shape.dim
    )


def _clear_static_dims(value_type: onnx.TypeProto) -> None:
    for tensor in _tensor_types(value_type):
        for dim in tensor.shape.dim:
            if dim.HasField("dim_value"):
                dim.ClearField("dim_value")


def _restore_identities(inferred: onnx.ModelProto | None, casts: list[int]) -> None:
    """The Identity nodes `_identities_as_casts` made Casts, given back to `inferred` (its
    nodes are those of the copy, in order)."""
    if inferred is None:
        return
    for i in casts:
        node = inferred.graph.node[i]
        node.op_type = "Identity"
        del node.attribute[-1]


#: graphs up to this size (serialized) have their types read through `_shallow_graph`.
MAX_SHALLOW_BYTES = 64 << 20


class TypeTable(Mapping):
    """name -> TypeProto over inferred graphs, held as serialized bytes.

    Holding the bytes (not the protobuf wrappers) lets the inferred model be freed once the
    table is built (it is a full copy of the graph: ~1 KB a node), and most tensors of a large
    model share a handful of types, decoded once each (`_type_of_bytes`).
    Precedence as in the model: value_info, then graph outputs, then graph inputs; the
    top-level graph before bodies of If/Loop/Scan.
    """

    def __init__(self) -> None:
        self._raw: dict[str, bytes] = {}
        #: indices of the top-level nodes whose op is in SHAPE_CONSUMERS.
        self.shape_consumers: list[int] = []
        #: what shape inference in strict mode raised ("" when it passed or did not run);
        #: `validity.inference_problems` reads the attribute errors in it.
        self.strict_error = ""

    @classmethod
    def of_state(cls, raw: dict[str, bytes], shape_consumers: list[int]) -> TypeTable:
        """The table of a strict inference that passed, from its parts (the types by name,
        the shape-consuming node indices): what `_speculation.table_state` computes
        without onnx."""
        table = cls()
        table._raw, table.shape_consumers = raw, shape_consumers
        return table

    def __getstate__(self) -> tuple[dict[str, bytes], list[int], str]:
        return self._raw, self.shape_consumers, self.strict_error

    def __setstate__(self, state: tuple[dict[str, bytes], list[int], str]) -> None:
        self._raw, self.shape_consumers, self.strict_error = state

    def add_graph(self, graph: onnx.GraphProto, top: bool = True) -> None:
        """Adds the types of `graph` (value_info, outputs, inputs) and of its If/Loop/Scan
        bodies; names already in the table keep their type.

        Each graph's entries are read on their own (`_read_graph`) and merged once: merging
        each body into the whole table as it is read copies the table for every body, and
        3,000 Ifs of one-node branches took ~2 s. The order is the one merging each graph in
        turn gives (a body's entries before those already present, as
        `_speculation.inferred_types` reads them), though nothing reads it."""
        layers: list[dict[str, bytes]] = []
        self._read_graph(graph, top, layers)
        if len(layers) == 1 and not self._raw:
            self._raw = layers[0]
            return
        merged: dict[str, bytes] = {}
        for layer in reversed(layers):  # a name's place: the last graph's first, ...
            merged.update(layer)  # ... its type: the first graph's (updated last)
        if self._raw:
            merged.update(self._raw)
        self._raw = merged

    def _read_graph(self, graph: onnx.GraphProto, top: bool, layers: list) -> None:
        """Appends to `layers` the first type of each name `graph` declares (value_info,
        outputs, inputs), then those of its bodies, depth first."""
        serialized = graph.SerializeToString() if graph.ByteSize() <= MAX_SHALLOW_BYTES else None
        if serialized is not None:  # read without decoding TypeProtos (`_shallow_graph`)
            shallow = shallow_graph(serialized)
            ops, *value_info = merged_columns(serialized, shallow)
            layers.append(first_types(shallow, value_info))
        else:  # large embedded weights, which serializing the graph would copy
            containers = (graph.value_info, graph.output, graph.input)
            layers.append(
                _first_typed(
                    (value.name, value.type.SerializeToString())
                    for values in containers
                    for value in values
                )
            )
            ops = [node.op_type for node in graph.node]
        if top:
            self.shape_consumers += shape_consumers(ops)
        if CONTROL_FLOW.isdisjoint(ops):
            return
        for index, op in enumerate(ops):
            if op in CONTROL_FLOW:
                for body in bodies_of(graph.node[index]):
                    self._read_graph(body, False, layers)

    def with_element_types(self, dtypes: Mapping[str, str]) -> TypeTable:
        """A copy that also types each name of `dtypes` (name -> element type, "UINT8") it
        has no type for, by its element type alone (no shape): what `schema_types` finds
        where ONNX's inference typed nothing."""
        table = TypeTable.of_state(dict(self._raw), list(self.shape_consumers))
        table.strict_error = self.strict_error
        shared: dict[str, bytes] = {}
        for name, dtype in dtypes.items():
            if name in table._raw:
                continue
            if dtype not in shared:
                try:
                    elem = onnx.TensorProto.DataType.Value(dtype)
                except ValueError:  # no ONNX type (TYPE255 of a damaged model: invalid/)
                    continue
                shared[dtype] = onnx.helper.make_tensor_type_proto(elem, None).SerializeToString()
            table._raw[name] = shared[dtype]
        return table

    def __getitem__(self, name: str) -> onnx.TypeProto:
        return onnx.TypeProto.FromString(self._raw[name])

    def decoded(self, name: str) -> tuple[str, tuple[Dim, ...] | None] | None:
        """(dtype name, shape) of `name`, or None when the table has no type for it."""
        raw = self._raw.get(name)
        return None if raw is None else _type_of_bytes(raw)

    def serialized(self, name: str) -> bytes | None:
        """The serialized TypeProto of `name` (equal types: the same object), or None."""
        return self._raw.get(name)

    def serialized_table(self) -> Mapping[str, bytes]:
        """Name -> serialized TypeProto of every entry (equal types: the same object), the
        table itself: read-only."""
        return self._raw

    def distinct_types(self) -> list[onnx.TypeProto]:
        """Each distinct type in the table, once."""
        return [onnx.TypeProto.FromString(raw) for raw in set(self._raw.values())]

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _first_typed(typed: Iterator[tuple[str, bytes]]) -> dict[str, bytes]:
    """name -> the first serialized type given for it; equal types share one bytes object
    (its hash is computed once, and a pickled table, `background.py`, holds it once)."""
    first: dict[str, bytes] = {}
    shared: dict[bytes, bytes] = {}
    for name, serialized in typed:
        if name not in first:
            first[name] = shared.setdefault(serialized, serialized)
    return first


def _collect_types(graph: onnx.GraphProto) -> TypeTable:
    table = TypeTable()
    table.add_graph(graph)
    return table


def _infer(model: onnx.ModelProto, data_prop: bool, strict: bool = False) -> onnx.ModelProto | None:
    try:
        return inference_guard.infer_model(model, strict=strict, data_prop=data_prop)
    except Exception as err:  # inference is best effort; the model may use unknown ops
        log.info("shape inference (data_prop=%s) failed: %s", data_prop, err)
        return None


def _infer_strict(
    model: onnx.ModelProto, raised: str | None = None
) -> tuple[onnx.ModelProto | None, str]:
    """Inference in strict mode, which costs nothing more when the model passes, and what it
    raised otherwise (then the model is inferred again, leniently). Element types are not
    checked against the op schemas: TensorRT's parser takes many types ONNX does not list
    (BFLOAT16 Acos, FLOAT16 NonMaxSuppression boxes), and the knowledge base judges types.
    `raised`: what the strict run of `model` raised, where it was made already (`infer_all`):
    only the lenient run is made."""
    if raised:
        return _infer(model, data_prop=False), raised
    try:
        return inference_guard.infer_model(model, strict=True), ""
    except inference_guard.InferenceCrashed as err:
        _crashed(err)
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - InferenceError, or anything onnx raises
        log.info("strict shape inference failed: %s", " ".join(str(err).split())[:500])
        return _infer(model, data_prop=False), str(err)


def _crashed(err: inference_guard.InferenceCrashed) -> None:
    """A crash is not a verdict on the model (a valid one can crash ONNX's inference): its
    message is the strict error (which names no node, so `validity` finds no problem in it;
    `inference_guard.crashed` tells it apart), no second run is made that would crash alike,
    and the declared types are used."""
    log.warning("%s; using the types the model declares", err)


def _needs_data_prop(graph: onnx.GraphProto, types: Mapping[str, onnx.TypeProto]) -> bool:
    """True when a node whose output shape depends on input values has an output with no
    rank or an unknown dim (no value, or a name shape inference made up: `unk__<n>`), and
    when a node holds bodies (If, Loop, Scan: their nodes' types are not in `types` to judge,
    and the speculative run propagates for them: `_speculation.propagates`).

    Each distinct type is judged once (most outputs of a large model share a few types)."""
    if any(node.op_type in CONTROL_FLOW for node in graph.node):
        return True
    consumers = getattr(types, "shape_consumers", None)
    nodes = (
        [graph.node[i] for i in consumers]
        if consumers is not None
        else [n for n in graph.node if n.op_type in SHAPE_CONSUMERS]
    )
    serialized = types.serialized if isinstance(types, TypeTable) else None
    judged: dict[bytes, bool] = {}
    for node in nodes:
        for out in node.output:
            if not out:
                continue
            if serialized is None:
                value = types.get(out)
                if value is None or _unresolved(value):
                    return True
                continue
            raw = serialized(out)
            if raw is None:
                return True
            unresolved = judged.get(raw)
            if unresolved is None:
                unresolved = judged[raw] = _unresolved(onnx.TypeProto.FromString(raw))
            if unresolved:
                return True
    return False


def _unresolved(value: onnx.TypeProto) -> bool:
    """A tensor type with no rank or a dim that is neither a value nor a real name."""
    if value.WhichOneof("value") != "tensor_type":
        return False
    tensor = value.tensor_type
    if not tensor.HasField("shape"):
        return True
    return any(
        not d.HasField("dim_value") and (not d.dim_param or d.dim_param.startswith("unk__"))
        for d in tensor.shape.dim
    )


def _safe_for_data_prop(types: Mapping[str, onnx.TypeProto]) -> bool:
    """False when a rank-0/1 tensor is large enough to make data propagation blow up.

    Of a TypeTable only the types whose bytes hold a varint of 3 bytes or more after a field-1
    tag are decoded: a dim_value over MAX_DATA_PROP_ELEMENTS is one (the 25,000 distinct types
    of 100,000 transformer nodes: a few decoded instead of all)."""
    if isinstance(types, TypeTable):
        return not too_large_for_data_prop(set(types.serialized_table().values()))
    for value in types.values():
        if value.WhichOneof("value") != "tensor_type" or not value.tensor_type.HasField("shape"):
            continue
        dims = value.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].dim_value > MAX_DATA_PROP_ELEMENTS:
            return False
    return True


def infer_model(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """Runs ONNX shape inference the way every part of trtforge does: safely.

    Inference runs on the model without its large weights (`_weightless`). A second pass with
    data propagation (which resolves shapes computed from Shape/Gather/Concat chains) runs only
    when the first leaves a shape-consuming node's output without a rank or with an unknown
    dim, and no large 1-D tensor would make it blow up (onnx's data propagation allocates
    ~200 bytes per element of every rank-0/1 tensor).

    Returns:
        The inferred model *without its large or external initializers* (they are typed graph
        inputs there; `with_weights` puts them back), or None when inference fails.
    """
    return _infer_model(model)[0]


def _infer_model(model: onnx.ModelProto) -> tuple[onnx.ModelProto | None, TypeTable | None]:
    """`infer_model`, and the type table of its result (None with it)."""
    inferred, types, _ = infer_all(model)
    return inferred, types


def infer_all(
    model: onnx.ModelProto,
    keep_model: bool = True,
    heavy_at: Collection[int] = (),
    checked_types: Mapping[str, bytes] | None = None,
    strict_error: str | None = None,
) -> tuple[onnx.ModelProto | None, TypeTable | None, str]:
    """One run of the policy (`infer_model`): the inferred model without its large weights and
    its type table (both None when inference fails), and what strict inference raised ("" when
    the model passed it). `ModelSession` calls this once per version of a model.

    `keep_model=False`: only the table is wanted (the model comes back as None); ONNX's
    result is then read as bytes (`_speculation.inferred_types`), never parsed whole.
    `heavy_at`: as `_weightless`'s (a lean load's `structure` is inferred as the whole model).
    `checked_types`: as `_checked_declarations`'. `strict_error`: what the policy's strict
    run of this model raised, where a lean child made that run before its own failed
    (`_speculation.SpeculationFailed`): not made again, only the lenient one.
    """
    light, casts = _identities_as_casts(_weightless(model, heavy_at))
    light = _checked_declarations(light, checked_types)  # the dims the parser computes
    if not keep_model:
        types, strict_error = _infer_table(light, strict_error)
        pruned = _without_contradicted_element_types(light, strict_error)
        if pruned is not None:
            types, strict_error = _infer_table(pruned)
        return None, types, strict_error
    inferred, strict_error = _infer_strict(light, strict_error)
    pruned = _without_contradicted_element_types(light, strict_error)
    if pruned is not None:
        light = pruned
        inferred, strict_error = _infer_strict(light)
    if inferred is None:
        return None, None, strict_error
    types = _collect_types(inferred.graph)
    types.strict_error = strict_error
    if _needs_data_prop(inferred.graph, types):
        if _safe_for_data_prop(types):
            propagated = _infer(light, data_prop=True)
            if propagated is not None:
                table = _collect_types(propagated.graph)
                table.strict_error = strict_error
                _restore_identities(propagated, casts)
                return propagated, table, strict_error
        else:
            log.info("data propagation skipped: the model has large 1-D tensors")
    _restore_identities(inferred, casts)
    return inferred, types, strict_error


#: what strict inference raises where a node's inferred output type does not fit the type
#: the name already has (onnx's `checkShapesAndTypes`, called when it merges them)
MERGE_ERRORS = (
    ELEMENT_TYPE_CONFLICT,
    "Inferred shape and existing shape differ in rank",
    "Inferred shape and existing shape differ in dimension",
)


def _without_contradicted_element_types(
    light: onnx.ModelProto, strict_error: str
) -> onnx.ModelProto | None:
    """`light` without the value_info entries whose element type contradicts the one their
    node computes, when strict inference raised such a contradiction (`strict_error`); None
    when there is none to drop.

    TensorRT's parser computes each tensor's type from its node and never reads value_info:
    a `Cast(to=FLOAT)` declared FLOAT16 (onnxconverter-common's float16 conversion writes
    such declarations) makes FLOAT, and the Mul reading it mixes FLOAT with FLOAT16, which
    the parser refuses. Non-strict inference keeps the declaration (it drops the merge that
    fails), so the type table would say FLOAT16 and the Mul would pass: the element types
    are taken from inference without the value_info instead, and only the declarations
    they contradict are dropped (a declared shape that does not fit stays a stale
    declaration, as `validity.inference_problems` treats it)."""
    if ELEMENT_TYPE_CONFLICT not in strict_error or not len(light.graph.value_info):
        return None
    bare = onnx.ModelProto()
    bare.CopyFrom(light)
    del bare.graph.value_info[:]
    try:
        free = _table_of(
            inference_guard.infer_shapes(bare.SerializeToString(), False, False, False)
        )
    except Exception as err:  # noqa: BLE001 - as `_infer`: keep what the policy had
        log.info("shape inference without value_info failed: %s", err)
        return None
    keep = []
    for value in light.graph.value_info:
        declared = value.type.tensor_type.elem_type if value.type.HasField("tensor_type") else 0
        found = free.decoded(value.name)
        computed = found[0] if found is not None else "UNDEFINED"
        named = dtype_name(declared)  # (an unknown number, TYPE<n>, is validity's)
        if declared and not named.startswith("TYPE") and computed not in ("UNDEFINED", named):
            continue  # contradicted (an element type ONNX does not know is validity's)
        keep.append(value)
    if len(keep) == len(light.graph.value_info):
        return None
    pruned = onnx.ModelProto()
    pruned.CopyFrom(light)
    del pruned.graph.value_info[:]
    pruned.graph.value_info.extend(keep)
    return pruned


def _lenient_run(serialized: bytes, data_prop: bool) -> bytes:
    """A lenient run of ONNX's inference on a serialized model: the native one
    (`_speculation.native_lenient`) where it models the graph, else ONNX's. (Not the native
    strict run where that passes: of a graph with If bodies, ONNX's strict run leaves
    untyped a branch output its lenient run types.)"""
    native = _speculation.native_lenient(serialized, data_prop)
    if native is not None:
        return native[0]
    return inference_guard.infer_shapes(serialized, False, False, data_prop)


def _infer_table(light: onnx.ModelProto, raised: str | None = None) -> tuple[TypeTable | None, str]:
    """`infer_all(light)`'s table and strict error, the policy run on serialized models: the
    same calls of ONNX's C++ inference that `onnx.shape_inference.infer_shapes` makes, whose
    results are read by `_table_of` (~0.05 s less a 100,000-node model than parsing and
    serializing them again). The nodes of an inferred model are those of `light`. `raised`:
    as `_infer_strict`'s."""
    serialized = light.SerializeToString()

    def run(strict: bool, data_prop: bool) -> bytes:
        return inference_guard.infer_shapes(serialized, False, strict, data_prop)

    # the strict run's error and the lenient run in one native run, where it models the graph
    native = _speculation.native_lenient(serialized, False)
    if native is not None:
        inferred, strict_error = native
    else:
        inferred, strict_error = None, raised or ""
        if not raised:
            try:
                inferred = run(True, False)
            except inference_guard.InferenceCrashed as err:
                _crashed(err)
                return None, str(err)
            except Exception as err:  # noqa: BLE001 - as `_infer_strict`
                log.info("strict shape inference failed: %s", " ".join(str(err).split())[:500])
                strict_error = str(err)
        if inferred is None:  # it failed: the lenient run
            try:
                inferred = run(False, False)
            except Exception as again:  # as `_infer`
                log.info("shape inference (data_prop=False) failed: %s", again)
                return None, strict_error
    types = _table_of(inferred)
    types.strict_error = strict_error
    if _needs_data_prop(light.graph, types):
        if _safe_for_data_prop(types):
            try:
                propagated = _lenient_run(serialized, True)
            except Exception as err:  # as `_infer`
                log.info("shape inference (data_prop=True) failed: %s", err)
            else:
                table = _table_of(propagated)
                table.strict_error = strict_error
                return table, strict_error
        else:
            log.info("data propagation skipped: the model has large 1-D tensors")
    return types, strict_error


def speculative_table(
    model: onnx.ModelProto,
    memory_cap: bool = False,
    serialized: bytes | None = None,
    heavy_at: Collection[int] = (),
) -> TypeTable | None:
    """`infer_table(model)` in one run of ONNX's C++ inference instead of two, or None when
    that run cannot stand for the policy (`infer_all`), which must then run step by step.

    The policy infers strictly without data propagation and, when a shape-consuming node is
    left unresolved, again with it: twice the work for the models that need it (transformers
    whose Reshape shapes come from Shape/Gather/Concat chains). Here one strict run with data
    propagation does both (without it where no top-level node is a shape consumer, as the
    policy runs: `_speculation.propagates`). Its result is the policy's whenever it passes
    and no rank-1 tensor exceeds MAX_DATA_PROP_ELEMENTS: strict inference that passes with
    data propagation passes without it (propagated values only add shape facts), a model
    that needed propagation gets the propagated types either way, and one that did not has
    nothing for propagation to add (only shape-consuming nodes read propagated values).
    `tests/reports/test_shape_inference.py` holds the two equal over the onnx wheel's models.

    Data propagation allocates per element of every rank-1 tensor with a known size, which
    the policy rules out by looking at the types first. Here a graph input of that kind
    declines at once; for inferred ones, with `memory_cap` (a forked child: `background.py`)
    the run is bounded: its address space may grow by at most SPECULATION_MEMORY bytes (and
    16 times the model's size), so that a model with huge rank-1 tensors fails the run (None)
    instead of exhausting memory. `serialized`: the bytes `model` was parsed from, if at
    hand (inferred as they are when the model has no weights to leave out). `heavy_at`: as
    `_weightless`'s (a lean load's `structure`).
    """
    light, _ = _identities_as_casts(_weightless(model, heavy_at))
    light = _checked_declarations(light)
    nodes = light.graph.node
    data_prop = propagates(node.op_type for node in nodes)
    if data_prop and _large_1d_input(light.graph):
        return None
    if light is not model or serialized is None:
        serialized = light.SerializeToString()
    try:
        with address_space_cap(len(serialized) if memory_cap else None):
            bodies = sum(node.op_type in CONTROL_FLOW for node in nodes)
            constants = sum(node.op_type == "Constant" for node in nodes)
            inferred = strict_run(
                serialized, len(nodes), bodies, data_prop=data_prop, constants=constants
            )
    except Exception as err:  # noqa: BLE001 - strict failure, MemoryError: run step by step
        log.info("speculative shape inference failed: %s", " ".join(str(err).split())[:200])
        return None
    table = _table_of(inferred)
    if data_prop and not _safe_for_data_prop(table):
        return None
    return table


def _large_1d_input(graph: onnx.GraphProto) -> bool:
    """A graph input (large weights included: `_weightless` made them inputs) of rank 1 with
    more than MAX_DATA_PROP_ELEMENTS elements, which data propagation would expand."""
    for value in graph.input:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 1 and dims[0].dim_value > MAX_DATA_PROP_ELEMENTS:
            return True
    return False


def _table_of(serialized_model: bytes) -> TypeTable:
    """`_collect_types` of a serialized inferred model, read without parsing it whole
    (`_speculation.inferred_types`) unless its bodies can only be read from the parsed model."""
    read = inferred_types(serialized_model)
    if read is None:
        return _collect_types(onnx.ModelProto.FromString(serialized_model).graph)
    ops, raw = read
    return TypeTable.of_state(raw, shape_consumers(ops))


def with_weights(inferred: onnx.ModelProto, original: onnx.ModelProto) -> onnx.ModelProto:
    """`inferred` (from `infer_model(original)`) with the weights of `original` back.

    The graph inputs `_weightless` added for large initializers are removed again, the
    initializers are those of `original`, in its order, and each top-level Constant node is
    `original`'s (`_weightless` left the weights of some without data; inference changes no
    node's fields, and a top-level Constant has no body whose types it would add). Returns
    `inferred` itself (modified).
    """
    graph, source = inferred.graph, original.graph
    nodes = graph.node
    if len(nodes) == len(source.node):
        for index, node in enumerate(source.node):
            if node.op_type == "Constant":
                nodes[index].CopyFrom(node)
    else:  # never made by inference; the original's nodes, whatever they lose
        del nodes[:]
        nodes.extend(source.node)
    declared = {vi.name for vi in source.input}
    initializers = {t.name for t in source.initializer}
    # the inputs `_weightless` added (read from `inferred`: `original` may have its external
    # data loaded since, and then nothing of it looks heavy)
    heavy = {vi.name for vi in graph.input if vi.name in initializers} - declared
    if heavy:
        kept = [vi for vi in graph.input if vi.name not in heavy]
        del graph.input[:]
        graph.input.extend(kept)
    # always: `inferred` may carry the initializers of an earlier call, whose `original` had
    # its external data not loaded (a session's graph imported before `weights_loaded`)
    del graph.initializer[:]
    graph.initializer.extend(source.initializer)
    return inferred


def infer_types(model: onnx.ModelProto) -> TypeTable:
    """Every tensor's type, from `infer_model` (no weights needed).

    Failures of shape inference are not fatal: types then come from what the model states.
    """
    return types_or_declared(model, infer_all(model)[1])


def infer_table(
    model: onnx.ModelProto,
    heavy_at: Collection[int] = (),
    checked_types: Mapping[str, bytes] | None = None,
    strict_error: str | None = None,
) -> TypeTable:
    """`infer_types`, without the inferred model ever parsed whole (`infer_all`'s
    `keep_model=False`): the same table, for callers that want nothing else. `heavy_at`: as
    `_weightless`'s (a lean load's `structure` is inferred as the whole model);
    `checked_types` and `strict_error`: as `infer_all`'s."""
    inferred = infer_all(
        model,
        keep_model=False,
        heavy_at=heavy_at,
        checked_types=checked_types,
        strict_error=strict_error,
    )
    return types_or_declared(model, inferred[1])


def types_or_declared(model: onnx.ModelProto, types: TypeTable | None) -> TypeTable:
    """`types` (from `infer_all(model)`), or the types `model` declares when inference failed."""
    if types is not None:
        return types
    table = collect_declared_types(model)
    table.strict_error = "shape inference failed"
    return table


def collect_declared_types(model: onnx.ModelProto) -> TypeTable:
    """The types `model` states itself (value_info, graph inputs and outputs), uninferred."""
    return _collect_types(model.graph)
