"""fuse-rmsnorm: a decomposed RMSNorm (T5, LLaMA) becomes one RMSNormalization or plugin node.

Before (T5LayerNorm / LlamaRMSNorm as exporters emit them)::

    p   = Pow(x, 2) | Mul(x, x)
    var = ReduceMean(p, axes)              # axes as attribute, or as input (opset 18+)
    r   = Reciprocal(Sqrt(Add(var, eps)))  | Div(1, Sqrt(...)) | Pow(Add(var, eps), -0.5)
    n   = Mul(x, r)                         | Div(x, Sqrt(Add(var, eps)))
    [n  = Cast(n)]                          # back to the input dtype (fp16 models, or a no-op)
    [y  = Mul(gamma, n)]                    # the weight, either operand order

After::

    y = RMSNormalization(x, gamma, axis=-k, epsilon=eps)   # opset >= 23 and the target's parser
                                                           # imports it (knowledge base), or
                                                           # --rmsnorm-impl onnx (converts to 23)
    y = trtforge::RMSNorm(x, gamma, axis=-k, epsilon=eps)  # otherwise, or --rmsnorm-impl plugin

Skips (reported): an intermediate read outside the pattern or a graph output; reduction not
over the trailing axes; input not float; normalized dims not static when gamma must be made.
A LayerNorm (x is itself `Sub(y, ReduceMean(y))`) is left to fuse-layernorm.
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
)
from trtforge.analyzer.rewrite.passes._norm_emit import replace_with_norm, unbuildable
from trtforge.analyzer.rewrite.passes._norm_match import (
    AFFINE,
    apply_inverse,
    check_core,
    extend_tail,
    fit_param,
    match_inverse_std,
    normalized_dims,
)

gs = lazy_import("onnx_graphsurgeon")


def _is_centred(x: gs.Tensor) -> bool:
    """True when x = Sub(y, ReduceMean(y)): the pattern is a LayerNorm, not an RMSNorm."""
    sub = x.inputs[0] if x.inputs else None
    if sub is None or sub.op != "Sub" or len(sub.inputs) != 2:
        return False
    mean = sub.inputs[1].inputs[0] if sub.inputs[1].inputs else None
    return mean is not None and mean.op == "ReduceMean" and mean.inputs[0] is sub.inputs[0]


def rms_impl(ctx: PassContext) -> str | None:
    """What the fused node is: "onnx" (RMSNormalization) or "plugin" (the trtforge RMSNorm
    plugin) as --rmsnorm-impl says; for auto, RMSNormalization at opset >= 23 where the
    target's parser imports it, else the plugin where its kernels are built in this install
    (`emit.plugin_built`), else None: no fusion (the decomposed norm builds as it is)."""
    wanted = ctx.options.rmsnorm_impl
    if wanted != "auto":
        return wanted
    if ctx.opset >= emit.OPSET_RMSNORM and emit.op_supported("RMSNormalization", ctx.target):
        return "onnx"
    return "plugin" if emit.plugin_built("RMSNorm") else None


class FuseRMSNorm(RewritePass):
    """Decomposed RMSNorm → RMSNormalization (where supported) or the trtforge RMSNorm plugin."""

    id = "fuse-rmsnorm"
    summary = (
        "decomposed RMSNorm (T5/LLaMA) → RMSNormalization where supported, else the RMSNorm plugin"
    )
    order = 40
    options = (
        PassOption(
            "rmsnorm_impl",
            default="auto",
            choices=("auto", "onnx", "plugin"),
            help="fuse-rmsnorm output: onnx = RMSNormalization (converts a model below "
            "opset 23 to 23), plugin = trtforge::RMSNorm node, auto (default) = onnx "
            "at opset >= 23 where the target's parser imports it, else plugin where its "
            "kernels are built, else no fusion",
        ),
    )
    advice = Advice("decomposed RMSNorm", "one normalization layer", frozenset({"ReduceMean"}))

    @classmethod
    def required_opset(cls, options) -> int:
        return emit.OPSET_RMSNORM if options.rmsnorm_impl == "onnx" else 0

    def find(self, ctx: PassContext):
        for var_node in list(ctx.graph.nodes):
            if var_node.op != "ReduceMean" or not is_default(var_node) or not var_node.outputs:
                continue
            square = var_node.inputs[0].inputs[0] if var_node.inputs[0].inputs else None
            if square is None or not is_default(square):
                continue
            if square.op == "Pow" and is_close(
                scalar(square.inputs[1], against=square.inputs[0]), 2.0
            ):
                x = square.inputs[0]
            elif (
                square.op == "Mul"
                and len(square.inputs) == 2
                and square.inputs[0] is square.inputs[1]
            ):
                x = square.inputs[0]
            else:
                continue
            if _is_centred(x):
                continue
            found = next(
                (
                    (nodes_, eps_, num)
                    for nodes_, eps_, inv, how in match_inverse_std(var_node.outputs[0])
                    if (num := apply_inverse(x, inv, how)) is not None
                ),
                None,
            )
            if found is None:
                continue
            inv_nodes, eps, numerator = found
            nodes = [square, var_node, *inv_nodes, numerator]
            match = Match(
                anchor=anchor(numerator),
                nodes=nodes,
                data={
                    "x": x,
                    "eps": eps,
                    "axes": reduce_axes(var_node, ctx.opset),
                    "core": list(nodes),
                },
            )
            extend_tail(match, ctx.graph, numerator, x, (AFFINE[0],), any_cast=True)
            yield match

    def check(self, match: Match, ctx: PassContext) -> str | None:
        data = match.data
        x: gs.Tensor = data["x"]
        why = check_core(data, ctx.graph, [data["axes"]])
        if why:
            return why
        impl = rms_impl(ctx)
        if impl is None:
            return unbuildable(
                ctx, "RMSNorm", "RMSNormalization", emit.OPSET_RMSNORM, "--rmsnorm-impl"
            )
        if impl == "onnx" and ctx.opset < emit.OPSET_RMSNORM:
            return f"RMSNormalization needs opset {emit.OPSET_RMSNORM} (model has {ctx.opset})"
        why = normalized_dims(data, [data["gamma"][1]] if "gamma" in data else [])
        if why:
            return why
        dims = data["dims"]
        cast_node = data.get("cast")
        # the dtype the fused node computes in: the cast's target when the Cast is absorbed
        out_dtype = (
            emit.np_float(cast_node.outputs[0]) if cast_node is not None else emit.np_float(x)
        )
        data["out_dtype"] = out_dtype
        if "gamma" in data:
            fitted = fit_param(data["gamma"][1], dims, emit.np_float(x), tensor_rank(x))
            if fitted is None:
                match.nodes.remove(data.pop("gamma")[0])
            else:
                data["gamma_fit"] = fitted
        if dims is None and "gamma" not in data:
            return f"the normalized dims of '{x.name}' are not static (shape {x.shape})"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        data = match.data
        x: gs.Tensor = data["x"]
        fitted = data.get("gamma_fit")
        if isinstance(fitted, gs.Constant):
            scale = fitted
        elif fitted is not None:
            scale = ctx.constant("gamma", fitted)
        else:
            tail = data["dims"]
            scale = ctx.constant("gamma", emit.ones_like_tail(tail, emit.np_float(x), 1.0))
        onnx_op = "RMSNormalization" if rms_impl(ctx) == "onnx" else None
        replace_with_norm(ctx, match, [x, scale], onnx_op, "RMSNorm")


PASS = FuseRMSNorm
