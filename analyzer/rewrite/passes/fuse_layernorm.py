"""fuse-layernorm: a decomposed LayerNorm becomes one LayerNormalization (or LayerNorm plugin) node.

Before (what exporters emit; every variant below is matched)::

    mean = ReduceMean(x, axes)            # axes as attribute, or as input (opset 18+)
    d    = Sub(x, mean)
    p    = Pow(d, 2) | Mul(d, d)
    var  = ReduceMean(p, axes)
    s    = Sqrt(Add(var, eps))            # eps from a Constant node or an initializer
    n    = Div(d, s) | Mul(d, Reciprocal(s)) | Mul(d, Pow(Add(var, eps), -0.5))
    [n   = Cast(n)]                       # fp16 models: x = Cast(x16 -> float32) ... Cast(-> fp16)
    [y   = Mul(n, gamma)]                 # optional affine, either operand order
    [z   = Add(y, beta)]

After::

    z = LayerNormalization(x, gamma, beta, axis=-k, epsilon=eps)     # opset >= 17
    z = trtforge::LayerNorm(x, gamma, beta, axis=-k, epsilon=eps)   # --layernorm-impl plugin,
                                                                     # or a model below opset 17
    (an fp16 Cast island stays float32 inside: Cast -> LayerNormalization -> Cast)

Skips (reported with the reason):
    an intermediate (mean, d, var, ...) is read by a node outside the pattern or is a graph
    output; the reduction is not over the trailing axes; a non-constant or non-scalar epsilon;
    an unknown input type; normalized dims that are not static when gamma/beta must be made
    (when shape inference lost the input's shape, the dims are read off gamma/beta).
    An epsilon or exponent of more dims than the tensor it is added to is no match (it would
    broadcast the result wider than one LayerNormalization's output); a gamma/beta of more
    dims than the input stays outside the fusion (its Mul/Add are kept).
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, PassOption, RewritePass
from trtforge.analyzer.rewrite.graphutil import (
    anchor,
    is_close,
    is_default,
    reduce_axes,
    scalar,
    tensor_rank,
    users,
)
from trtforge.analyzer.rewrite.passes._norm_emit import replace_with_norm, unbuildable
from trtforge.analyzer.rewrite.passes._norm_match import (
    apply_inverse,
    check_core,
    extend_tail,
    fit_param,
    match_inverse_std,
    normalized_dims,
)

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")


def _square_of(d: gs.Tensor) -> list[gs.Node]:
    """Pow(d, 2) and Mul(d, d) nodes reading `d`."""
    found = []
    for node in d.outputs:
        if not is_default(node):
            continue
        if (
            node.op == "Pow"
            and node.inputs[0] is d
            and is_close(scalar(node.inputs[1], against=d), 2.0)
        ):
            found.append(node)
        elif (
            node.op == "Mul"
            and len(node.inputs) == 2
            and node.inputs[0] is d
            and node.inputs[1] is d
        ):
            found.append(node)
    return found


def _numerator(var: gs.Tensor, sub: gs.Node, m: gs.Tensor, x: gs.Tensor):
    """(inverse-std nodes, eps, numerator node, second Sub or None) completing a LayerNorm."""
    for inv_nodes, eps, inv, how in match_inverse_std(var):
        numerator = apply_inverse(sub.outputs[0], inv, how)
        if numerator is not None:
            return inv_nodes, eps, numerator, None
        for twin in users(m, "Sub"):  # the numerator may use a second Sub(x, mean)
            if twin is not sub and twin.inputs[0] is x and twin.inputs[1] is m:
                numerator = apply_inverse(twin.outputs[0], inv, how)
                if numerator is not None:
                    return inv_nodes, eps, numerator, twin
    return None


class FuseLayerNorm(RewritePass):
    """Decomposed LayerNorm → LayerNormalization (opset >= 17) or the trtforge LayerNorm plugin."""

    id = "fuse-layernorm"
    summary = (
        "decomposed LayerNorm → LayerNormalization (opset ≥ 17) or the trtforge LayerNorm plugin"
    )
    order = 30
    options = (
        PassOption(
            "layernorm_impl",
            default="auto",
            choices=("auto", "onnx", "plugin"),
            help="fuse-layernorm output: onnx = LayerNormalization (converts a model "
            "below opset 17 to 17), plugin = trtforge::LayerNorm node, auto (default) "
            "= onnx at opset >= 17, else plugin where its kernels are built, else no fusion",
        ),
    )
    advice = Advice("decomposed LayerNorm", "one normalization layer", frozenset({"ReduceMean"}))

    @classmethod
    def required_opset(cls, options) -> int:
        return emit.OPSET_LAYERNORM if options.layernorm_impl == "onnx" else 0

    def find(self, ctx: PassContext):
        for mean in list(ctx.graph.nodes):
            if mean.op != "ReduceMean" or not is_default(mean) or not mean.outputs:
                continue
            x = mean.inputs[0]
            m = mean.outputs[0]
            for sub in users(m, "Sub"):
                if sub.inputs[0] is not x or sub.inputs[1] is not m:
                    continue
                d = sub.outputs[0]
                for square in _square_of(d):
                    for var_node in users(square.outputs[0], "ReduceMean"):
                        found = _numerator(var_node.outputs[0], sub, m, x)
                        if found is None:
                            continue
                        inv_nodes, eps, numerator, other_sub = found
                        nodes = [mean, sub, square, var_node, *inv_nodes, numerator]
                        if other_sub is not None:
                            nodes.insert(2, other_sub)
                        match = Match(
                            anchor=anchor(numerator),
                            nodes=nodes,
                            data={
                                "x": x,
                                "eps": eps,
                                "axes": (
                                    reduce_axes(mean, ctx.opset),
                                    reduce_axes(var_node, ctx.opset),
                                ),
                                "core": nodes,
                                "last_core": numerator,
                            },
                        )
                        extend_tail(match, ctx.graph, numerator, x)
                        yield match
                        break

    def impl(self, ctx: PassContext) -> str | None:
        """ "onnx" (LayerNormalization) or "plugin" (trtforge::LayerNorm) as --layernorm-impl
        says; for auto, LayerNormalization at opset >= 17, else the plugin where its kernels
        are built in this install (`emit.plugin_built`), else None: no fusion."""
        wanted = ctx.options.layernorm_impl
        if wanted != "auto":
            return wanted
        if ctx.opset >= emit.OPSET_LAYERNORM:
            return "onnx"
        return "plugin" if emit.plugin_built("LayerNorm") else None

    def check(self, match: Match, ctx: PassContext) -> str | None:
        data = match.data
        x: gs.Tensor = data["x"]
        why = check_core(data, ctx.graph, list(data["axes"]))
        if why:
            return why
        if self.impl(ctx) is None:
            return unbuildable(
                ctx, "LayerNorm", "LayerNormalization", emit.OPSET_LAYERNORM, "--layernorm-impl"
            )
        if self.impl(ctx) == "onnx" and ctx.opset < emit.OPSET_LAYERNORM:
            return f"LayerNormalization needs opset {emit.OPSET_LAYERNORM} (model has {ctx.opset})"
        why = normalized_dims(data, [data[k][1] for k in ("gamma", "beta") if k in data])
        if why:
            return why
        dims = data["dims"]
        dtype = emit.np_float(x)
        for key in ("gamma", "beta"):
            if key in data:
                fitted = fit_param(data[key][1], dims, dtype, tensor_rank(x))
                if fitted is None:  # keep that Mul/Add (and what follows) outside the fusion
                    del match.nodes[match.nodes.index(data[key][0]) :]
                    data.pop("beta", None)
                    data.pop("gamma" if key == "gamma" else "beta", None)
                    break
                data[key + "_fit"] = fitted
        if dims is None and (self.impl(ctx) == "plugin" or "gamma" not in data):
            return f"the normalized dims of '{x.name}' are not static (shape {x.shape})"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        data = match.data
        x: gs.Tensor = data["x"]
        dtype = emit.np_float(x)
        dims = data["dims"]

        def param(key: str, fill: float) -> gs.Tensor | None:
            fitted = data.get(key + "_fit")
            if isinstance(fitted, gs.Constant):
                return fitted
            if fitted is not None:
                return ctx.constant(key, fitted)
            if fill == 0.0 and self.impl(ctx) == "onnx":
                return None  # B is optional in LayerNormalization
            return ctx.constant(key, emit.ones_like_tail(dims, dtype, fill))

        scale, bias = param("gamma", 1.0), param("beta", 0.0)
        inputs = [x, scale] + ([bias] if bias is not None else [])
        onnx_op = "LayerNormalization" if self.impl(ctx) == "onnx" else None
        replace_with_norm(ctx, match, inputs, onnx_op, "LayerNorm")


PASS = FuseLayerNorm
