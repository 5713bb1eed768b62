"""Builders passes share: normalization nodes (ONNX op, trtforge plugin node, or a decomposition
into basic ops), GELU subgraphs, and the support facts they depend on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.plugin_lookup import namespace_attr_needed
from trtforge.analyzer.rewrite.base import PassContext
from trtforge.analyzer.rewrite.graphutil import guess_dtype
from trtforge.analyzer.targets import Target

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")

PLUGIN_NAMESPACE = "trtforge"
PLUGIN_VERSION = "1"
#: first ai.onnx opset with each fused op.
OPSET_LAYERNORM = 17
OPSET_GELU = 20
OPSET_RMSNORM = 23

_FLOAT_TYPES = ("float32", "float16", "float64")


def op_supported(op: str, target: Target) -> bool:
    """True when the knowledge base says the target's parser imports the standard `op`.

    A missing rule counts as "not supported" (the knowledge base has not said it is).
    """
    from trtforge.analyzer.kb import find_rule

    rule = find_rule("", op)
    return rule is not None and rule.since.available(target)


def is_float(tensor: gs.Tensor) -> bool:
    dtype = guess_dtype(tensor)
    if dtype is None:
        return False
    try:
        return np.dtype(dtype) in [np.dtype(t) for t in _FLOAT_TYPES] or str(dtype) == "bfloat16"
    except TypeError:
        return dtype in (
            onnx.TensorProto.FLOAT,
            onnx.TensorProto.FLOAT16,
            onnx.TensorProto.BFLOAT16,
        )


def np_float(tensor: gs.Tensor) -> np.dtype:
    """The NumPy float dtype of a tensor (float32 when unknown)."""
    dtype = guess_dtype(tensor)
    if dtype is None:
        return np.dtype(np.float32)
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(dtype))


# -- plugin nodes ---------------------------------------------------------------------------
def _catalog():
    try:
        from trtforge.plugins import catalog
    except ImportError:
        return None
    return catalog


def plugin_built(name: str) -> bool:
    """True when the kernels of the trtforge plugin `name` are built in this install, so that
    trt-build can register it (`catalog.is_available`). A pass choosing its output by itself
    (an `--…-impl auto`) emits the plugin only then: a plugin node whose kernels are missing
    turns a node TensorRT builds into one it refuses ("Plugin not found")."""
    catalog = _catalog()
    spec = catalog.find_plugin(name, PLUGIN_VERSION, PLUGIN_NAMESPACE) if catalog else None
    return spec is not None and catalog.is_available(spec)


def plugin_node(
    ctx: PassContext,
    name: str,
    inputs: Sequence[gs.Tensor],
    outputs: Sequence[gs.Tensor],
    **attrs,
) -> gs.Node:
    """A node for the trtforge plugin `name` (naming: docs/plugins.md, "How the parser finds a
    plugin").

    The plugin's declaration (trtforge.plugins.catalog) builds the node when it is installed,
    so the node carries exactly the fields the plugin declares.
    """
    catalog = _catalog()
    spec = catalog.find_plugin(name, PLUGIN_VERSION, PLUGIN_NAMESPACE) if catalog else None
    node_name = ctx.unique(name)
    node_attrs = dict(attrs)
    op, domain = name, PLUGIN_NAMESPACE
    if spec is not None:
        proto = spec.make_node(
            [t.name for t in inputs], [t.name for t in outputs], name=node_name, **attrs
        )
        op, domain = proto.op_type, proto.domain
        node_attrs = {a.name: _attr_value(a) for a in proto.attribute}
    else:
        node_attrs.setdefault("plugin_version", PLUGIN_VERSION)
    if namespace_attr_needed(domain, ctx.target):
        node_attrs["plugin_namespace"] = domain  # this parser ignores the domain
    node = gs.Node(
        op=op,
        name=node_name,
        attrs=node_attrs,
        inputs=list(inputs),
        outputs=list(outputs),
        domain=domain,
    )
    ctx.graph.nodes.append(node)
    ctx.require_domain(domain, 1)
    return node


def _attr_value(attr: onnx.AttributeProto):
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


# -- normalization --------------------------------------------------------------------------
def axes_for(axis: int, rank: int | None) -> list[int] | None:
    """The reduction axes `axis..last` as a list (negative when the rank is unknown)."""
    if axis < 0:
        return list(range(axis, 0))
    if rank is None:
        return None
    return list(range(axis, rank))


def reduce_mean(ctx: PassContext, x: gs.Tensor, axes: list[int], base: str) -> gs.Variable:
    out = ctx.variable(base, dtype=x.dtype)
    if ctx.opset >= 18:
        ctx.node(
            "ReduceMean",
            [x, ctx.constant("axes", np.array(axes, np.int64))],
            [out],
            {"keepdims": 1},
        )
    else:
        ctx.node("ReduceMean", [x], [out], {"axes": axes, "keepdims": 1})
    return out


def binary(
    ctx: PassContext, op: str, a: gs.Tensor, b: gs.Tensor, dtype=None, out=None
) -> gs.Tensor:
    out = out if out is not None else ctx.variable(op.lower(), dtype=dtype or a.dtype)
    ctx.node(op, [a, b], [out])
    return out


def unary(ctx: PassContext, op: str, a: gs.Tensor, out=None, attrs=None, dtype=None) -> gs.Tensor:
    out = out if out is not None else ctx.variable(op.lower(), dtype=dtype or a.dtype)
    ctx.node(op, [a], [out], attrs)
    return out


def scalar_const(ctx: PassContext, value: float, dtype: np.dtype, base: str = "c") -> gs.Constant:
    return ctx.constant(base, np.array(value, dtype=dtype))


def cast(ctx: PassContext, x: gs.Tensor, to: np.dtype, out=None) -> gs.Tensor:
    to_onnx = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(to))
    out = out if out is not None else ctx.variable("cast", dtype=np.dtype(to))
    ctx.node("Cast", [x], [out], {"to": to_onnx})
    return out


def decomposed_norm(
    ctx: PassContext,
    x: gs.Tensor,
    scale: gs.Tensor | None,
    bias: gs.Tensor | None,
    axis: int,
    epsilon: float,
    out: gs.Tensor,
    rms: bool,
) -> bool:
    """LayerNorm (or RMSNorm when `rms`) from basic ops, computed in float32.

    Returns False (building nothing) when the reduction axes cannot be expressed.
    """
    axes = axes_for(axis, None if x.shape is None else len(x.shape))
    if axes is None:
        return False
    dtype = np_float(x)
    h = x if dtype == np.float32 else cast(ctx, x, np.float32)
    f32 = np.float32
    if rms:
        centred = h
    else:
        centred = binary(ctx, "Sub", h, reduce_mean(ctx, h, axes, "mean"))
    var = reduce_mean(ctx, binary(ctx, "Mul", centred, centred), axes, "var")
    std = unary(ctx, "Sqrt", binary(ctx, "Add", var, scalar_const(ctx, epsilon, f32, "epsilon")))
    normed = binary(ctx, "Div", centred, std)
    if dtype != np.float32:
        normed = cast(ctx, normed, dtype)
    tail = [t for t in (scale, bias) if t is not None]
    if not tail:
        ctx.node("Identity", [normed], [out])
        return True
    if scale is not None:
        normed = binary(ctx, "Mul", normed, scale, out=out if bias is None else None)
    if bias is not None:
        binary(ctx, "Add", normed, bias, out=out)
    return True


def ones_like_tail(dims: Sequence[int], dtype: np.dtype, value: float) -> np.ndarray:
    return np.full(tuple(dims), value, dtype=dtype)


# -- GELU -----------------------------------------------------------------------------------
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu_subgraph(ctx: PassContext, x: gs.Tensor, out: gs.Tensor, approximate: str) -> None:
    """GELU from basic ops: erf form, or the tanh approximation."""
    dtype = np_float(x)
    half = scalar_const(ctx, 0.5, dtype, "half")
    one = scalar_const(ctx, 1.0, dtype, "one")
    if approximate == "tanh":
        cube = binary(ctx, "Mul", binary(ctx, "Mul", x, x), x)
        inner = binary(
            ctx, "Add", x, binary(ctx, "Mul", cube, scalar_const(ctx, 0.044715, dtype, "k"))
        )
        core = unary(
            ctx, "Tanh", binary(ctx, "Mul", inner, scalar_const(ctx, SQRT_2_OVER_PI, dtype, "k"))
        )
    else:
        core = unary(
            ctx, "Erf", binary(ctx, "Mul", x, scalar_const(ctx, 1 / math.sqrt(2.0), dtype, "k"))
        )
    binary(ctx, "Mul", binary(ctx, "Mul", x, half), binary(ctx, "Add", core, one), out=out)


def gelu(ctx: PassContext, x: gs.Tensor, out: gs.Tensor, approximate: str) -> None:
    """GELU: the standard Gelu op where the opset and the target allow it, else basic ops."""
    if ctx.opset >= OPSET_GELU and op_supported("Gelu", ctx.target):
        ctx.node("Gelu", [x], [out], {"approximate": approximate})
    else:
        gelu_subgraph(ctx, x, out, approximate)
