"""Small helpers passes use to read an onnx-graphsurgeon graph: producers, consumers, constants.

Nothing here mutates a graph, and nothing loads external weights: a constant whose data lives
in an external file reads as "unknown" (None).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence

from trtforge.analyzer.lazy import lazy_import

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")

#: constants larger than this are never decoded for matching (weights stay untouched).
MAX_MATCH_ELEMENTS = 1 << 16


@contextlib.contextmanager
def graphsurgeon_silenced() -> Iterator[None]:
    """onnx-graphsurgeon prints its log lines with `print()`, to stdout, where they would
    corrupt a report written there (`trt-check --format json` on a BFLOAT16 model got "[W]
    Could not convert: BFLOAT16 …" before its JSON). While trtforge drives it, it prints
    nothing; its failures still raise."""
    logger = gs.logger.G_LOGGER
    with logger.suppress(logger.CRITICAL + 10):
        yield


#: element types ONNX stores two to a byte (numpy/ml_dtypes names)
PACKED_DTYPES = frozenset({"int4", "uint4", "float4_e2m1fn"})


def overridable_initializers(model: onnx.ModelProto) -> list[str]:
    """Names of the top-level initializers that are also graph inputs, from IR 4 on: a
    default that the caller may replace by feeding the input, not a constant.

    Where *every* initializer is a graph input, none is: below IR 4 that was required, and
    exporters that keep the convention (`keep_initializers_as_inputs`, the onnx wheel's test
    models, model-zoo exports) list their weights so — declaring no default, as TensorRT takes
    them (as weights). Rewrites fold and fuse those as before (the onnx wheel's sequence
    models: lower-sequences reads their positions)."""
    if model.ir_version < 4:
        return []
    inputs = {v.name for v in model.graph.input}
    names = [t.name for t in model.graph.initializer]
    listed = [name for name in names if name in inputs]
    return [] if len(listed) == len(names) else listed


def import_graph(model: onnx.ModelProto, keep_constant: set[str] | frozenset = frozenset()):
    """`gs.import_onnx` of `model`, with its overridable initializers kept graph inputs.

    graphsurgeon imports an initializer that is also a graph input as a Constant and drops the
    input: fold-constants then folds it into what reads it, fuse-layernorm makes an epsilon fed
    that way an attribute, and the written model no longer takes the input (onnxruntime:
    "Invalid input name"). Here each one is a Variable input in the input's place, so that no
    pass reads its value; the export puts its default back (`with_overridable_defaults`).
    `keep_constant`: names left as graphsurgeon imports them (a default a lean load did not
    read, which the export could not write again).
    """
    import onnx_graphsurgeon

    graph = onnx_graphsurgeon.import_onnx(model)
    names = [n for n in overridable_initializers(model) if n not in keep_constant]
    if not names:
        return graph
    # what TensorRT's parser reads as weights (it takes an initializer listed as an input for
    # its default), for a pass that must know where the parser sees a constant (`parser_constant`)
    graph.parser_constants = {
        t.name: t for t in model.graph.initializer if t.name in set(names) and _has_data(t)
    }
    tensors = graph.tensors()
    declared = {v.name: v for v in model.graph.input}
    inputs = {t.name: t for t in graph.inputs}
    for name in names:
        tensor = tensors.get(name)
        info = declared[name].type.tensor_type
        if tensor is None:  # read by nothing: graphsurgeon has no tensor for it
            tensor = onnx_graphsurgeon.Variable(name)
        if isinstance(tensor, onnx_graphsurgeon.Constant):
            dtype, shape = tensor.dtype, list(tensor.shape)
            tensor.to_variable(dtype=dtype, shape=shape)
            tensor.type = "tensor_type"  # what Variable() sets and to_variable() does not
        elif tensor.dtype is None and info.elem_type:
            tensor.dtype = onnx.helper.tensor_dtype_to_np_dtype(info.elem_type)
        inputs[name] = tensor
    graph.inputs = [inputs[v.name] for v in model.graph.input if v.name in inputs]
    return graph


def parser_constant(graph: gs.Graph, tensor: gs.Tensor) -> np.ndarray | None:
    """The value TensorRT's parser sees for `tensor`: a constant's (`const_value`), or an
    overridable initializer's default (`import_graph` keeps it a graph input, whose value no
    pass may fold in; the parser takes it as weights), a tiny one read from external data
    (from `graph.model_folder`, which the model session sets). None when it is neither, or
    large."""
    value = const_value(tensor)
    if value is not None:
        return value
    default = getattr(graph, "parser_constants", {}).get(tensor.name)
    if default is None and isinstance(tensor, gs.Constant) and is_lazy_external(tensor):
        default = tensor._values.tensor  # noqa: SLF001 - graphsurgeon keeps the TensorProto here
    if default is None:
        return None
    if default.data_location == onnx.TensorProto.EXTERNAL:  # a scalar in the data file
        from trtforge.analyzer.loading import tiny_external_copy

        folder = getattr(graph, "model_folder", None)
        default = tiny_external_copy(default, folder) if folder is not None else None
        if default is None:
            return None
    count = 1
    for dim in default.dims:
        count *= dim
    return None if count > MAX_MATCH_ELEMENTS else onnx.numpy_helper.to_array(default)


def with_overridable_defaults(out: onnx.ModelProto, original: onnx.ModelProto) -> None:
    """Gives each graph input of `out` that was an overridable initializer of `original`
    (`import_graph` made it a Variable) its default back, as the initializer it was."""
    have = {t.name for t in out.graph.initializer}
    inputs = {v.name for v in out.graph.input}
    for tensor in original.graph.initializer:
        if tensor.name in inputs and tensor.name not in have and _has_data(tensor):
            out.graph.initializer.append(tensor)


def _has_data(tensor: onnx.TensorProto) -> bool:
    """Whether a TensorProto holds its values (inline or in external data), as opposed to a
    lean load's name-and-type stand-in."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.HasField("raw_data"):
        return True
    count = 1
    for dim in tensor.dims:
        count *= dim
    from trtforge.analyzer.validity import typed_count

    return count == 0 or typed_count(tensor) is not None


def export_graph(graph: gs.Graph) -> onnx.ModelProto:
    """`gs.export_onnx` of `graph`, with its packed 4-bit constants and its string
    constants intact.

    Once a pass has read a 4-bit constant's values (an INT4 weight of a MatMulNBits model),
    graphsurgeon 0.6 holds them one value to a byte and exports them so, which onnx refuses
    ("Raw data size does not match tensor's size"): such values go back as a TensorProto,
    packed by onnx.
    """
    for sub in [graph, *graph.subgraphs(recursive=True)]:
        constants = [t for t in sub.tensors().values() if isinstance(t, gs.Constant)]
        constants += [
            value
            for node in sub.nodes
            for value in node.attrs.values()
            if isinstance(value, gs.Constant)
        ]
        for const in constants:
            values = const._values  # noqa: SLF001 - a loaded array, or graphsurgeon's lazy proto
            if isinstance(values, np.ndarray) and values.dtype.name in PACKED_DTYPES:
                proto = onnx.numpy_helper.from_array(values, const.name)
                const._values = gs.ir.tensor.LazyValues(proto)  # noqa: SLF001
            elif isinstance(values, np.ndarray) and values.dtype.kind in "OUS":
                # strings: graphsurgeon writes every constant as raw_data, which a STRING
                # tensor cannot hold (onnx raises); onnx writes them as string_data
                proto = onnx.numpy_helper.from_array(values.astype(object), const.name)
                const._values = gs.ir.tensor.LazyValues(proto)  # noqa: SLF001
    import onnx_graphsurgeon  # the module itself: the lazy stand-in holds a copy of its names

    # graphsurgeon imports optional-typed values but cannot export them (UnboundLocalError in
    # export_value_info_proto): they go out untyped, and the pass manager gives the graph's
    # inputs and outputs their types back (`manager._keep_io_types`)
    optional = [
        (t, t.dtype, t.shape)
        for sub in [graph, *graph.subgraphs(recursive=True)]
        for t in sub.tensors().values()
        if isinstance(t, gs.Variable) and getattr(t, "type", None) == "optional_type"
    ]
    for tensor, _, _ in optional:
        tensor.dtype, tensor.shape = None, None
    try:
        return onnx_graphsurgeon.export_onnx(graph, do_type_check=False)
    finally:
        for tensor, dtype, shape in optional:
            tensor.dtype, tensor.shape = dtype, shape


def through_identities(tensor: gs.Tensor | None, max_hops: int = 64) -> gs.Tensor | None:
    """`tensor`, or what a chain of (default-domain) Identity nodes copies into it: the
    TorchScript exporter shares equal initializers and reads each through an Identity per use
    (every LayerNorm weight of ones; torch.ao's scales and zero points)."""
    for _ in range(max_hops):
        node = producer(tensor)
        if node is None or node.op != "Identity" or not is_default(node) or not node.inputs:
            break
        tensor = node.inputs[0]
    return tensor


def producer(tensor: gs.Tensor | None) -> gs.Node | None:
    """The node producing `tensor` (None for graph inputs and constants)."""
    if tensor is None or not tensor.inputs:
        return None
    return tensor.inputs[0]


def consumers(tensor: gs.Tensor) -> list[gs.Node]:
    return list(tensor.outputs)


def attr_text(value) -> str:
    """A string attribute's value as text (graphsurgeon and onnx give bytes or str)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def is_default(node: gs.Node) -> bool:
    """True for a node of the default ONNX domain."""
    return node.domain in ("", "ai.onnx", None)


def users(tensor: gs.Tensor, *ops: str) -> list[gs.Node]:
    """The default-domain nodes of types `ops` reading `tensor`."""
    return [n for n in tensor.outputs if n.op in ops and is_default(n)]


def is_lazy_external(const: gs.Constant) -> bool:
    """True when a Constant's data sits in an external file that has not been loaded."""
    values = const._values  # noqa: SLF001 - graphsurgeon keeps the TensorProto here
    tensor = getattr(values, "tensor", None)
    return tensor is not None and tensor.data_location == onnx.TensorProto.EXTERNAL


def const_value(
    tensor: gs.Tensor | None, max_elements: int = MAX_MATCH_ELEMENTS
) -> np.ndarray | None:
    """The value of a constant tensor (initializer or Constant-node output), else None.

    Large constants and constants with unloaded external data read as None.
    """
    if tensor is None:
        return None
    if isinstance(tensor, gs.Constant):
        if is_lazy_external(tensor):
            return None
        if int(np.prod(tensor.shape or ())) > max_elements:
            return None
        return np.asarray(tensor.values)
    node = producer(tensor)
    if node is None or node.op != "Constant":
        return None
    attrs = node.attrs
    if "value" in attrs:
        value = attrs["value"]
        if isinstance(value, gs.Constant):
            if is_lazy_external(value) or int(np.prod(value.shape or ())) > max_elements:
                return None
            return np.asarray(value.values)
        return np.asarray(value)
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    return None


def scalar(tensor: gs.Tensor | None, against: gs.Tensor | None = None) -> float | None:
    """The value of a constant holding exactly one element, else None.

    `against` is the tensor the constant is combined with elementwise (the other operand of
    its Add/Mul/Pow/...). Given it, a constant that broadcasting would add dims to it reads as
    None too: an epsilon shaped [1, 1, 1, 1] makes a rank-3 sum rank 4, which an op fused from
    the pattern would not reproduce. When `against`'s rank is unknown, only a constant of rank
    0 or 1 is taken (what exporters write).
    """
    value = const_value(tensor, max_elements=1)
    if value is None or value.size != 1:
        return None
    if against is not None and value.ndim > _rank_or(against, 1):
        return None
    return float(value.reshape(()))


def _rank_or(tensor: gs.Tensor, unknown: int) -> int:
    rank = tensor_rank(tensor)
    return unknown if rank is None else rank


def channels_first(rank: int) -> list[int]:
    """The Transpose perm that makes a channels-last tensor of `rank` (N, spatial…, C)
    channels-first (N, C, spatial…); `channels_last` is its inverse."""
    return [0, rank - 1, *range(1, rank - 1)]


def channels_last(rank: int) -> list[int]:
    """The Transpose perm N, C, spatial… → N, spatial…, C (`channels_first`'s inverse)."""
    return [0, *range(2, rank), 1]


def is_close(value: float | None, expected: float, rel: float = 1e-4) -> bool:
    return value is not None and abs(value - expected) <= rel * max(1.0, abs(expected))


def other_input(node: gs.Node, tensor: gs.Tensor) -> gs.Tensor | None:
    """For a binary node with `tensor` as one input, the other input."""
    if len(node.inputs) != 2:
        return None
    if node.inputs[0] is tensor:
        return node.inputs[1]
    if node.inputs[1] is tensor:
        return node.inputs[0]
    return None


def split_const(node: gs.Node) -> tuple[gs.Tensor, float] | None:
    """For a binary node with one scalar-constant input: (the other input, the constant).

    None also when the constant would broadcast the other input to more dims (see `scalar`).
    """
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if scalar(a) is None:
        vb = scalar(b, against=a)
        return None if vb is None else (a, vb)
    if scalar(b) is None:
        va = scalar(a, against=b)
        return None if va is None else (b, va)
    return None


def graph_output_names(graph: gs.Graph) -> set[str]:
    return {t.name for t in graph.outputs}


def escapes(tensor: gs.Tensor, inside: Iterable[gs.Node], graph: gs.Graph) -> str | None:
    """Why `tensor` cannot disappear with the pattern `inside`, else None.

    A tensor escapes when it is a graph output or a node outside the pattern reads it.
    """
    if tensor.name in graph_output_names(graph):
        return f"intermediate '{tensor.name}' is a graph output"
    ids = {id(n) for n in inside}
    for user in tensor.outputs:
        if id(user) not in ids:
            return (
                f"intermediate '{tensor.name}' is also consumed by {user.op} node "
                f"'{user.name}' outside the pattern"
            )
    return None


def single_use(tensor: gs.Tensor, graph: gs.Graph) -> bool:
    """True when exactly one node reads `tensor` and it is not a graph output."""
    return len(tensor.outputs) == 1 and tensor.name not in graph_output_names(graph)


def at_opset(kind: str, inputs: list, attrs: dict | None, opset: int) -> tuple[list, dict]:
    """`inputs` and `attrs` of a `kind` node written in its opset-13 form (Unsqueeze/Squeeze
    axes as an input), as the model's `opset` takes them: below 13 the axes (a constant) are
    an attribute. A pass that builds such nodes for models of any opset calls it."""
    attrs = dict(attrs or {})
    if kind in ("Unsqueeze", "Squeeze") and opset < 13 and len(inputs) == 2:
        axes = const_value(inputs[1])
        if axes is None:
            raise ValueError(f"{kind} below opset 13 needs constant axes")
        return [inputs[0]], {**attrs, "axes": [int(a) for a in np.asarray(axes).reshape(-1)]}
    return list(inputs), attrs


def reduce_axes(node: gs.Node, opset: int) -> list[int] | None:
    """The axes of a Reduce* node (attribute before opset 18, input from 18), else None.

    Returns None when the axes are not a constant or are absent (reduce over all axes).
    """
    if node.attrs.get("keepdims", 1) != 1:
        return None
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    if len(node.inputs) > 1 and node.inputs[1] is not None and node.inputs[1].name:
        value = const_value(node.inputs[1])
        if value is None:
            return None
        return [int(a) for a in value.reshape(-1)]
    return None


def trailing_axes(axes: Sequence[int], rank: int | None) -> int | None:
    """If `axes` are the last k axes of a tensor of `rank`, the first of them (negative), else None.

    With an unknown rank only negative axes can be judged.
    """
    if not axes:
        return None
    if rank is not None:
        norm = sorted(a + rank if a < 0 else a for a in axes)
        if norm != list(range(rank - len(norm), rank)) or norm[0] < 0:
            return None
        return -len(norm)
    if any(a >= 0 for a in axes):
        return None
    norm = sorted(axes)
    if norm != list(range(-len(norm), 0)):
        return None
    return -len(norm)


def tensor_rank(tensor: gs.Tensor) -> int | None:
    shape = tensor.shape
    return None if shape is None else len(shape)


def static_tail(tensor: gs.Tensor, count: int) -> list[int] | None:
    """The last `count` dims of `tensor` if they are all static, else None."""
    shape = tensor.shape
    if shape is None or len(shape) < count:
        return None
    tail = list(shape[len(shape) - count :])
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in tail):
        return None
    return [int(d) for d in tail]


def np_dtype(tensor: gs.Tensor) -> np.dtype | None:
    """The NumPy dtype of a tensor when known."""
    dtype = tensor.dtype
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        try:
            return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dtype))
        except (TypeError, KeyError, ValueError):
            return None


def anchor(node: gs.Node) -> str:
    """A name for `node` in reports: its name, else its op and first output."""
    if node.name:
        return node.name
    out = node.outputs[0].name if node.outputs else "?"
    return f"{node.op} -> '{out}'"


def guess_dtype(tensor: gs.Tensor, depth: int = 32):
    """The tensor's dtype, else the first known dtype found walking up through producers.

    Used where shape inference could not type a tensor (outputs of custom-domain ops); every
    op the passes rewrite keeps its first input's element type.
    """
    seen: set[int] = set()
    frontier = [tensor]
    for _ in range(depth):
        nxt = []
        for t in frontier:
            if t is None or id(t) in seen:
                continue
            seen.add(id(t))
            if t.dtype is not None:
                return t.dtype
            node = producer(t)
            if node is not None:
                nxt.extend(i for i in node.inputs[:1] if i is not None)
        if not nxt:
            return None
        frontier = nxt
    return None
