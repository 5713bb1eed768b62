"""Graph-level checks: network-input types, opset and IR version, dynamic input dims.

Facts (each checked against the TensorRT-RTX 1.7.1 parser; the parser code is onnx-tensorrt's
ModelImporter.cpp `importInput` + importerUtils `convertDtype`):
  * A top-level graph input whose element type has no TensorRT DataType fails the whole parse
    in `importInput` ("Failed to convert ONNX date type to TensorRT data type"): INT16, UINT16,
    UINT32, UINT64, STRING, complex, FLOAT8E5M2 and the FNUZ float8s, FLOAT8E8M0, UINT4,
    INT2/UINT2, and any non-tensor input (sequence, optional, map). Accepted: FLOAT, FLOAT16,
    BFLOAT16, INT32, INT64, INT8, UINT8, BOOL, FLOAT8E4M3FN, INT4, FLOAT4E2M1 (TensorRT 10.8+),
    and DOUBLE, which the parser converts to FLOAT (a warning here). An input of rank > 8
    (TensorRT's Dims::MAX_DIMS) fails there too ("Failed to convert ONNX dimensions"), and so
    does one with a static dim above 2^31 - 1 or more than 2^40 elements ("Failed to add input
    to the network").
  * The parser does not reject a model for its opset or IR version (observed: default-domain
    opsets 1..30 and IR versions 1..20 all parse). Below opset 7 it warns that such models "are
    not guaranteed to work" (ModelImporter.cpp), and elementwise ops that broadcast with the
    pre-opset-7 `broadcast` attribute fail — that is a per-node rule.
  * Inputs with dims that are not fixed numbers parse, but building an engine then needs an
    optimization profile (min/opt/max) for each such input (TensorRT developer guide,
    "Working with Dynamic Shapes").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import onnx

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import dtype_name
from trtforge.analyzer.kb.policy import MAX_DIM, MAX_TENSOR_ELEMENTS
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.safe_text import text_of
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.kb.graph")

SOURCE_INPUT = (
    "onnx-tensorrt ModelImporter.cpp importInput / importerUtils convertDtype; observed with "
    "TensorRT-RTX 1.7.1"
)
SOURCE_OPSET = "onnx-tensorrt ModelImporter.cpp (opset warning); observed with TensorRT-RTX 1.7.1"
SOURCE_DYNAMIC = "TensorRT developer guide, Working with Dynamic Shapes (optimization profiles)"

#: TensorRT's Dims::MAX_DIMS: a network input of higher rank fails in importInput.
MAX_RANK = 8

#: element types a network input may have, on every target.
_INPUT_TYPES = frozenset(
    {
        "FLOAT",
        "FLOAT16",
        "BFLOAT16",
        "INT32",
        "INT64",
        "INT8",
        "UINT8",
        "BOOL",
        "FLOAT8E4M3FN",
        "INT4",
        "DOUBLE",
    }
)


def input_types(target: Target) -> frozenset[str]:
    """Element types the parser accepts for a top-level graph input on `target`."""
    types = set(_INPUT_TYPES)
    if target.is_rtx or target.version >= (10, 8):  # FP4 arrived in TensorRT 10.8
        types.add("FLOAT4E2M1")
    return frozenset(types)


def _input_finding(name: str, kind: str, what: str, hint: str, severity: str = "error"):
    return Finding(
        code=f"graph/{kind}",
        message=f"graph input '{name}': {what}",
        hint=hint,
        source=SOURCE_INPUT if kind.startswith("input-") else SOURCE_DYNAMIC,
        severity=severity,
    )


def _input_size_of(dims) -> list[tuple[str, str, str, str]]:
    """A static dim above MAX_DIM, or more than MAX_TENSOR_ELEMENTS elements (an empty
    input too, when a dim is too large): importInput fails ("Failed to add input to the
    network"; observed with TensorRT-RTX 1.7.1 at [2^31], [0, 2^31], [2^20, 2^20 + 1]).
    The findings for an input of these dims, less its name: (kind, what, hint, severity)
    each."""
    values = [d.dim_value for d in dims if d.HasField("dim_value")]
    shown = ", ".join(str(d.dim_value) if d.HasField("dim_value") else "?" for d in dims)
    big = [v for v in values if v > MAX_DIM]
    volume = 1
    for v in values:
        volume *= max(v, 0)
    if not big and (len(values) != len(dims) or volume <= MAX_TENSOR_ELEMENTS):
        return []
    what = f"has shape [{shown}]: " + (
        f"a dim of {big[0]:,}, above TensorRT's {MAX_DIM:,} (2^31 - 1) per dim"
        if big
        else f"{volume:,} elements, above TensorRT's {MAX_TENSOR_ELEMENTS:,} (2^40)"
    )
    hint = "export the input smaller (split it into several inputs, or feed it in parts)"
    return [("input-too-large", what, hint, "error")]


def _by_input_type(
    graph: onnx.GraphProto, initializers, findings_of, serialized: list[bytes] | None = None
) -> Iterator[Finding]:
    """The findings `findings_of(type)` gives each network input of `graph` (not one of
    `initializers`), (kind, what, hint, severity) each, named for the input: asked once per
    distinct type (a generator's model of 50,000 inputs of one type). `serialized`: each
    input's serialized type, in order, if at hand (`GraphView.serialized_input_types`)."""
    if serialized is None:
        serialized = [value.type.SerializeToString() for value in graph.input]
    by_type: dict[bytes, list] = {}  # type -> (its findings' fields, what each says)
    new = object.__new__
    for value, key in zip(graph.input, serialized, strict=True):
        if value.name in initializers:  # an initializer listed as input (IR < 4): a weight
            continue
        made = by_type.get(key)
        if made is None:
            made = by_type[key] = [
                (vars(_input_finding("", kind, what, hint, severity)), what)
                for kind, what, hint, severity in findings_of(value.type)
            ]
        for fields, what in made:  # (as `_input_finding` makes it, without its checks)
            finding = new(Finding)
            finding.__dict__.update(fields)
            finding.__dict__["message"] = f"graph input '{value.name}': {what}"
            yield finding


def input_size_findings(
    graph: onnx.GraphProto, initializers=None, serialized: list[bytes] | None = None
) -> list[Finding]:
    """`graph/input-too-large` for each network input of `graph` above TensorRT's tensor
    limits (`_input_size_of`); `initializers`: the graph's initializer names where the caller has
    them (an initializer listed as an input is a weight, not a network input). The parser
    refuses dims from 2^31 to 2^32 - 1 but takes larger ones modulo 2^32 (observed with
    TensorRT-RTX 1.7.1: an input [2^32 + 1] builds an engine whose input is [1]), so the
    parser backend and trt-build ask this too. `serialized`: as `_by_input_type`'s."""
    if initializers is None:
        initializers = {t.name for t in graph.initializer}

    def sized(value_type: onnx.TypeProto) -> list:
        tensor = value_type.tensor_type
        if not value_type.HasField("tensor_type") or not tensor.HasField("shape"):
            return []
        return _input_size_of(tensor.shape.dim)

    return list(_by_input_type(graph, initializers, sized, serialized))


def _check_inputs(graph: GraphView, target: Target) -> Iterator[Finding]:
    allowed = input_types(target)
    yield from _by_input_type(
        graph.graph,
        graph.initializer_names(),
        lambda t: _input_type_findings(t, allowed),
        graph.serialized_input_types(),
    )


def _input_type_findings(value_type: onnx.TypeProto, allowed) -> list[tuple[str, str, str, str]]:
    """What `_check_inputs` finds of a network input of this type, less its name: (kind,
    what, hint, severity) each."""
    found: list[tuple[str, str, str, str]] = []
    kind = value_type.WhichOneof("value")
    if kind not in ("tensor_type", None):
        found.append((
            "input-not-tensor",
            f"is a {kind.replace('_type', '')}, which TensorRT cannot take as a network "
            f"input (type {kind})",
            "export the model with plain tensor inputs (unpack sequences/optionals before "
            "the model)",
            "error",
        ))  # fmt: skip
        return found
    if kind is None:
        return found
    tensor = value_type.tensor_type
    dtype = dtype_name(tensor.elem_type) if tensor.elem_type else ""
    if dtype and dtype not in allowed:
        found.append((
            "input-dtype",
            f"has element type {dtype}, which has no TensorRT data type (accepted: "
            f"{', '.join(sorted(allowed - {'DOUBLE'}))})",
            "cast the input to a supported type before the model (e.g. INT16/UINT16 to "
            "INT32, UINT32/UINT64 to INT64) and re-export",
            "error",
        ))  # fmt: skip
    elif dtype == "DOUBLE":
        found.append((
            "input-double",
            "has element type DOUBLE; the parser converts it to FLOAT (precision loss, and "
            "the engine expects FLOAT data)",
            "export the input as FLOAT",
            "warning",
        ))  # fmt: skip
    if tensor.HasField("shape") and len(tensor.shape.dim) > MAX_RANK:
        found.append((
            "input-rank",
            f"has rank {len(tensor.shape.dim)}; TensorRT tensors have at most {MAX_RANK} dims",
            "reshape the input to at most 8 dims before the model (merge adjacent dims)",
            "error",
        ))  # fmt: skip
    if not tensor.HasField("shape"):
        found.append((
            "input-unknown-rank",
            "has no shape (unknown rank); TensorRT needs each input's rank to build",
            "export the model with input shapes (e.g. torch.onnx.export with example inputs)",
            "warning",
        ))  # fmt: skip
        return found
    dynamic = [
        text_of(d.dim_param) if d.dim_param else "?"
        for d in tensor.shape.dim
        if not d.HasField("dim_value")
    ] + [str(d.dim_value) for d in tensor.shape.dim if d.HasField("dim_value") and d.dim_value < 0]
    if dynamic:
        found.append((
            "dynamic-input",
            f"has dynamic dims ({', '.join(dynamic)}); the engine build needs an "
            "optimization profile giving min/opt/max for them",
            "add a profile when building (trtexec --minShapes/--optShapes/--maxShapes, or "
            "IOptimizationProfile.set_shape), or export with fixed dims",
            "warning",
        ))  # fmt: skip
    return found


def _check_opsets(loaded: LoadedModel, target: Target) -> Iterator[Finding]:
    opset = loaded.opsets.get("")
    if opset is not None and 0 < opset < 7:
        yield Finding(
            code="graph/old-opset",
            message=f"default-domain opset {opset} is below 7; the parser warns that such models "
            "are not guaranteed to work, and ops that broadcast with the old `broadcast` "
            "attribute are rejected",
            hint="re-export the model at opset 13 or newer (or convert it with "
            "onnx.version_converter)",
            source=SOURCE_OPSET,
            severity="warning",
        )
    # an opset that does not exist is an invalid model: `validity.py` reports it


SOURCE_EMPTY_EXTERNAL = (
    "onnx-tensorrt ModelImporter.cpp importInitializers / weightUtils convertOnnxWeights (external "
    "data read from the file); observed with TensorRT-RTX 1.7.1: a tensor of no element saved "
    "externally (offset 0, length 0, as onnx.save(..., size_threshold=0) writes it) fails to "
    "import, the same tensor inline parses (hold-out round 4, tf2onnx's while-loop accumulator)"
)


def _check_empty_external(loaded: LoadedModel, graph: GraphView) -> Iterator[Finding]:
    """Initializers of no element whose (empty) data is in an external file: the parser
    fails to import them."""
    if not loaded.external:
        return
    external = {ref.tensor for ref in loaded.external}
    heads = graph.initializer_heads()
    if heads is not None:
        dims_of = {n: heads.table[k][1] for n, k in zip(heads.names, heads.kinds, strict=True)}
    else:
        dims_of = {name: tuple(t.dims) for name, t in graph.initializer_items()}
    empty = [n for n, dims in dims_of.items() if n in external and 0 in dims]
    if empty:
        yield Finding(
            code="graph/empty-external-initializer",
            message=f"initializer {_named_first(empty)} has no element and is stored in "
            "an external data file; the parser fails to import it",
            hint="save the model with small tensors inline (onnx.save(..., "
            "save_as_external_data=True, size_threshold=1024), onnx's default)",
            source=SOURCE_EMPTY_EXTERNAL,
        )


SOURCE_INITIALIZERS = (
    "onnx-tensorrt ModelImporter.cpp importInitializers (every initializer is imported, used "
    "or not) / convertOnnxWeights; observed with TensorRT-RTX 1.7.1"
)
SOURCE_NO_OUTPUTS = "observed with TensorRT-RTX 1.7.1: the builder needs a network output"


def _named_first(names: list) -> str:
    """`'first'` of `names`, and how many more there are."""
    more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
    return f"'{text_of(names[0])}'{more}"


def unimportable(dtype: str, allowed: frozenset[str]) -> bool:
    """An ONNX element type the parser cannot import as a weight (`allowed`:
    `input_types(target)`; an unknown or undefined one is an invalid graph: `validity`'s)."""
    return dtype not in allowed and dtype != "UNDEFINED" and not dtype.startswith("TYPE")


def _check_initializer_types(graph: GraphView, target: Target) -> Iterator[Finding]:
    """Initializers of an element type the parser cannot import, used or not: it imports
    every initializer first, and one of INT16, UINT16, UINT32, UINT64, STRING, complex, the
    float8s but E4M3FN, FLOAT8E8M0, UINT4 or the 2-bit types fails the whole parse (observed:
    the importable types are exactly a network input's)."""
    allowed = input_types(target)
    heads = graph.initializer_heads()
    if heads is not None:  # (element type, dims) kinds: a few per model
        elems = [elem for elem, _ in heads.table]
        bad = (
            [
                (n, dtype_name(elems[k]))
                for n, k in zip(heads.names, heads.kinds, strict=True)
                if unimportable(dtype_name(elems[k]), allowed)
            ]
            if any(unimportable(dtype_name(e), allowed) for e in elems)
            else []
        )
    else:
        bad = [
            (n, dtype_name(t.data_type))
            for n, t in graph.initializer_items()
            if unimportable(dtype_name(t.data_type), allowed)
        ]
    sparse = _sparse_names(graph)
    bad = [(name, dtype) for name, dtype in bad if name not in sparse]  # (their own finding)
    if bad:
        names, dtype = [n for n, _ in bad], bad[0][1]
        yield Finding(
            code="graph/initializer-dtype",
            message=f"initializer {_named_first(names)} has element type {dtype}, which the "
            "parser cannot import; it imports every initializer, used or not, and the parse "
            "fails",
            hint="drop the initializer if nothing reads it (trt-rewrite --fold-constants "
            "removes unused ones), else store it as a type TensorRT takes (INT32, INT64, "
            "FLOAT, ...) and cast where it is read",
            fixes=(Fix("rewrite", "fold-constants"),),
            source=SOURCE_INITIALIZERS,
        )


def _sparse_names(graph: GraphView) -> set[str]:
    """The names of the graph's sparse initializers (`_check_sparse_initializers` has their
    findings)."""
    return {value.values.name for value in graph.graph.sparse_initializer}


def _check_initializer_ranks(graph: GraphView) -> Iterator[Finding]:
    """Initializers of rank above 8 (TensorRT's Dims::MAX_DIMS), used or not: importing
    them fails the parse."""
    heads = graph.initializer_heads()
    if heads is not None:
        ranks = [len(dims) for _, dims in heads.table]
        if max(ranks, default=0) <= MAX_RANK:
            return
        high = [n for n, k in zip(heads.names, heads.kinds, strict=True) if ranks[k] > MAX_RANK]
    else:
        high = [n for n, t in graph.initializer_items() if len(t.dims) > MAX_RANK]
    sparse = _sparse_names(graph)
    high = [name for name in high if name not in sparse]
    if high:
        yield Finding(
            code="graph/initializer-rank",
            message=f"initializer {_named_first(high)} has rank above {MAX_RANK}, the "
            "most TensorRT's dims hold; the parser imports every initializer, used or not, "
            "and the parse fails",
            hint="drop the initializer if nothing reads it (trt-rewrite --fold-constants "
            "removes unused ones), else reshape it to rank 8 or less in the exporter",
            fixes=(Fix("rewrite", "fold-constants"),),
            source=SOURCE_INITIALIZERS,
        )


def _check_sparse_initializers(graph: GraphView) -> Iterator[Finding]:
    """A sparse initializer that a node reads: the parser does not import sparse
    initializers, and the reading node fails ("Node input was not registered"); an unused
    one is ignored."""
    sparse = _sparse_names(graph)
    if not sparse:
        return
    read = sorted(sparse.intersection(n for inputs in graph.fields.inputs for n in inputs))
    if read:
        yield Finding(
            code="graph/sparse-initializer",
            message=f"sparse initializer {_named_first(read)} is read by a node; the "
            "parser does not import sparse initializers and the node fails",
            hint="store the tensor dense (onnx.numpy_helper.to_array of the sparse tensor, "
            "then a dense initializer) in the exporter",
            source=SOURCE_INITIALIZERS,
        )


#: TensorRT's longest layer and tensor name, in bytes (observed with TensorRT-RTX 1.7.1: a
#: graph input, node or tensor named with 4,096 bytes or more makes the parser refuse the
#: model; an unnamed node is named "node_of_<its first output>")
MAX_NAME_BYTES = 4095


def _too_long(names) -> str | None:
    """The first of `names` longer than MAX_NAME_BYTES in UTF-8 (a name that is not UTF-8
    arrives as bytes), or None."""
    for name in names:
        if len(name) * 4 > MAX_NAME_BYTES:  # (only then can it exceed the limit)
            size = len(name if isinstance(name, bytes) else name.encode("utf-8", "surrogatepass"))
            if size > MAX_NAME_BYTES:
                return name
    return None


def _check_name_lengths(graph: GraphView) -> Iterator[Finding]:
    """Names TensorRT cannot give a layer or tensor: graph inputs and outputs, nodes (an
    unnamed one takes "node_of_" and its first output's name) and the tensors they make."""
    f = graph.fields
    longest = max(
        max(map(len, f.names), default=0),
        max(map(len, itertools.chain.from_iterable(f.outputs)), default=0),
    )
    io = [value.name for value in (*graph.graph.input, *graph.graph.output)]
    if (max(longest, max(map(len, io), default=0)) + 8) * 4 <= MAX_NAME_BYTES:
        return  # (nothing near the limit: every model but hostile ones)
    candidates = [value.name for value in graph.graph.input]
    candidates += [value.name for value in graph.graph.output]
    candidates += f.names
    candidates += [name for outputs in f.outputs for name in outputs]
    candidates += [
        "node_of_"
        + (outputs[0] if isinstance(outputs[0], str) else outputs[0].decode("utf-8", "replace"))
        for name, outputs in zip(f.names, f.outputs, strict=True)
        if not name and outputs and outputs[0] and len(outputs[0]) * 4 > MAX_NAME_BYTES - 8
    ]
    found = _too_long(candidates)
    if found is not None:
        shown = text_of(found[:40] if isinstance(found, str) else found[:40]) + "…"
        yield Finding(
            code="graph/name-too-long",
            message=f"the name '{shown}' is longer than the {MAX_NAME_BYTES} bytes TensorRT "
            "takes for a layer or tensor name; the parser refuses the model",
            hint="give the node or tensor a shorter name in the exporter",
            source="observed with TensorRT-RTX 1.7.1 (names of 4,096 bytes and more refused)",
        )


#: the deepest nesting the parser takes: If/Loop/Scan bodies inside bodies, or model-local
#: functions calling functions (observed with TensorRT-RTX 1.7.1: 24 levels parse, 25 are
#: "nested structures that exceed the maximum allowed by TensorRT")
MAX_NESTING = 24


def _nesting(
    nodes, functions: dict, memo: dict, seen: frozenset[str] = frozenset(), cap: int = 64
) -> int:
    """How many If/Loop/Scan nodes and local-function calls nest along the deepest path
    through `nodes` (a call counts its function's body, looked up by op_type as the parser
    does, each function's depth computed once, `memo`; one already on the path is not
    entered again), at most about `cap`."""
    deepest = 0
    for node in nodes:
        if deepest >= cap:
            break
        inner = -1
        for attr in node.attribute:
            for body in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                inner = max(inner, _nesting(body.node, functions, memo, seen, cap - 1))
        name = node.op_type
        if name in functions and name not in seen:
            if name not in memo:
                memo[name] = _nesting(functions[name].node, functions, memo, seen | {name}, cap - 1)
            inner = max(inner, memo[name])
        if inner >= 0:
            deepest = max(deepest, inner + 1)
    return deepest


def _check_nesting(loaded: LoadedModel, graph: GraphView) -> Iterator[Finding]:
    from trtforge.analyzer.backends.local_functions import parser_functions

    functions = parser_functions(loaded.structure)
    bodies = {"If", "Loop", "Scan"}
    ops = graph.fields.ops
    if bodies.isdisjoint(ops) and functions.keys().isdisjoint(ops):
        return
    nesting = [i for i, op in enumerate(ops) if op in bodies or op in functions]
    if not nesting:
        return
    # (only the nodes that nest are read as protos: a 100,000-node graph has few)
    nodes = [graph.fields.node(i) for i in nesting]
    depth = _nesting(nodes, functions, {}, cap=MAX_NESTING + 1)
    if depth > MAX_NESTING:
        yield Finding(
            code="graph/nesting-too-deep",
            message=f"If/Loop/Scan bodies and local-function calls nest {depth} levels deep or "
            f"more; the parser takes at most {MAX_NESTING}",
            hint="flatten the nesting in the exporter (fold constant If conditions, inline "
            "functions)",
            source="observed with TensorRT-RTX 1.7.1 (24 levels parse, 25 do not)",
        )


def _check_outputs(graph: GraphView) -> Iterator[Finding]:
    """A graph without outputs parses, but the engine build fails ("Network must have at
    least one output")."""
    if not len(graph.graph.output):
        yield Finding(
            code="graph/no-outputs",
            message="the graph declares no outputs; the parser takes it, but TensorRT builds "
            "no engine without a network output",
            hint="declare the model's results as graph outputs in the exporter",
            source=SOURCE_NO_OUTPUTS,
        )


def check_graph(loaded: LoadedModel, graph: GraphView, target: Target) -> Iterator[Finding]:
    """Findings about the model as a whole (not tied to one node)."""
    yield from _check_inputs(graph, target)
    yield from input_size_findings(
        graph.graph, graph.initializer_names(), graph.serialized_input_types()
    )
    yield from _check_opsets(loaded, target)
    yield from _check_empty_external(loaded, graph)
    yield from _check_initializer_ranks(graph)
    yield from _check_initializer_types(graph, target)
    yield from _check_sparse_initializers(graph)
    yield from _check_outputs(graph)
    yield from _check_name_lengths(graph)
    yield from _check_nesting(loaded, graph)
