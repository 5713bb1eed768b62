"""Is the model a valid ONNX graph at all? Structural checks, cheap enough for 100k nodes.

TensorRT's ONNX parser assumes a valid graph: on a cycle, a tensor nobody produces or a name
produced twice it fails (or, worse, parses something undefined), and an unknown opset or IR
version is taken on trust. trt-check must never call such a model "supported", and trt-rewrite
must never rewrite it, so these checks run before either looks at the nodes:

* the model: an `opset_import` for the default domain when nodes use it, opsets and IR version
  that exist (no newer than the installed onnx knows, at least 1);
* the graph: every node input is a graph input, an initializer, an outer-scope name or the
  output of a node before it (a node whose input is produced only later is a cycle or an
  unsorted graph; the two are told apart), no name produced twice;
* each node with a standard schema: input and output counts in the schema's range, required
  inputs present, attributes of the schema's types, required attributes present, and, as a
  warning, no attribute the schema does not define at the model's opset (onnx.checker and
  onnxruntime refuse it; TensorRT's parser reads the attributes it knows whatever the opset,
  e.g. a DequantizeLinear `axis` at opset 11);
* element types: every number that is not an ONNX `TensorProto.DataType` (on inputs, outputs,
  value_info, initializers);
* tensor data (initializers and tensor attributes): raw_data, typed fields or the external
  data's declared length must match dims and element type; sizes are read, never the data.

Attribute *values* (a Transpose `perm` that is not a permutation of the input's axes, ...) are
checked by ONNX shape inference in strict mode (`strict_inference_problems`): the errors it
raises about attributes and input counts are findings, other inference errors (a stale
value_info, a shape it cannot compute) are not, since the parser ignores value_info.

Each problem is a `Finding` with code `invalid/<kind>` and severity error, attached to the
node at fault (its index in the top-level graph) or to the graph.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from itertools import chain, compress

import onnx

from trtforge.analyzer.errors import short
from trtforge.analyzer.findings import Finding
from trtforge.analyzer.graph import NodeFields, holds_graph

try:  # reads before writes in one pass (csrc/analyzer/producer_hops.cpp)
    from trtforge.analyzer import _producer_hops
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _producer_hops = None

log = logging.getLogger("trtforge.validity")

SOURCE = "ONNX IR specification (onnx/IR.md) and onnx.checker; the parser assumes a valid graph"

_KNOWN_TYPES = frozenset(onnx.TensorProto.DataType.values())
_ATTR = onnx.AttributeProto
_TYPED_FIELD_NAMES = {
    _ATTR.FLOAT: "f",
    _ATTR.INT: "i",
    _ATTR.STRING: "s",
    _ATTR.TENSOR: "t",
    _ATTR.GRAPH: "g",
    _ATTR.SPARSE_TENSOR: "sparse_tensor",
    _ATTR.TYPE_PROTO: "tp",
}


@dataclass(frozen=True)
class Problem:
    """One validity problem: the top-level node it belongs to (None: the graph) and why."""

    node: int | None
    finding: Finding
    #: an object held by the problems of nodes alike (`_Walker._node`: one op, domain, input
    #: and output counts and attribute fields give one finding but for the node's name),
    #: with which `attach` lets their verdicts share a `NodeVerdict.kin` (hashed by
    #: identity); None: its own.
    alike: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def message(self) -> str:
        return self.finding.message


#: what the hint of every invalid/ error ends with
NO_FIX = "; no automatic fix: trtforge rewrites valid graphs only"


def _problem(
    node: int | None, kind: str, message: str, hint: str, severity: str = "error"
) -> Problem:
    if severity == "error":  # no pass repairs an invalid graph (kb/fixability.py's rule)
        hint = f"{hint}{NO_FIX}"
    finding = Finding(f"invalid/{kind}", message, hint=hint, source=SOURCE, severity=severity)
    return Problem(node, finding)


def _node_label(node: onnx.NodeProto, where: str, op: str | None = None) -> str:
    """`<op> node '<where><name>'` (`op`: the node's op_type, if at hand)."""
    op = node.op_type if op is None else op
    return f"{short(op) or '<no op_type>'} node '{where}{short(node.name)}'"


def _named_problem(node: int | None, finding: Finding, message: str, alike: object) -> Problem:
    """`Problem(node, finding.with_message(message), alike)`, made without the frozen
    dataclasses' per-field checks (100,000 invalid nodes of one kind: ~0.1 s less)."""
    made = object.__new__(Finding)
    made.__dict__.update(finding.__dict__)
    made.__dict__["message"] = message
    problem = object.__new__(Problem)
    problem.__dict__.update(node=node, finding=made, alike=alike)
    return problem


def _node_finding(kind: str) -> Finding:
    """The finding `_Walker._node` gives each node of a kind (`kind`: of what `_judge_node`
    finds) but for its message: a warning for WARNING_KINDS, else an error."""
    if kind in WARNING_KINDS:
        hint = (
            "re-export at an opset that defines the attribute (DequantizeLinear's axis: 13), "
            "or drop it; trt-rewrite rewrites only models onnx.checker passes"
        )
        return _problem(None, kind, "", hint, severity="warning").finding
    hint = "the model is damaged or was written by a broken exporter; re-export it"
    return _problem(None, kind, "", hint).finding


# -- the model ----------------------------------------------------------------------------
def _model_problems(proto: onnx.ModelProto, uses_default: bool) -> Iterator[Problem]:
    newest_ir = onnx.IR_VERSION
    if proto.ir_version > newest_ir:
        yield _problem(
            None,
            "ir-version",
            f"IR version {proto.ir_version} does not exist (the newest onnx "
            f"{onnx.__version__} knows is {newest_ir})",
            "re-export the model, or upgrade onnx if it really is newer",
        )
    newest = onnx.defs.onnx_opset_version()
    seen: dict[str, int] = {}
    for entry in proto.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        # the same import twice is harmless (skl2onnx writes it; onnx.checker accepts it);
        # two versions of one domain leave the ops' meaning undefined
        if domain in seen and seen[domain] != entry.version:
            yield _problem(
                None,
                "opset-import",
                f"opset_import names domain '{short(domain)}' at opsets {seen[domain]} and "
                f"{entry.version}",
                "re-export the model",
            )
        seen.setdefault(domain, entry.version)
        if entry.version < 1:
            yield _problem(
                None,
                "opset",
                f"domain '{short(domain)}' is imported at opset {entry.version}; opsets start at 1",
                "re-export the model with a valid opset",
            )
        elif domain == "" and entry.version > newest:
            yield _problem(
                None,
                "opset",
                f"default-domain opset {entry.version} does not exist (the newest onnx "
                f"{onnx.__version__} knows is {newest})",
                "re-export the model at an existing opset (e.g. 17), or upgrade onnx if the "
                "opset really is newer",
            )
    if uses_default and "" not in seen:
        yield _problem(
            None,
            "opset-import",
            "the model has no opset_import for the default ONNX domain, which its nodes use",
            "re-export the model (exporters always write one), or add it with "
            "onnx.helper.make_opsetid('', 17)",
        )


# -- element types and tensor sizes -------------------------------------------------------
def _elem_type_problems(graph: onnx.GraphProto, where: str, node: int | None) -> Iterator[Problem]:
    # (a tensor of a known element type has a type and no problem here: only the others
    # are read one by one, as a model of 100,000 graph outputs has none; the top-level
    # outputs' tensor types are read once, for their shapes too)
    outputs = [value.type.tensor_type for value in graph.output] if node is None else None
    for kind, values in (
        ("input", _odd_types(graph.input)),
        ("output", _odd_types(graph.output, outputs)),
        ("value_info", _odd_types(graph.value_info)),
    ):
        for value in values:
            if kind != "value_info" and node is None and _untyped(value):
                yield _problem(
                    None,
                    "missing-type",
                    f"graph {kind} '{short(value.name)}' has no element type; TensorRT's "
                    f'parser cannot create the network {kind} ("Failed to convert ONNX data '
                    'type"), and onnx.checker refuses a graph input or output with no type',
                    f"give the graph {kind} its type (onnx.helper.make_tensor_value_info), or "
                    "re-export the model",
                )
                continue
            elem = _elem_type(value.type)
            if elem is not None and elem not in _KNOWN_TYPES:
                yield _problem(
                    node,
                    "element-type",
                    f"{kind} '{where}{short(value.name)}' has element type {elem}, which is not "
                    "an ONNX data type",
                    "the model file is damaged or was written by a broken exporter; re-export it",
                )
    if outputs is not None:
        yield from _shapeless_outputs(graph, outputs)


def _shapeless_outputs(graph: onnx.GraphProto, tensors: list) -> Iterator[Problem]:
    """A warning naming the top-level graph outputs of a tensor type with an element type and
    no shape. The ONNX IR has a main graph declare its outputs' shapes, and onnx.checker
    refuses the model ("Field 'shape' of 'type' is required but missing"), and so does the
    rewriter, which writes only models the checker passes; TensorRT's parser
    (observed: TensorRT-RTX 1.7.1) and onnxruntime take it, computing the outputs from the
    nodes, so the verdict stands. (Without an element type it is `missing-type`.)
    `tensors`: each output's `type.tensor_type`, in order."""
    # (a type of another kind reads as a tensor type of element type 0: none of these)
    names = [
        graph.output[i].name
        for i, tensor in enumerate(tensors)
        if tensor.elem_type and not tensor.HasField("shape")
    ]
    if not names:
        return
    shown = ", ".join(f"'{short(name)}'" for name in names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    several = len(names) > 1
    yield _problem(
        None,
        "output-shape",
        f"graph output{'s' * several} {shown}{more} declare{'s' * (not several)} no shape "
        "(unknown rank); onnx.checker refuses the model (a main graph declares its outputs' "
        "shapes), and so does every tool that checks with it, this project's rewriter "
        "included; TensorRT's parser and onnxruntime compute the outputs from the nodes",
        "declare the outputs' shapes in the exporter, or save the model after "
        "onnx.shape_inference.infer_shapes, which fills them in",
        severity="warning",
    )


def _odd_types(values, tensors: list | None = None) -> list[onnx.ValueInfoProto]:
    """The entries of `values` that are not a tensor type of a known element type (read in
    one pass, ~0.4 µs an entry: a dynamo export or a model saved after inference declares
    every tensor, a generator's model may have 100,000 outputs), which
    `_elem_type_problems` then reads one by one (one with no type reads as element type 0,
    UNDEFINED: among them). `tensors`: each entry's `type.tensor_type`, if read already."""
    known = _KNOWN_TYPES - {onnx.TensorProto.UNDEFINED}
    if tensors is None:
        elems = [value.type.tensor_type.elem_type for value in values]
    else:
        elems = [tensor.elem_type for tensor in tensors]
    return [values[i] for i, elem in enumerate(elems) if elem not in known]


def _untyped(value: onnx.ValueInfoProto) -> bool:
    """A top-level graph input or output with no type (onnx.checker: "Field 'type' of
    'value_info' is required but missing"), or a tensor type with no element type (which the
    checker passes; observed: the TensorRT-RTX 1.7.1 parser refuses both)."""
    if not value.HasField("type"):
        return True
    kind = value.type.WhichOneof("value")
    return kind is None or (kind == "tensor_type" and not value.type.tensor_type.elem_type)


def _elem_type(value: onnx.TypeProto) -> int | None:
    kind = value.WhichOneof("value")
    if kind == "tensor_type":
        return value.tensor_type.elem_type if value.tensor_type.HasField("elem_type") else None
    if kind == "sparse_tensor_type":
        t = value.sparse_tensor_type
        return t.elem_type if t.HasField("elem_type") else None
    if kind == "sequence_type":
        return _elem_type(value.sequence_type.elem_type)
    if kind == "optional_type":
        return _elem_type(value.optional_type.elem_type)
    return None


@functools.cache
def element_bits(data_type: int) -> int | None:
    """Bits per element of `data_type` in raw_data (None: STRING or unknown)."""
    if data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        return None
    try:
        name = onnx.TensorProto.DataType.Name(data_type)
        if name.endswith(("INT4", "FLOAT4E2M1")):
            return 4
        if name.endswith("INT2"):
            return 2
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize * 8
    except (KeyError, ValueError, TypeError):  # not an element type (a damaged file's)
        return None


@functools.cache
def raw_data_bits() -> tuple[int, ...]:
    """Bits per element in raw_data of each ONNX element type, indexed by its number (0:
    none, or not an element type): the table `_wire.sound_tensors` reads."""
    known = [t for t in _KNOWN_TYPES if t > 0]
    table = [0] * (max(known) + 1)
    for data_type in known:
        table[data_type] = element_bits(data_type) or 0
    return tuple(table)


#: typed field of TensorProto -> values per element.
_COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}


def typed_count(tensor: onnx.TensorProto) -> tuple[str, int] | None:
    """(field, number of values) of the typed field that holds `tensor`'s data, if any."""
    for field in (
        "float_data",
        "int32_data",
        "string_data",
        "int64_data",
        "double_data",
        "uint64_data",
    ):
        count = len(getattr(tensor, field))
        if count:
            return field, count
    return None


#: raw_data longer than this is measured with ByteSize (no copy) instead of len(raw_data).
_RAW_LEN_COPY_LIMIT = 64 << 20


def _tensor_problems(
    tensor: onnx.TensorProto, where: str, node: int | None, kind: str
) -> Iterator[Problem]:
    def name() -> str:  # made for a problem only: a model's 50,000 weights are checked without
        return f"{kind} '{where}{short(tensor.name)}'"

    data_type = tensor.data_type
    if data_type not in _KNOWN_TYPES or data_type == onnx.TensorProto.UNDEFINED:
        yield _problem(
            node,
            "element-type",
            f"{name()} has element type {data_type}, which is not an ONNX data type",
            "the model file is damaged or was written by a broken exporter; re-export it",
        )
        return
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        yield _problem(
            node,
            "tensor-size",
            f"{name()} has a negative dim ({dims[:8]})",
            "the model file is damaged; re-export it",
        )
        return
    count = math.prod(dims)
    bits = element_bits(data_type)
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        length = {e.key: e.value for e in tensor.external_data}.get("length")
        if bits is not None and length and length.isdigit():
            needed = (count * bits + 7) // 8
            if int(length) != needed:
                yield _size_problem(
                    node, name(), f"external data length {int(length)} bytes", f"{needed} bytes"
                )
        return
    if tensor.HasField("raw_data"):
        if bits is None:
            return  # STRING tensors cannot use raw_data; the parser refuses them anyway
        needed = (count * bits + 7) // 8
        size = tensor.ByteSize()
        if size > _RAW_LEN_COPY_LIMIT:
            if size < needed:  # the serialized tensor cannot even hold its data
                yield _size_problem(
                    node, name(), f"at most {size} bytes of raw_data", f"{needed} bytes"
                )
            return
        have = len(tensor.raw_data)
        if have != needed:
            yield _size_problem(node, name(), f"{have} bytes of raw_data", f"{needed} bytes")
        return
    typed = typed_count(tensor)
    have = typed[1] if typed is not None else 0
    per = 2 if data_type in _COMPLEX else 1
    if bits is not None and bits < 8 and data_type != onnx.TensorProto.BOOL:
        needed = (count + 3) // 4 if bits == 2 else (count + 1) // 2  # packed in bytes
    else:
        needed = count * per
    if typed is None and tensor.HasField("segment"):
        return
    if have != needed:
        field = typed[0] if typed is not None else "data"
        yield _size_problem(node, name(), f"{have} values in {field}", f"{needed}")


def _size_problem(node: int | None, name: str, have: str, needed: str) -> Problem:
    return _problem(
        node,
        "tensor-size",
        f"{name}: its data does not match its dims and type ({have}, needs {needed})",
        "the model file is damaged or truncated; re-export it",
    )


# -- nodes ---------------------------------------------------------------------------------
@functools.cache
def _schema(op: str, domain: str, opset: int):
    try:
        if not onnx.defs.has(op, domain):  # (asked first: a failed lookup raises, ~20 µs)
            return None
        return onnx.defs.get_schema(op, opset, domain)
    except Exception:  # noqa: BLE001 - no schema: a custom op, nothing to check against
        return None


@functools.cache
def schema_attr_types(op: str, domain: str, opset: int) -> dict[str, int]:
    """Attribute name -> AttributeProto type the op's schema defines ({} without a schema)."""
    schema = _schema(op, "" if domain == "ai.onnx" else domain, opset) if opset > 0 else None
    if schema is None:
        return {}
    return {name: int(spec.type) for name, spec in schema.attributes.items()}


@functools.cache
def any_version_attr_types(op: str, domain: str, opset: int) -> dict[str, int]:
    """`schema_attr_types` at `opset`, and for each attribute another version of the op's
    schema defines (or the only ones, where the op has no schema at `opset`), the type the
    newest such version gives it: what a rule may assume of an attribute it reads, whatever
    the model's opset (a DequantizeLinear `axis` at opset 10, which has none)."""
    domain = "" if domain == "ai.onnx" else domain
    types: dict[str, int] = {}
    for schema in _schema_versions(op, domain):  # newest first: the newest type stays
        for name, spec in schema.attributes.items():
            types.setdefault(name, int(spec.type))
    return {**types, **schema_attr_types(op, domain, opset)}


@functools.cache
def _bound_together(op: str, domain: str, opset: int, count: int) -> tuple:
    """(type variable, input positions) for each type variable of the op's schema at `opset`
    that `count` inputs bind more than once (a homogeneous variadic input binds its one
    variable at every position); () without a schema (or an opset: None, 0)."""
    schema = _schema(op, "" if domain == "ai.onnx" else domain, opset) if opset else None
    if schema is None or not schema.inputs:
        return ()
    variables = {constraint.type_param_str for constraint in schema.type_constraints}
    formal, last = schema.inputs, schema.inputs[-1]
    variadic = last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    positions: dict[str, list[int]] = {}
    for index in range(count):
        if index < len(formal) and not (variadic and index >= len(formal) - 1):
            param = formal[index]
        elif variadic and last.is_homogeneous:
            param = last
        else:
            break
        if param.type_str in variables:
            positions.setdefault(param.type_str, []).append(index)
    return tuple((name, tuple(at)) for name, at in positions.items() if len(at) > 1)


def type_mismatch(op: str, domain: str, opset: int, dtypes: list[str]) -> str | None:
    """Why the inputs of a node with these element types (`dtypes`, by position: "" for an
    absent input, UNDEFINED when unknown) break its schema's type constraints, or None: two
    inputs the schema binds to one type variable (`T` of Add, Concat's inputs, Where's X and
    Y, a DequantizeLinear's x and zero point) must have one type. onnx.checker (full check)
    and onnxruntime refuse such a node ("bound to different types"); TensorRT's parser
    refuses most ("must have same input types") and casts for a few."""
    if len(set(dtypes).difference(("", "UNDEFINED"))) < 2:
        return None  # one known type, or none: nothing differs (a Concat of 100,000 inputs)
    for variable, positions in _bound_together(op, domain, opset, len(dtypes)):
        seen: dict[str, int] = {}
        for index in positions:
            dtype = dtypes[index]
            if dtype and dtype != "UNDEFINED":
                seen.setdefault(dtype, index)
        if len(seen) > 1:
            (a, i), (b, j) = list(seen.items())[:2]
            return f"inputs {i} and {j} are both of its type {variable}, but are {a} and {b}"
    return None


def type_not_allowed(op: str, domain: str, opset: int, dtypes: list[str]) -> str | None:
    """Why a boolean input of a node with these element types (`dtypes`, as
    `type_mismatch`'s) has another type, or None: an If or Loop condition of FLOAT, a Where
    condition of INT64 (their schemas take tensor(bool) only). onnx.checker's full check and
    onnxruntime refuse such a node ("has unsupported type"), and TensorRT fails to build it;
    strict shape inference does not notice.

    Other inputs outside their schema's types are left alone: runtimes register kernels for
    more types than the schemas of old opsets list, and real exports rely on it (TorchScript's
    opset-11 mT5 and WavLM take a Min of INT64, which onnxruntime runs and TensorRT builds)."""
    for index, name, type_str, variadic in _boolean_inputs(
        op, "" if domain == "ai.onnx" else domain, opset
    ):
        for at in range(index, len(dtypes)) if variadic else (index,):
            dtype = dtypes[at] if at < len(dtypes) else ""
            if dtype and dtype not in ("UNDEFINED", "BOOL") and dtype not in _NOT_TENSOR_DTYPES:
                return f"input {at} ('{name}') is {dtype}; the op takes {type_str} as bool only"
    return None


@functools.cache
def _boolean_inputs(op: str, domain: str, opset: int) -> tuple[tuple[int, str, str, bool], ...]:
    """(position, name, type string, variadic) of the inputs the op's schema types
    tensor(bool) only (a variadic one: every position from there on). () without a schema."""
    schema = _schema(op, domain, opset) if opset else None
    if schema is None or not schema.inputs:
        return ()
    allowed_by = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    variadic = schema.inputs[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    found = []
    for index, param in enumerate(schema.inputs):
        if allowed_by.get(param.type_str, {param.type_str}) == {"tensor(bool)"}:
            last = variadic and index == len(schema.inputs) - 1
            found.append((index, param.name, param.type_str, last))
    return tuple(found)


#: op -> the inputs its schema defines as 1-D tensors (shapes, starts, repeats): onnxruntime
#: refuses another rank when it runs the node ("Starts must be a 1-D array", "A shape tensor
#: must be a vector tensor", "Must have a valid input shape"), and TensorRT-RTX's parser dies
#: of SIGSEGV on a rank-0 ConstantOfShape shape or Slice starts; ONNX's inference and
#: checker let it pass.
VECTOR_INPUTS = {
    "ConstantOfShape": (0,),
    "Slice": (1, 2, 3, 4),
    "Reshape": (1,),
}  # (Tile's repeats of rank 2, in TorchScript's Mamba exports: the rule's `tile/rank`)


def rank_not_allowed(op: str, domain: str, ranks: list[int | None]) -> str | None:
    """Why an input that the op's schema defines as 1-D has another known rank (`ranks`:
    each input's, None where unknown or absent), or None."""
    if domain not in ("", "ai.onnx"):
        return None
    for index in VECTOR_INPUTS.get(op, ()):
        rank = ranks[index] if index < len(ranks) else None
        if rank is not None and rank != 1:
            return f"input {index} has rank {rank}; the op takes a 1-D tensor there"
    return None


#: element-type names of values that are not tensors (the type table's)
_NOT_TENSOR_DTYPES = frozenset({"SEQUENCE", "MAP", "OPTIONAL", "SPARSE"})

RANK_HINT = (
    "make it a 1-D tensor in the exporter (a shape [4] rather than the scalar 4); "
    "onnxruntime refuses this node too"
)


def rank_of(graph, name: str) -> int | None:
    """The rank of tensor `name` in `graph` (a GraphView) where it is certain: a graph
    input's declared rank (what the caller feeds), a constant's own (its value's); None
    elsewhere. A computed tensor's rank may come from value_info an exporter declared wrongly
    (onnxruntime-genai declares its `[1]` shape constants of rank 0), which inference does not
    overrule."""
    if not name:
        return None
    info = graph.tensor(name)
    if info.is_graph_input and not info.is_initializer:
        return None if info.shape is None else len(info.shape)
    value = graph.constant_value(name)
    return None if value is None else value.ndim


TYPE_NOT_ALLOWED_HINT = (
    "give the input the type the op takes in the exporter (a Cast); onnx.checker and "
    "onnxruntime refuse this node too"
)

TYPE_MISMATCH_HINT = (
    "give them one type in the exporter (a Cast where they meet); onnx.checker and "
    "onnxruntime refuse this node too"
)


def type_problems(graph: onnx.GraphProto, types, opsets: dict[str, int]) -> list[Problem]:
    """`invalid/inconsistent-types` for each node of `graph` and of its If/Loop/Scan bodies
    that `type_mismatch` finds (element types from `types`, the model's type table, and the
    initializers and inputs), each on the top-level node that holds it. The static backend
    checks each node as it judges it (`StaticBackend._apply`: once per node key); this is
    the same check for trt-rewrite and trt-quantize (`ModelSession.problems`)."""
    from trtforge.analyzer.graph import GraphView

    problems: list[Problem] = []

    def walk(graph: GraphView, top: int | None, where: str) -> None:
        for index, node in enumerate(graph.graph.node):
            at = index if top is None else top
            domain = "" if node.domain == "ai.onnx" else node.domain
            found = list(input_problems(node, graph, opsets.get(domain, 0)))
            if found:
                shown = short(node.name) or f"<{short(node.op_type)} #{index}>"
                for code, why, hint in found:
                    message = f"{short(node.op_type)} node '{where}{shown}': {why}"
                    problems.append(_problem(at, code, message, hint))
            for attr in node.attribute:
                for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                    inner = GraphView(body, types, outer=graph)
                    walk(inner, at, f"{where}{short(node.name) or node.op_type}/")

    walk(GraphView(graph, types), None, "")
    return problems


#: the domains onnx's schemas are of (any other has none for `input_problems` to read)
_ONNX_SCHEMA_DOMAINS = frozenset({"", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training"})


def input_problems(node: onnx.NodeProto, graph, opset: int) -> Iterator[tuple[str, str, str]]:
    """(code without `invalid/`, why, hint) for each way the node's inputs break its schema
    (`graph`: its GraphView): types bound to one variable that differ (`type_mismatch`), else
    a boolean input of another type (`type_not_allowed`); a rank other than 1 where the
    schema takes a vector (`rank_not_allowed`). The static backend checks them as it judges
    each node, `type_problems` for trt-rewrite and trt-quantize."""
    if not node.input:
        return
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in _ONNX_SCHEMA_DOMAINS:
        return  # no schema of onnx's to break (a custom op's inputs are not looked up)
    facts = graph.facts  # (the dtype alone: no TensorInfo made for each of 100,000 inputs)
    dtypes = [facts(name)[0] if name else "" for name in node.input]
    for code, why, hint in (
        ("inconsistent-types", type_mismatch, TYPE_MISMATCH_HINT),
        ("input-type", type_not_allowed, TYPE_NOT_ALLOWED_HINT),
    ):
        found = why(node.op_type, domain, opset, dtypes)
        if found is not None:
            yield code, found, hint
            break
    if node.op_type in VECTOR_INPUTS:
        ranks = [rank_of(graph, name) for name in node.input]
        found = rank_not_allowed(node.op_type, domain, ranks)
        if found is not None:
            yield "input-rank", found, RANK_HINT
    if domain == "ai.onnx.ml" and node.output:
        declared = [graph.tensor(name).dtype if name else "" for name in node.output]
        found = fixed_output_mismatch(node.op_type, domain, opset, declared)
        if found is not None:
            yield "inconsistent-types", found, FIXED_OUTPUT_HINT


FIXED_OUTPUT_HINT = (
    "declare the output with the type the op makes (a skl2onnx model converted with "
    "DoubleTensorType declares DOUBLE for FLOAT-only ops: convert with FloatTensorType)"
)


@functools.cache
def _fixed_output_types(op: str, domain: str, opset: int) -> tuple[str | None, ...]:
    """The element type the op's schema fixes for each formal output (`tensor(float)`:
    FLOAT), None for one bound to a type variable; () without a schema."""
    from trtforge.analyzer.schema_types import tensor_dtype

    schema = _schema(op, domain, opset)
    if schema is None:
        return ()
    return tuple(tensor_dtype(formal.type_str) for formal in schema.outputs)


def fixed_output_mismatch(op: str, domain: str, opset: int, dtypes: list[str]) -> str | None:
    """Why outputs declared with these element types (`dtypes`) contradict the one type
    the op's schema gives them (an ai.onnx.ml TreeEnsembleRegressor's Y is tensor(float)),
    or None. ONNX's inference computes nothing for such ops, so strict inference does not
    notice; onnx.checker's full check and onnxruntime refuse the model ("Type
    (tensor(double)) of output arg ... does not match expected type (tensor(float))")."""
    fixed = _fixed_output_types(op, domain, opset)
    for index, dtype in enumerate(dtypes):
        if index >= len(fixed) or fixed[index] is None or dtype in ("", "UNDEFINED"):
            continue
        if dtype != fixed[index]:
            return f"output {index} is declared {dtype}, but the op makes {fixed[index]}"
    return None


def negative_dim_problems(graph: onnx.GraphProto, types) -> list[Problem]:
    """`invalid/negative-dim` for each top-level node with an output whose inferred shape has
    a size below 0: ONNX's inference computes one where the graph asks for it (a Pad whose
    negative pads cut more than the input holds), and no tensor has it — onnxruntime fails
    when it runs the node, TensorRT's parser refuses it, and onnx.checker's full check fails
    where the exporter declared the output's shape. `types`: the model's type table. Only the
    table's distinct types are read unless one of them has such a size."""
    raw = types.serialized_table() if hasattr(types, "serialized_table") else None
    if raw is None:
        return []
    bad = {
        serialized
        for serialized in set(raw.values())
        if _NEGATIVE_VARINT.search(serialized) and _negative_dims(serialized)
    }
    if not bad:
        return []
    problems = []
    for index, node in enumerate(graph.node):
        hit = next((o for o in node.output if o and raw.get(o) in bad), None)
        if hit is None:
            continue
        dims = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in onnx.TypeProto.FromString(raw[hit]).tensor_type.shape.dim
        ]
        problems.append(
            _problem(
                index,
                "negative-dim",
                f"{_node_label(node, '')}: output '{short(hit)}' has the shape {dims} (ONNX "
                "shape inference): a size below 0, which no tensor has",
                "fix the node in the exporter (pads, sizes or starts made for a larger input)",
            )
        )
    return problems


#: a Dimension's dim_value (field 1, varint) that is negative: ten bytes, the last 0x01. Only
#: types whose bytes hold one are parsed (a transformer's types are tens of thousands, each
#: with dims of its own names: parsing them all cost 0.1 s).
_NEGATIVE_VARINT = re.compile(rb"\x08[\x80-\xff]{9}\x01")


def _negative_dims(serialized: bytes) -> bool:
    kind = onnx.TypeProto.FromString(serialized)
    if kind.WhichOneof("value") != "tensor_type" or not kind.tensor_type.HasField("shape"):
        return False
    return any(d.HasField("dim_value") and d.dim_value < 0 for d in kind.tensor_type.shape.dim)


def _schema_versions(op: str, domain: str) -> list:
    """Every version of the op's schema, newest first (none for a custom op)."""
    versions = []
    schema = _schema(op, domain, 2**31 - 1)
    while schema is not None:
        versions.append(schema)
        since = schema.since_version
        schema = _schema(op, domain, since - 1) if since > 1 else None
        if schema is not None and schema.since_version >= since:
            break
    return versions


_OPTIONAL = onnx.defs.OpSchema.FormalParameterOption.Optional
_VARIADIC = onnx.defs.OpSchema.FormalParameterOption.Variadic


@functools.cache
def _arity(schema) -> tuple[int, int, int, int, tuple[int, ...]]:
    """(min inputs, max inputs, min outputs, max outputs, required single input positions)."""
    required = tuple(
        i for i, p in enumerate(schema.inputs) if p.option not in (_OPTIONAL, _VARIADIC)
    )
    return (
        schema.min_input,
        schema.max_input,
        schema.min_output,
        schema.max_output,
        required,
    )


#: AttributeProto's value fields, by the attribute type that uses each
_VALUE_FIELDS = {
    "f": _ATTR.FLOAT, "i": _ATTR.INT, "s": _ATTR.STRING, "t": _ATTR.TENSOR, "g": _ATTR.GRAPH,
    "sparse_tensor": _ATTR.SPARSE_TENSOR, "tp": _ATTR.TYPE_PROTO, "floats": _ATTR.FLOATS,
    "ints": _ATTR.INTS, "strings": _ATTR.STRINGS, "tensors": _ATTR.TENSORS,
    "graphs": _ATTR.GRAPHS, "sparse_tensors": _ATTR.SPARSE_TENSORS,
    "type_protos": _ATTR.TYPE_PROTOS,
}  # fmt: skip


def _form_problems(node: onnx.NodeProto) -> Iterator[tuple[str, str]]:
    """Attributes onnx.checker and onnxruntime refuse whatever the op: one given twice (the
    parser reads the first, other tools the last: TensorRT-RTX 1.7.1 refused an LRN whose
    second `size` was valid), one declaring no type or holding another value field than its
    type's (or several), and a reference to a function's attribute outside a function,
    which the parser refuses."""
    names = [attr.name for attr in node.attribute]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        yield ("attribute-duplicate", f"attribute '{short(twice)}' is given more than once")
    for attr in node.attribute:
        name = short(attr.name)
        if attr.ref_attr_name:
            yield (
                "attribute-reference",
                f"attribute '{name}' refers to the function attribute "
                f"'{short(attr.ref_attr_name)}', but the node is in no function",
            )
            continue
        held = [
            field
            for field in _VALUE_FIELDS
            if (
                len(getattr(attr, field))
                if field.endswith("s") and field != "s"
                else attr.HasField(field)
            )
        ]
        if len(held) > 1:
            yield ("attribute-type", f"attribute '{name}' holds several values ({', '.join(held)})")
        elif attr.type == _ATTR.UNDEFINED:
            yield ("attribute-type", f"attribute '{name}' declares no type")
        elif held and _VALUE_FIELDS[held[0]] != attr.type:
            yield (
                "attribute-type",
                f"attribute '{name}' is declared {_attr_type_name(attr.type)} but holds "
                f"a value of type {_attr_type_name(_VALUE_FIELDS[held[0]])}",
            )


def _attr_problems(node: onnx.NodeProto, schema) -> Iterator[tuple[str, str]]:
    yield from _form_problems(node)
    declared = schema.attributes
    present = set()
    for attr in node.attribute:
        name = attr.name
        present.add(name)
        spec = declared.get(name)
        if spec is None:  # an attribute the op does not define: the parser ignores it
            continue
        expected = int(spec.type)
        actual = attr.type
        if actual == _ATTR.UNDEFINED:
            actual = _guess_attr_type(attr)
        if actual != expected and actual != _ATTR.UNDEFINED:
            yield (
                "attribute-type",
                f"attribute '{short(name)}' is {_attr_type_name(actual)}, the op "
                f"defines it as {_attr_type_name(expected)}",
            )
    for name, spec in declared.items():
        if spec.required and name not in present:
            yield ("attribute-missing", f"required attribute '{name}' is missing")


def _undefined_attributes(node, schema, domain: str, opset: int) -> Iterator[tuple[str, str]]:
    """An attribute the op's schema does not define at this opset (a DequantizeLinear `axis`
    at opset 11): onnx.checker refuses the node ("Unrecognized attribute") and so does
    onnxruntime, while TensorRT's parser reads the attributes it knows, whatever the opset — a
    warning (`WARNING_KINDS`), not a verdict. onnx.checker decides, as it knows the schemas
    that take any attribute (LayerNormalization) and names it skips (`__…`)."""
    undefined = [a.name for a in node.attribute if a.name not in schema.attributes]
    if not undefined:
        return
    context = onnx.checker.C.CheckerContext()
    context.ir_version = onnx.IR_VERSION
    context.opset_imports = {domain: opset}
    try:
        onnx.checker.check_node(node, context)
    except Exception as err:  # noqa: BLE001 - the checker raises several types
        if "Unrecognized attribute" in str(err):
            name = next((n for n in undefined if f"attribute: {n} " in str(err)), undefined[0])
            yield (
                "attribute-unknown",
                f"attribute '{short(name)}' is not defined by {node.op_type}-"
                f"{schema.since_version} (opset {opset}); onnx.checker and onnxruntime refuse "
                "the node, TensorRT's parser reads it",
            )


#: problem kinds that are warnings: the graph is not valid ONNX, but TensorRT takes it as it is
WARNING_KINDS = frozenset({"attribute-unknown"})


def _fields_held(attr: onnx.AttributeProto) -> tuple[str, ...]:
    """The names of the fields `attr` holds (a list: holds something): two attributes of one
    name, type and reference holding the same fields have the same problems."""
    return tuple([field.name for field, _ in attr.ListFields()])


def _guess_attr_type(attr: onnx.AttributeProto) -> int:
    for kind, field in _TYPED_FIELD_NAMES.items():
        if attr.HasField(field):
            return kind
    for kind, field in (
        (_ATTR.FLOATS, "floats"),
        (_ATTR.INTS, "ints"),
        (_ATTR.STRINGS, "strings"),
        (_ATTR.TENSORS, "tensors"),
        (_ATTR.GRAPHS, "graphs"),
    ):
        if len(getattr(attr, field)):
            return kind
    return _ATTR.UNDEFINED


def _attr_type_name(kind: int) -> str:
    try:
        return _ATTR.AttributeType.Name(kind)
    except ValueError:
        return f"type {kind}"


class _GraphChecker:
    """Walks one graph (and its subgraphs) once, collecting problems."""

    def __init__(self, opsets: dict[str, int]) -> None:
        self.opsets = opsets
        self.problems: list[Problem] = []
        #: per-kind memo of node checks that depend only on op, domain, counts and attributes
        self._node_memo: dict[tuple, list[tuple[str, Finding, object]]] = {}

    def add(
        self, node: int | None, kind: str, message: str, hint: str, severity: str = "error"
    ) -> None:
        self.problems.append(_problem(node, kind, message, hint, severity))

    def graph(
        self,
        graph: onnx.GraphProto,
        rows,
        outer: frozenset[str] | set[str],
        where: str,
        top_index: int | None,
        fields=None,
        sound: bytes | None = None,
        initializer_names: list[str] | None = None,
        owners: frozenset[str] = frozenset(),
    ) -> None:
        """Checks `graph`; `rows` are (node, op, domain, inputs, outputs) for its nodes (or a
        callable giving them), and `fields` the same as columns (`graph.NodeFields`) when the
        caller has them; `sound`: a byte per initializer, 1 where it is known to have no
        problem `_tensor_problems` finds (`LoadedModel.sound_initializers`);
        `initializer_names`: the initializers' names, in order, if at hand; `owners`: for a
        body, the outputs of the nodes that hold it (its own node's, and theirs above it),
        which it cannot read: they exist only once it has run."""
        at_top = top_index is None
        input_names = [vi.name for vi in graph.input]
        defined: set[str] = set(input_names)
        if initializer_names is None or len(initializer_names) != len(graph.initializer):
            initializer_names = [t.name for t in graph.initializer]
        initializer_names = [*initializer_names, *(s.values.name for s in graph.sparse_initializer)]
        defined.update(initializer_names)
        self._declared_twice(input_names, "graph input", where, top_index)
        self._declared_twice(initializer_names, "initializer", where, top_index)
        self.problems.extend(_elem_type_problems(graph, where, top_index))
        initializers = graph.initializer
        if sound is not None and len(sound) == len(initializers):  # the others only
            initializers = [initializers[i] for i, ok in enumerate(sound) if not ok]
        for tensor in initializers:
            self.problems.extend(_tensor_problems(tensor, where, top_index, "initializer"))
        if fields is not None and self._sound(
            graph, fields, defined, outer, where, top_index, owners
        ):
            return
        if callable(rows):  # `NodeFields.rows`, read only when the nodes are walked
            rows = rows()
        produced_by: dict[str, int] = {}
        for index, (_, _, _, _, outputs) in enumerate(rows):
            twice = _named_twice(outputs)
            for out in outputs:
                if not out:
                    continue
                first = produced_by.setdefault(out, index)
                if first != index or out in defined:
                    self._duplicate(rows, index, out, first, defined, where, top_index)
                elif out in twice:
                    self._duplicate(rows, index, out, index, defined, where, top_index)
                elif not at_top and out in outer:
                    self._shadows(rows[index][0], out, where, top_index)
        available = set(defined)
        late: list[tuple[int, str]] = []
        for index, (node, op, domain, inputs, outputs) in enumerate(rows):
            at = index if at_top else top_index
            for name in inputs:
                if name and name not in available and name not in outer:
                    late.append((index, name))
            self._node(node, op, domain, len(inputs), len(outputs), inputs, where, at)
            if (not at_top or op in _NESTING_OPS) and node.attribute:  # before its outputs
                self._subgraphs(node, _Visible(available, outer), where, at, owners)
            available.update(outputs)
        if late:
            self._order(rows, late, produced_by, outer, defined, where, top_index, owners)
        self._dangling_outputs(graph, available, outer, where, top_index)

    def _declared_twice(self, names: list[str], what: str, where: str, top_index) -> None:
        """A name given to two graph inputs, or to two initializers: which value it names is
        undefined (onnx.checker refuses both; an initializer that is also an input is not
        one of these)."""
        if len(set(names)) == len(names):
            return
        seen: set[str] = set()
        twice = [n for n in names if n in seen or seen.add(n)]
        self.add(
            top_index,
            f"duplicate-{what.split()[-1]}",
            f"{what} '{where}{short(twice[0])}' is declared more than once"
            + (f" ({len(twice)} such names)" if len(twice) > 1 else ""),
            "the model is damaged: each graph input and initializer has one name; re-export it",
        )

    def _shadows(self, node, out: str, where: str, top_index) -> None:
        """A body node whose output takes the name of a value its enclosing graphs define:
        one name, two values (onnx.checker: "single static assignment")."""
        self.add(
            top_index,
            "duplicate-output",
            f"{_node_label(node, where)}: output '{short(out)}' is already a value of an "
            "enclosing graph; ONNX graphs name each value once, bodies included",
            "give the body's value its own name (re-export the model)",
        )

    def _dangling_outputs(self, graph, available, outer, where, top_index) -> None:
        """Graph outputs defined in the graph: by a node, an input or an initializer — in a
        body, of the body itself (onnx.checker: "not an output of any node in graph"; an
        outer value passed through needs an Identity)."""
        # (the names read in one pass, each looked up where it is: 100,000 graph outputs)
        names = [value.name for value in graph.output]
        if isinstance(available, _Visible):
            own, seen = available.own, available.outer
            names = [n for n in names if n and n not in own and n not in seen]
        for name in names:
            if not name or name in available:
                continue
            if top_index is not None and name in outer:
                self.add(
                    top_index,
                    "dangling",
                    f"body output '{where}{short(name)}' is a value of an enclosing graph, "
                    "not of the body; a body's outputs are its own values",
                    "pass it through an Identity inside the body (re-export the model)",
                )
            elif name not in outer:
                self.add(
                    top_index,
                    "dangling",
                    f"graph output '{where}{short(name)}' is produced by no node and is not an "
                    "input or initializer",
                    "the model is damaged; re-export it",
                )

    def _sound(
        self,
        graph,
        fields,
        defined: set[str],
        outer,
        where: str,
        top_index: int | None = None,
        owners: frozenset[str] = frozenset(),
    ) -> bool:
        """The checks of `graph` after the element types and initializers, in bulk, for a
        top-level graph or a large body (`top_index`: the top-level node holding it): True
        when they found exactly what the node-by-node walk would find, which is then
        skipped. That holds when no output is named twice (nor, in a body, takes a name the
        body sees from outside) and every input is defined before its node: a node then has
        problems only where its signature (`NodeFields.signatures`; one of each form where
        they are many: `NodeFields.forms`) breaks its schema — each node of such a
        signature gets them as the walk gives them (`_node`: 100,000 Adds of one input) —
        and in its attributes (tensors, bodies), added here in node order, each body checked
        against the names defined up to its node (`_DefinedUpTo`), as the walk would;
        otherwise nothing is added and False tells the caller to walk the nodes, which finds
        and orders every problem.

        A 100,000-node graph has a few dozen signatures: ~0.05 s here against ~0.5 s.
        """
        at_top = top_index is None
        inputs, outputs = fields.inputs, fields.outputs
        produced_by: dict[str, int] = fields.producer_index()
        if len(produced_by) != _named_outputs(outputs) or not defined.isdisjoint(produced_by):
            return False  # a name produced twice
        if not at_top and any(map(outer.__contains__, produced_by)):
            return False  # a body's value named as one of an enclosing graph's
        for name in _reads_before_written(inputs, produced_by, defined):
            if name not in outer:
                return False  # used before it is produced, or never produced
        numbers, first = fields.signatures()
        ops, domains = fields.ops, fields.domains
        forms = fields.forms()  # a node's schema check reads no attribute's value
        broken: set[int] = set()  # the signatures (or forms) whose nodes break their schema
        for at, index in enumerate(first if forms is None else [first[s] for s in forms[1]]):
            op, domain = ops[index], domains[index]
            if not op:
                return False
            domain = "" if domain == "ai.onnx" else domain
            opset = self.opsets.get(domain)
            if opset is None or opset < 1:
                continue
            if list(self._judge_node(fields.node(index), op, domain, opset, inputs[index])):
                broken.add(at)
        if broken:  # each node of them, in order (`_node`: its problems named, as the walk)
            of = numbers if forms is None else [forms[0][s] for s in numbers]
            broken_nodes = {i for i, k in enumerate(of) if k in broken}
        else:
            broken_nodes = set()
        # the nodes whose attributes are searched, by signature (one op and one set of
        # attributes each); nodes of one signature without a body (a model's many equal
        # Constants) are looked at once: the problems of their tensors are the same for all
        attributes = fields.attributes
        searched = {
            n
            for n, i in enumerate(first)
            if attributes[i] and (ops[i] in _NESTING_OPS or not at_top)  # (as the walk)
        }
        with_bodies = {n for n in searched if any(map(holds_graph, attributes[first[n]]))}
        node = fields.node
        sound: set[int] = set()
        looked_at = compress(range(len(numbers)), map(searched.__contains__, numbers))
        if broken_nodes:
            looked_at = sorted(broken_nodes.union(looked_at))
        for index in looked_at:
            if index in broken_nodes:
                self._node(
                    node(index), ops[index], domains[index], len(inputs[index]),
                    len(outputs[index]), inputs[index], where, index if at_top else top_index,
                )  # fmt: skip
                if numbers[index] not in searched:
                    continue
            signature = numbers[index]
            if signature in sound:
                continue
            found = len(self.problems)
            at = index if at_top else top_index
            if signature in with_bodies:  # a body sees the names defined up to its node
                visible = _DefinedUpTo(index, defined, produced_by)
                self._subgraphs(node(index), _Visible(visible, outer), where, at, owners)
                continue
            self._subgraphs(node(index), frozenset(), where, at, owners)
            if len(self.problems) == found:
                sound.add(signature)  # no problem: none for the others either
        # (looked up in both: their union would copy every name of the graph)
        self._dangling_outputs(graph, _Visible(defined, produced_by), outer, where, top_index)
        return True

    def _duplicate(self, rows, index, out, first, defined, where, top_index) -> None:
        node = rows[index][0]
        what = (
            "a graph input or initializer"
            if out in defined and first == index
            else f"node {first} ('{short(rows[first][0].name)}')"
            if first != index
            else "this node's other output"
        )
        self.add(
            index if top_index is None else top_index,
            "duplicate-output",
            f"{_node_label(node, where)}: output '{short(out)}' is already produced by {what}; "
            "ONNX graphs name each value once",
            "give each node output a unique name (re-export the model)",
        )

    def _order(self, rows, late, produced_by, outer, defined, where, top_index, owners) -> None:
        """Inputs used before they are produced: a cycle, an unsorted graph, or no producer."""
        in_cycle = _cycle_nodes(rows, produced_by, _Visible(defined, outer))
        for index, name in late:
            node = rows[index][0]
            at = index if top_index is None else top_index
            producer = produced_by.get(name)
            if producer is None and name in owners:
                self.add(
                    at,
                    "cycle",
                    f"{_node_label(node, where)}: input '{short(name)}' is an output of the "
                    "node that holds this body (a cycle: it exists only once the body has run)",
                    "the model is damaged; re-export it (a loop's previous value is a "
                    "loop-carried input of its body)",
                )
            elif producer is None:
                self.add(
                    at,
                    "dangling",
                    f"{_node_label(node, where)}: input '{short(name)}' is produced by no node "
                    "and is not a graph input or initializer",
                    "the model is damaged or was cut badly; connect the input or re-export it",
                )
            elif index in in_cycle:
                self.add(
                    at,
                    "cycle",
                    f"{_node_label(node, where)}: input '{short(name)}' depends on this node's "
                    "own output (a cycle); ONNX graphs are acyclic",
                    "the model is damaged; re-export it (loops belong in a Loop node's body)",
                )
            else:
                self.add(
                    at,
                    "not-sorted",
                    f"{_node_label(node, where)}: input '{short(name)}' is produced by a later "
                    f"node ({producer}); ONNX requires nodes in topological order",
                    "sort the graph (onnx_graphsurgeon: graph.toposort()) and save it again; "
                    "TensorRT's parser sorts it itself",
                    severity="warning",
                )

    def _node(self, node, op, domain, n_in, n_out, inputs, where, at) -> None:
        if not op:
            self.add(
                at,
                "op-type",
                f"node {at} ('{where}{short(node.name)}') has no op_type",
                "the model is damaged; re-export it",
            )
            return
        domain = "" if domain == "ai.onnx" else domain
        opset = self.opsets.get(domain)
        if opset is None or opset < 1:
            return
        attrs = node.attribute
        key = (op, domain, n_in, n_out)
        if "" in inputs:
            key += (tuple([i == "" for i in inputs]),)
        if attrs:  # what `_judge_node` reads of them: which fields each holds, not values
            key += tuple([(a.name, a.type, a.ref_attr_name, _fields_held(a)) for a in attrs])
        found = self._node_memo.get(key)
        if found is None:
            found = self._node_memo[key] = [
                (message, _node_finding(kind), object())  # (the last: the problems' `alike`)
                for kind, message in self._judge_node(node, op, domain, opset, inputs)
            ]
        if not found:
            return
        label = _node_label(node, where, op)
        for message, finding, alike in found:  # (each node's finding: the kind's, named)
            self.problems.append(_named_problem(at, finding, f"{label}: {message}", alike))

    def _judge_node(self, node, op, domain, opset, inputs) -> Iterator[tuple[str, str]]:
        schema = _schema(op, domain, opset)
        if schema is None or schema.deprecated:
            return
        low_in, high_in, low_out, high_out, required = _arity(schema)
        n_in, n_out = len(inputs), len(node.output)
        if not low_in <= n_in <= high_in:
            yield (
                "input-count",
                f"has {n_in} input(s); {op}-{schema.since_version} takes {_range(low_in, high_in)}",
            )
        else:
            missing = [i for i in required if i < n_in and not inputs[i]]
            if missing:
                yield ("input-count", f"required input {missing[0]} is empty")
        if not low_out <= n_out <= high_out:
            yield (
                "output-count",
                f"has {n_out} output(s); {op}-{schema.since_version} gives "
                f"{_range(low_out, high_out)}",
            )
        yield from _attr_problems(node, schema)
        yield from _undefined_attributes(node, schema, domain, opset)

    def _subgraphs(self, node, visible, where, at, owners: frozenset[str] = frozenset()) -> None:
        """Checks the bodies of `node`, which see the names in `visible` (`_Visible`; not
        `node`'s outputs, nor those of `owners`, the nodes holding `node`), and its tensor
        attributes."""
        owners = owners.union(o for o in node.output if o)
        if node.op_type in _BODY_OPS and node.domain in ("", "ai.onnx"):
            self._body_signature(node, where, at)
        for attr in node.attribute:
            bodies = [attr.g] if attr.HasField("g") else []
            bodies += list(attr.graphs)
            for body in bodies:
                label = f"{where}{short(node.name or node.op_type)}/{short(attr.name)}/"
                if len(body.node) >= BULK_BODY_NODES:  # read as columns, checked in bulk
                    fields = NodeFields.read(body)
                    self.graph(body, fields.rows, visible, label, at, fields, owners=owners)
                    continue
                rows = [
                    (n, n.op_type, n.domain, tuple(n.input), tuple(n.output)) for n in body.node
                ]
                self.graph(body, rows, visible, label, at, owners=owners)
            if attr.HasField("t"):
                self.problems.extend(_tensor_problems(attr.t, where, at, "tensor attribute"))

    def function_bodies(self, nodes, where: str) -> None:
        """`_body_signature` of each If/Loop/Scan among `nodes` (a model-local function's)
        and in their bodies: onnxruntime crashed (SIGSEGV) on a Loop of unnamed output in a
        function, in trt-quantize's calibration. Reported on the graph (no top-level node)."""
        for node in nodes:
            if node.op_type in _BODY_OPS and node.domain in ("", "ai.onnx"):
                self._body_signature(node, where, None)
            for attr in node.attribute:
                for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                    self.function_bodies(body.node, f"{where}{short(node.name or node.op_type)}/")

    def _body_signature(self, node, where: str, at) -> None:
        """A body's inputs and outputs must be as many as its node hands it and takes back:
        Loop (iteration count, condition, carried values) → (condition, carried values, scan
        outputs); Scan (state, scan inputs) → (state, scan outputs); If's branches → the
        node's outputs. ONNX's inference lets a Loop body without outputs pass; onnxruntime
        refuses it ("Loop::Info"), and TensorRT's parser too."""
        bodies = {a.name: a.g for a in node.attribute if a.HasField("g")}
        if node.op_type == "If":
            wants = {name: (None, len(node.output)) for name in ("then_branch", "else_branch")}
        elif node.op_type == "Loop":
            wants = {"body": (len(node.input), 1 + len(node.output))}
        else:  # Scan (opset 8's sequence_lens input is the node's alone)
            first = 1 if self.opsets.get("", self.opsets.get("ai.onnx", 0)) == 8 else 0
            wants = {"body": (len(node.input) - first, len(node.output))}
        label = _node_label(node, where)
        if not node.name and not where and at is not None:
            label = f"{short(node.op_type)} node '<{short(node.op_type)} #{at}>'"
        if "" in node.output:
            # onnx.checker takes it; onnxruntime crashes on such a Loop (SIGSEGV) and TensorRT's
            # parser refuses it ("Node has more output tensors than TRT expected")
            self.add(
                at,
                "body-signature",
                f"{label}: output {list(node.output).index('')} has no name; each value a "
                f"{short(node.op_type)} hands back needs one (none of its outputs is optional)",
                "name the output (an unused name will do), or re-export the model",
            )
            return
        for name, (inputs, outputs) in wants.items():
            body = bodies.get(name)
            if body is None:
                continue  # (a missing body: the schema check reports it)
            have_in, have_out = len(body.input), len(body.output)
            if (inputs is None or have_in == inputs) and have_out == outputs:
                continue
            self.add(
                at,
                "body-signature",
                f"{label}: its {name} takes {have_in} input(s) and gives "
                f"{have_out} output(s); the node "
                + (f"hands it {inputs} and " if inputs is not None else "")
                + f"takes {outputs} back",
                "the model is damaged: re-export it (the body and its node must agree)",
            )
            return


def _named_twice(names) -> set[str]:
    """The names that occur more than once in one node's outputs (in linear time: a Split
    into 60,000 outputs took 78 s when each was counted)."""
    if len(names) < 2:
        return set()
    seen: set[str] = set()
    return {name for name in names if name in seen or seen.add(name)}


def _named_outputs(outputs) -> int:
    """How many output names of `outputs` (each node's list) are not empty."""
    if _producer_hops is not None:
        try:
            return _producer_hops.named_outputs(outputs)
        except TypeError:  # not lists (a caller of our own API): in Python
            pass
    every = list(chain.from_iterable(outputs))
    return len(every) - every.count("")


def _reads_before_written(inputs, produced_by: dict[str, int], defined: set[str]) -> list[str]:
    """The input names (`inputs`: each node's list) that no earlier node produces
    (`produced_by`: name -> its node's index) and that are not in `defined`, in node order:
    natively where the module is built (`_producer_hops.reads_before_written`; 100,000
    nodes: ~0.005 s against ~0.05 s)."""
    if _producer_hops is not None:
        try:
            return _producer_hops.reads_before_written(inputs, produced_by, defined)
        except TypeError:  # not lists, or `defined` not a set: in Python
            pass
    after = len(inputs)  # the position of a name no node produces
    late = produced_by.get
    return [
        name
        for index, names in enumerate(inputs)
        for name in names
        if name and late(name, after) >= index and name not in defined
    ]


class _Visible:
    """The names a body sees: those defined so far in the graph that holds it (`own`: the
    walk's set, or `_DefinedUpTo`) and those its graph sees (`outer`), looked up where they
    are. (Joined into one set, they cost a copy of every name defined so far for each body:
    a 100,000-node model's every Constant copied 100,000 names when it was done for any
    node with attributes.) Read only while the body is checked, as `own` stands then."""

    __slots__ = ("own", "outer")

    def __init__(self, own, outer) -> None:
        self.own, self.outer = own, outer

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in self.outer


class _DefinedUpTo:
    """The names defined in a top-level graph before node `index` (what its bodies see: the
    walk's available names there), of a graph that names each value once (`_sound`): its
    inputs and initializers (`defined`) and what the nodes before `index` produce."""

    __slots__ = ("index", "defined", "produced_by")

    def __init__(self, index: int, defined: set[str], produced_by: dict[str, int]) -> None:
        self.index, self.defined, self.produced_by = index, defined, produced_by

    def __contains__(self, name: object) -> bool:
        if name in self.defined:
            return True
        producer = self.produced_by.get(name)
        return producer is not None and producer < self.index


#: a body of this many nodes or more (a scripted model's If around its whole network, an
#: If of two 48-node branches) is read as columns and checked in bulk where it can be
#: (`_GraphChecker._sound`); a smaller one is walked node by node at no cost worth reading
#: its columns (2,000 Ifs of 48-node branches: ~0.26 s walked, ~0.14 s in bulk).
BULK_BODY_NODES = 32

#: top-level ops whose attributes are searched for graphs and tensors (every op in bodies).
_NESTING_OPS = frozenset({"If", "Loop", "Scan", "Constant", "ConstantOfShape", "SequenceMap"})


def _range(low: int, high: int) -> str:
    if low == high:
        return str(low)
    if high >= 2**31 - 1:
        return f"at least {low}"
    return f"{low} to {high}"


def _cycle_nodes(rows, produced_by: dict[str, int], defined: Container[str]) -> set[int]:
    """Indices of the nodes on a cycle (or between two): what Kahn's algorithm leaves, run
    forward (drops what only depends on a cycle) and backward (drops what only feeds one)."""
    edges: dict[int, set[int]] = {}  # producer -> users
    for index, (_, _, _, inputs, _) in enumerate(rows):
        for name in inputs:
            producer = produced_by.get(name)
            if name and name not in defined and producer is not None:
                edges.setdefault(producer, set()).add(index)
    backward: dict[int, set[int]] = {}
    for producer, users in edges.items():
        for user in users:
            backward.setdefault(user, set()).add(producer)
    return _leftover(edges, backward, len(rows)) & _leftover(backward, edges, len(rows))


def _leftover(forward: dict[int, set[int]], backward: dict[int, set[int]], count: int) -> set[int]:
    """Nodes Kahn's algorithm cannot order along `forward` edges."""
    waiting = [len(backward.get(i, ())) for i in range(count)]
    ready = [i for i in range(count) if waiting[i] == 0]
    while ready:
        index = ready.pop()
        for user in forward.get(index, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return {i for i in range(count) if waiting[i] > 0}


def check_validity(
    proto: onnx.ModelProto,
    rows=None,
    fields=None,
    sound: bytes | None = None,
    initializer_names: list[str] | None = None,
) -> list[Problem]:
    """Every structural problem of `proto` (empty for a valid model).

    Args:
        proto: the model (external data not loaded: only its declared length is read).
        rows: (node, op_type, domain, inputs, outputs) of the top-level nodes, when the caller
            has them already (`GraphView.rows`); read from `proto` otherwise.
        fields: the top-level nodes' fields as columns (`GraphView.fields`), when the caller
            has them: the graph is then checked in bulk where it can be
            (`_GraphChecker._sound`), and `rows` come from them.
        sound: for each top-level initializer, 1 where it is known to hold exactly the data
            its type and dims need (`LoadedModel.sound_initializers`, read from the bytes
            `proto` was parsed from): only the others are checked one by one.
        initializer_names: the top-level initializers' names, in order, read from those
            bytes too (`LoadedModel.initializer_heads`): not read from the protos again.
    """
    graph = proto.graph
    if fields is not None:
        rows = rows if rows is not None else fields.rows
    elif rows is None:
        rows = [(n, n.op_type, n.domain, tuple(n.input), tuple(n.output)) for n in graph.node]
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in proto.opset_import}
    domains = fields.domains if fields is not None else [row[2] for row in rows]
    uses_default = "" in domains or "ai.onnx" in domains
    checker = _GraphChecker(opsets)
    checker.problems.extend(_model_problems(proto, uses_default))
    checker.graph(graph, rows, frozenset(), "", None, fields, sound, initializer_names)
    for function in proto.functions:  # their bodies' signatures (a Loop inside one)
        checker.function_bodies(function.node, f"{short(function.name)}/")
    if proto.functions:
        checker.problems.extend(_function_problems(proto))
    return checker.problems


def _function_problems(proto: onnx.ModelProto) -> Iterator[Problem]:
    """Model-local functions that do not fit their bodies or their calls: an output no node
    of the body makes, a node reading a value nothing in the function defines, and a call
    of more inputs or outputs than the function declares, or of fewer inputs where the body
    reads the one left out. onnx.checker's full check passes such models; onnxruntime and
    TensorRT's parser refuse them ("Could not find output tensor", "Number of actual
    parameters cannot exceed number of formal parameters")."""
    from trtforge.analyzer.loading import iter_nodes

    by_key = {}
    for function in proto.functions:
        by_key.setdefault((function.domain, function.name, function.overload), function)
    read_in: dict[tuple, set[str]] = {}
    for key, function in by_key.items():
        label = f"local function '{short(function.name)}'"
        defined = set(function.input)
        reads: set[str] = set()
        for node in function.node:  # (the body's own bodies may read these too)
            for name in node.input:
                if name and name not in defined:
                    yield _problem(
                        None,
                        "function-body",
                        f"{label}: node '{short(node.name or node.op_type)}' reads "
                        f"'{short(name)}', which nothing in the function defines",
                        "fix the function in the exporter (or inline it with onnx.inliner "
                        "and check the result)",
                    )
                reads.add(name)
            defined.update(name for name in node.output if name)
        for node in iter_nodes(function.node):
            reads.update(node.input)
        read_in[key] = reads
        for name in function.output:
            if name not in defined:
                yield _problem(
                    None,
                    "function-body",
                    f"{label}: output '{short(name)}' is made by no node of its body",
                    "fix the function in the exporter",
                )
    for index, node in enumerate(proto.graph.node):
        op, inputs, outputs = node.op_type, node.input, node.output
        function = by_key.get((node.domain, op, node.overload))
        if function is None:
            continue
        where = f"{short(op)} node '{short(node.name)}'"
        if len(inputs) > len(function.input) or len(outputs) > len(function.output):
            yield _problem(
                index,
                "function-call",
                f"{where}: {len(inputs)} input(s) and {len(outputs)} output(s) for the local "
                f"function's {len(function.input)} and {len(function.output)}",
                "call the function with the inputs and outputs it declares",
            )
            continue
        missing = [
            function.input[i]
            for i in range(len(function.input))
            if (i >= len(inputs) or not inputs[i])
            and function.input[i] in read_in[(function.domain, function.name, function.overload)]
        ]
        if missing:
            yield _problem(
                index,
                "function-call",
                f"{where}: gives no value for the local function's input "
                f"'{short(missing[0])}', which its body reads",
                "pass every input the function's body reads",
            )


#: one error of strict shape inference: (op_type, node name — absent for an unnamed node, why).
_INFERENCE_ERROR = re.compile(r"\(op_type:([^,)]*)(?:, node name: ([^)]*))?\): (.*)")


def strict_inference_problems(proto: onnx.ModelProto) -> list[Problem]:
    """`inference_problems` of strict ONNX shape inference run on `proto` now."""
    error = _strict_error(proto)
    return inference_problems(error, proto) if error else []


def _strict_error(proto: onnx.ModelProto, top_level: bool = False) -> str:
    """What strict ONNX shape inference raises on `proto` (without its large weights); ""
    when it passes. `top_level`: only its errors about top-level nodes without bodies are
    read, which a graph of many bodies has inferred with small scopes
    (`_split_inference.top_level_error`: 2,000 Ifs in 100,000 nodes, ~1 s instead of ~50 s);
    a parsed error of another kind counts as not made, and one run is made."""
    from trtforge.analyzer import _split_inference, inference_guard
    from trtforge.analyzer.inference import _weightless

    light = _weightless(proto)
    if top_level:
        ops = [node.op_type for node in light.graph.node]
        error = _split_inference.top_level_error(
            light.SerializeToString(),
            lambda model: inference_guard.infer_shapes(model, False, True, False),
            len(ops),
            sum(op in _BODY_OPS for op in ops),
            (onnx.shape_inference.InferenceError,),
        )
        if error == "" or (error and _inference_errors(error)):
            return error
    try:
        inference_guard.infer_model(light, strict=True)
        return ""
    except Exception as err:  # noqa: BLE001 - InferenceError, or anything onnx raises
        return str(err)


def _inference_errors(error: str) -> list[tuple[str, str, str, str]]:
    """(op_type, node name, why, parent) of each node error in what strict inference raised;
    `parent`: for the error of a node inside another's (an If/Loop/Scan body, or the body of
    a function op such as MeanVarianceNormalization), the outer node's op_type; "" at the top.

    A line naming one node is read by one match over the whole text (`_ONE_NODE_LINE`: a
    graph after an op inference cannot follow has 100,000 such lines, ~0.4 -> ~0.16 s);
    a line naming more (an error inside a body) is cut where each node's error starts."""
    out = []
    cleaned: dict[str, str] = {}  # (a graph after a stale declaration: 100,000 alike errors)

    def why_of(raw: str) -> str:
        why = cleaned.get(raw)
        if why is None:
            why = cleaned[raw] = _ERROR_KINDS.sub("", " ".join(raw.split()))
        return why

    for line in _ONE_NODE_LINE.finditer(error):
        before, op, name, raw = line.groups("")
        if _NODE_MARK in raw or _NODE_MARK in before or _NODE_MARK in op or _NODE_MARK in name:
            parent = ""  # nested errors: each piece
            for position, piece in enumerate(_NODE_ERROR_START.split(line.group(0))):
                match = _INFERENCE_ERROR.search(piece)
                if match is not None:
                    op, name, raw = match.groups()
                    op = op.strip()
                    out.append((op, name or "", why_of(raw), parent if position > 1 else ""))
                    if position == 1:
                        parent = op
            continue
        out.append((op.strip(), name, why_of(raw), ""))
    return out


#: what starts a node's error in what strict inference raised
_NODE_MARK = "(op_type:"

#: a line of what strict inference raised with a node's error: the text before the first
#: node's, its op_type, node name ("" for none), and its error; where a group holds another
#: node's start (`_NODE_MARK`), the line names several and is read piece by piece
_ONE_NODE_LINE = re.compile(
    r"^([^\n]*?)\(op_type:([^,)\n]*)(?:, node name: ([^)\n]*))?\): ([^\n]*)$", re.M
)


#: where a node's error starts in what strict inference raised, and the kinds of error
#: (`[ShapeInferenceError] `) that start its text
_NODE_ERROR_START = re.compile(r"(?=\(op_type:)")
_ERROR_KINDS = re.compile(r"^(\[[A-Za-z]+\]\s*)+")


#: a strict-inference error that names an attribute or an index out of bounds.
_ATTRIBUTE_ERROR = re.compile(r"[Aa]ttribute|out of bounds")

#: a strict-inference conflict whose inferred size (the first) is negative.
_NEGATIVE_SIZE = re.compile(r"differ in dimension \d+: \(-\d+\) vs")

#: ops whose bodies (graph attributes) are part of the model.
_BODY_OPS = frozenset({"If", "Loop", "Scan"})

#: strict-inference errors that say a type or shape is unknown (an unsorted graph's inputs,
#: an op inference cannot follow): no reason to call the graph invalid.
_UNKNOWN = re.compile(
    r"instead is null|expected to have type|[Uu]nknown|not (yet )?(supported|implemented|"
    r"registered)|[Nn]o (schema|op) registered|[Cc]annot infer"
)


def _interface_only(proto: onnx.ModelProto) -> onnx.ModelProto:
    """`proto` without what an exporter declares about computed tensors: no value_info, and
    graph outputs keep only their element type. Strict inference of it judges the nodes from
    the graph's inputs and weights alone, so its errors are the graph's own, not a stale
    declaration's. Built from the model without its large weights (`_weightless`), which are
    not copied."""
    from trtforge.analyzer.inference import _weightless

    bare = onnx.ModelProto()
    bare.CopyFrom(_weightless(proto))
    del bare.graph.value_info[:]
    for value in bare.graph.output:
        if value.type.WhichOneof("value") == "tensor_type":
            value.type.tensor_type.ClearField("shape")
    return bare


def stale_value_info(proto: onnx.ModelProto) -> list[str]:
    """The value_info entries of `proto`'s graph whose declared type contradicts what shape
    inference computes from the graph's inputs and weights alone (`_interface_only`): another
    element type, rank or static dim. onnxruntime-genai's builder declares its shared
    `/model/constants/INT64/[1]` (shape [1]) with rank 0, which onnx.checker's full check
    refuses ("Inferred shape and existing shape differ in rank"); a declaration is a hint, and
    such a one is only wrong. Names in graph order; [] when there is no value_info."""
    if not proto.graph.value_info:
        return []
    from trtforge.analyzer.inference import infer_model

    inferred = infer_model(_interface_only(proto))
    if inferred is None:
        return []
    found = {v.name: v.type for v in inferred.graph.value_info}
    return [
        value.name
        for value in proto.graph.value_info
        if value.name in found and _contradicts(value.type, found[value.name])
    ]


def _contradicts(declared: onnx.TypeProto, inferred: onnx.TypeProto) -> bool:
    if declared.WhichOneof("value") != "tensor_type" or inferred.WhichOneof("value") != (
        "tensor_type"
    ):
        return False
    a, b = declared.tensor_type, inferred.tensor_type
    if a.elem_type and b.elem_type and a.elem_type != b.elem_type:
        return True
    if not (a.HasField("shape") and b.HasField("shape")):
        return False
    if len(a.shape.dim) != len(b.shape.dim):
        return True
    return any(
        x.HasField("dim_value") and y.HasField("dim_value") and x.dim_value != y.dim_value
        for x, y in zip(a.shape.dim, b.shape.dim, strict=True)
    )


def drop_stale_value_info(proto: onnx.ModelProto) -> list[str]:
    """Removes `proto`'s `stale_value_info` entries in place; returns their names. (What a
    command writes must pass onnx.checker's full check, whose strict inference refuses them.)"""
    stale = stale_value_info(proto)
    if stale:
        drop = set(stale)
        kept = [v for v in proto.graph.value_info if v.name not in drop]
        del proto.graph.value_info[:]
        proto.graph.value_info.extend(kept)
    return stale


def inference_problems(error: str, proto: onnx.ModelProto, fields=None) -> list[Problem]:
    """The node errors in what strict shape inference raised (`error`) that make the graph
    invalid.

    An error that names an attribute or an index out of bounds counts as it is. Any other
    but an unknown type or shape (`_UNKNOWN`) says shapes or values do not fit ("Incompatible
    dimensions for matrix multiplication", "axis must be in [-r, r-1]", a Split whose sizes do
    not add up, Squeeze of a dim that is not 1); such an error may come from a stale
    value_info or graph-output shape the exporter declared; it counts only when strict
    inference raises it again on the graph without those declarations (`_interface_only`),
    i.e. from the graph's inputs and weights alone (onnxruntime refuses such a model at load).

    `fields`: the top-level graph's `graph.NodeFields`, if at hand (its columns are read
    instead of 100,000 node wrappers: a genai LLM's stale declaration, ~0.2 s).
    """
    if not error:
        return []
    errors = _inference_errors(error)
    if not errors:
        return []
    graph = proto.graph
    if fields is None:
        names, ops = [n.name for n in graph.node], [n.op_type for n in graph.node]
    else:
        names, ops = fields.names, fields.ops
    by_name: dict[str, int] = {}
    unnamed: dict[str, list[int]] = {}
    for index, (name, op) in enumerate(zip(names, ops, strict=True)):
        if name:
            by_name.setdefault(name, index)
        else:
            unnamed.setdefault(op, []).append(index)

    def node_index(op: str, name: str) -> int | None:
        if name:
            return by_name.get(name)
        indices = unnamed.get(op, [])
        return indices[0] if len(indices) == 1 else None

    def label(op: str, name: str) -> str:
        """`<op> node '<name>'`, as the knowledge base names nodes (`<Op #i>` unnamed)."""
        if name:
            return f"{short(op)} node '{short(name)}'"
        index = node_index(op, name)
        if index is None:
            return f"an unnamed {short(op)} node"
        return f"{short(op)} node '<{short(op)} #{index}>'"

    out: list[Problem] = []
    conflicts = []
    local = {function.name for function in proto.functions}
    kinds: dict[str, str] = {}  # why -> its kind, each text classified once

    def kind_of(why: str) -> str:
        found = kinds.get(why)
        if found is None:
            if _ATTRIBUTE_ERROR.search(why):
                found = "attribute"
            elif _NEGATIVE_SIZE.search(why):
                found = "negative"
            elif not _UNKNOWN.search(why) and "Inference error" not in why:
                found = "conflict"
            else:
                found = ""
            kinds[why] = found
        return found

    for op, name, why, parent in errors:
        if parent and parent not in _BODY_OPS and parent not in local:
            continue  # inside a function op's body, which onnx defines, not the model
        kind = kind_of(why)
        if kind == "attribute":
            out.append(
                _problem(
                    node_index(op, name),
                    "attribute-value",
                    f"{label(op, name)}: {short(why, 200)} (ONNX shape inference)",
                    "fix the attribute in the exporter and re-export the model",
                )
            )
        elif not parent and kind == "negative":
            # the size inference computed is below 0, whatever the exporter declared
            out.append(
                _problem(
                    node_index(op, name),
                    "negative-dim",
                    f"{label(op, name)}: {short(why, 200)} (ONNX shape inference computes a "
                    "size below 0, which no tensor has)",
                    "fix the node in the exporter (pads, sizes or starts made for a larger input)",
                )
            )
        elif not parent and kind == "conflict":
            # a body's errors are left to the rules (an If takes only the branch its constant
            # condition selects)
            conflicts.append((op, name, why))
    # a merge with a type only value_info declares is gone without it: not confirmed, and
    # no run is made for it (onnxruntime-genai's builder declares a shared constant of rank
    # 1 with rank 0 in every model it writes)
    outputs = fields.outputs if fields is not None else [n.output for n in graph.node]
    stale = _declaration_merges(conflicts, graph, node_index, names, ops, outputs)
    conflicts = [conflict for conflict in conflicts if conflict not in stale]
    if conflicts:
        # errors of top-level nodes without bodies alone are read from small scopes
        # (`_strict_error`); a conflict of another node is confirmed by one run
        plain = {node.op_type for node in graph.node}.difference(_BODY_OPS)
        top_level = all(op in plain for op, _, _ in conflicts)
        again = _strict_error(_interface_only(proto), top_level=top_level)
        confirmed = {e[:3] for e in _inference_errors(again)}
        for op, name, why in conflicts:
            if (op, name, why) not in confirmed:
                continue
            out.append(
                _problem(
                    node_index(op, name),
                    "inconsistent-types" if " type" in why else "inconsistent-shapes",
                    f"{label(op, name)}: {short(why, 200)} (ONNX shape inference, from the "
                    "graph's inputs and weights alone; onnxruntime refuses such a model)",
                    "the node's inputs do not fit together; fix the exporter and re-export "
                    "the model",
                )
            )
    return out


def _declaration_merges(
    conflicts: list, graph: onnx.GraphProto, node_index, names: list, ops: list, outputs: list
) -> set:
    """The conflicts (op, name, why) of `inference_problems` that are certainly a node's
    output merged with a type that value_info alone gives it: a merge error (MERGE_ERRORS)
    of a node found by its name, none of whose outputs is a graph input, output or
    initializer, or is written by another node. Strict inference of the graph without
    value_info (`_interface_only`) finds no type to merge such an output with, so it does not
    raise that error again (at the top level, ONNX merges a node's outputs only with what the
    graph declares or an earlier node wrote). `names`, `ops`, `outputs`: the nodes' columns."""
    from trtforge.analyzer.inference import MERGE_ERRORS

    merges = [c for c in conflicts if any(text in c[2] for text in MERGE_ERRORS)]
    if not merges:
        return set()
    interface = {v.name for v in (*graph.input, *graph.output)}
    interface.update(t.name for t in graph.initializer)
    interface.update(t.values.name for t in graph.sparse_initializer)
    written = collections.Counter(out for outs in outputs for out in outs)
    named = collections.Counter(names)
    stale = set()
    for op, name, why in merges:
        index = node_index(op, name)
        if index is None or (name and named.get(name) != 1):
            continue
        if ops[index] != op:
            continue
        if all(out not in interface and written[out] == 1 for out in outputs[index] if out):
            stale.add((op, name, why))
    return stale


def validate(proto: onnx.ModelProto, rows=None, strict: bool = True) -> list[Problem]:
    """`check_validity`, plus `strict_inference_problems` when `strict` and the structure
    is sound (inference on a broken graph says nothing new)."""
    problems = check_validity(proto, rows)
    if strict and not any(p.finding.is_error for p in problems):
        problems += strict_inference_problems(proto)
    return problems


def undecodable_name(proto: onnx.ModelProto) -> str | None:
    """The first name of the top-level graph that is not UTF-8 text (protobuf hands such
    text over as bytes), shown escaped; None when every name is text. TensorRT's parser takes
    such names; writing a model (trt-rewrite) does not."""
    graph = proto.graph
    names = [graph.name]
    for node in graph.node:
        names.append(node.name)
        names.extend(node.input)
        names.extend(node.output)
    names.extend(v.name for v in (*graph.input, *graph.output, *graph.value_info))
    names.extend(t.name for t in graph.initializer)
    for name in names:
        if type(name) is bytes:
            return short(repr(name)[2:-1])
    return None


def attach(report, problems: list[Problem]) -> None:
    """Puts `problems` into a trt-check `Report`: on the node at fault (an error makes it
    unsupported) or, when no top-level node is at fault, among the graph's findings."""
    from trtforge.analyzer.report import SUPPORTED, UNSUPPORTED

    graph_level: list[Finding] = []
    # node index -> what its verdict shared before (the id of its kin; that of None: no
    # finding, supported; of _OWN: findings of its own), then the `alike` of each problem
    touched: dict[int, list] = {}
    for problem in problems:
        index = problem.node
        if index is None or not 0 <= index < len(report.nodes):
            graph_level.append(problem.finding)
            continue
        verdict = report.nodes[index]
        seen = touched.get(index)
        if seen is None:
            before = verdict.kin
            if before is None and (verdict.reasons or verdict.status != SUPPORTED):
                before = _OWN
            touched[index] = [id(before), problem.alike]
        else:
            seen.append(problem.alike)
        if problem.finding.is_error and verdict.status != UNSUPPORTED:
            verdict.status = UNSUPPORTED
            verdict.plugin = None
        verdict.reasons.insert(0, problem.finding)
        verdict.kin = None  # (its findings are its own now)
    # nodes that shared a verdict (or had none) and got the problems of nodes alike share
    # again: 100,000 invalid nodes of one kind are rendered as one (`reports._summary`)
    own = id(_OWN)
    kins: dict[tuple, tuple] = {}
    for index, seen in touched.items():
        if seen[0] != own and None not in seen:
            key = tuple(seen)
            report.nodes[index].kin = kins.setdefault(key, key)
    report.graph_findings[:0] = graph_level


#: `attach`: a verdict whose findings were its own before its problems came
_OWN = object()


def first_error(problems: list[Problem]) -> str | None:
    """A one-line summary of the errors among `problems` (None when there is none)."""
    errors = [p for p in problems if p.finding.is_error]
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"invalid ONNX graph: {errors[0].message}{more}"
