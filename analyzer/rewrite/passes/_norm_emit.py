"""What the LayerNorm and RMSNorm fusions share once a pattern is accepted: replacing it.

The pattern's last node is detached and the fused node produces its output: the standard ONNX
op, or the trtforge plugin node. In an FP16 model whose norm was computed in float32 (a Cast
island), the fused node computes in the input's type and a Cast restores the output's type.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Match, PassContext, detach

gs = lazy_import("onnx_graphsurgeon")


def replace_with_norm(
    ctx: PassContext, match: Match, inputs: list[gs.Tensor], onnx_op: str | None, plugin: str
) -> None:
    """Replaces the matched pattern with one normalization node.

    Args:
        ctx: the pass context.
        match: the accepted match; `match.data` holds `x`, `axis`, `eps` and maybe `cast`.
        inputs: the fused node's inputs (x, scale[, bias]).
        onnx_op: the standard op to emit (e.g. "LayerNormalization"), or None for the plugin.
        plugin: the trtforge plugin's name, emitted when `onnx_op` is None.
    """
    data = match.data
    x: gs.Tensor = data["x"]
    last = match.nodes[-1]
    out = last.outputs[0]
    detach(last)
    cast_node = data.get("cast")
    norm_out = out
    if cast_node is not None:
        norm_out = ctx.variable("normalized", dtype=emit.np_float(x), shape=x.shape)
    if onnx_op is not None:
        ctx.node(onnx_op, inputs, [norm_out], {"axis": data["axis"], "epsilon": data["eps"]})
    else:
        emit.plugin_node(ctx, plugin, inputs, [norm_out], epsilon=data["eps"], axis=data["axis"])
    if cast_node is not None:
        ctx.node("Cast", [norm_out], [out], {"to": cast_node.attrs["to"]})


def unbuildable(ctx: PassContext, plugin: str, onnx_op: str, opset: int, option: str) -> str:
    """The skip reason of a norm that `--…-impl auto` leaves decomposed: the trtforge `plugin`'s
    kernels are not built in this install (`emit.plugin_built`), and `onnx_op` (opset `opset`)
    is not written at the model's opset for this target; `option` onnx says how to get it."""
    return (
        f"the trtforge {plugin} plugin's kernels are not built in this install, and {onnx_op} "
        f"is not written at the model's opset {ctx.opset} for {ctx.target.id} ({option} onnx "
        f"converts the model to opset {opset})"
    )
