"""inference-batchnorm: BatchNormalization in training mode, or declaring its training outputs,
→ ops TensorRT parses.

TensorRT's importer takes only an inference-mode BatchNormalization with one output
("doesn't support more than 1 outputs", "training_mode == 1"). Exports from training code
(and NF-Net-style weight standardization, which runs BatchNormalization over constant weights)
have it in training mode: Y is normalized by the statistics of the batch itself.

Before → After::

    Y, rm, rv = BatchNormalization<training_mode=1>(X, scale, B, mean, var)   # opset 14/15
    Y, m, v, sm, sv = BatchNormalization(X, scale, B, mean, var)              # opset 6-13,
                                                        # extra outputs declared = training
        → μ = ReduceMean(X, [0, 2, …]);  σ² = ReduceMean((X - μ)², [0, 2, …])
          Y = (X - μ) / Sqrt(σ² + ε) · scale + B        (scale/B unsqueezed to [C, 1, …])
          rm = mean·momentum + μ·(1 - momentum), rv likewise with σ², only where used

    Y, rm, rv = BatchNormalization<training_mode=0>(…)   with rm/rv unused
        → Y = BatchNormalization(…) (one output)

Where X is a constant (weight standardization), `fold-constants` then folds the whole
subgraph away. Skips (reported): the opset-6-13 saved_mean/saved_var outputs are used
(onnxruntime-specific values); `spatial=0` (opset < 9); the input rank is unknown; extra
outputs of an inference-mode node are used.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, graph_output_names, tensor_rank
from trtforge.analyzer.rewrite.passes._ml_emit import Emit

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")


def _named(node: gs.Node, index: int) -> bool:
    return index < len(node.outputs) and bool(node.outputs[index].name)


def _used(node: gs.Node, index: int, graph: gs.Graph) -> bool:
    if not _named(node, index):
        return False
    out = node.outputs[index]
    return bool(out.outputs) or out.name in graph_output_names(graph)


def _training(node: gs.Node, opset: int) -> bool:
    """onnxruntime's reading: training_mode=1 (opset >= 14), or, before opset 14, any
    declared training output."""
    if opset >= 14:
        return bool(int(node.attrs.get("training_mode", 0)))
    return any(_named(node, i) for i in range(1, len(node.outputs)))


class InferenceBatchNorm(RewritePass):
    """Training-mode BatchNormalization → batch statistics as Reduce ops (or one output)."""

    id = "inference-batchnorm"
    summary = "BatchNormalization in training mode / with training outputs → inference-form ops"
    order = 15

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.op != "BatchNormalization" or node.domain not in ("", "ai.onnx", None):
                continue
            extra = any(_named(node, i) for i in range(1, len(node.outputs)))
            if extra or _training(node, ctx.opset):
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        graph = ctx.graph
        if ctx.opset < 7:
            return (
                f"opset {ctx.opset} BatchNormalization (consumed_inputs/is_test) is not rewritten"
            )
        if not _training(node, ctx.opset):
            used = [node.outputs[i].name for i in (1, 2) if _used(node, i, graph)]
            if used:
                return f"inference-mode node whose outputs {used} are used (invalid per ONNX)"
            return None
        if ctx.opset < 14 and any(_used(node, i, graph) for i in (3, 4)):
            return "saved_mean/saved_var are used (onnxruntime-specific values; not rebuilt)"
        if ctx.opset < 9 and int(node.attrs.get("spatial", 1)) == 0:
            return "spatial=0 (per-activation statistics) is not rewritten"
        rank = tensor_rank(node.inputs[0])
        if rank is None or rank < 2:
            return f"the rank of '{node.inputs[0].name}' is unknown or < 2 (rank {rank})"
        if node.inputs[0].dtype is not None and np.dtype(node.inputs[0].dtype).kind != "f":
            return f"input '{node.inputs[0].name}' is not a float tensor"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        graph = ctx.graph
        outs = list(node.outputs)
        used = [_used(node, i, graph) for i in range(len(outs))]
        training = _training(node, ctx.opset)
        detach(node)
        e = Emit(ctx)
        x, scale, bias, mean_in, var_in = node.inputs[:5]
        eps = float(node.attrs.get("epsilon", 1e-5))
        if not training:
            attrs = {"epsilon": eps, "momentum": float(node.attrs.get("momentum", 0.9))}
            ctx.node("BatchNormalization", node.inputs[:5], [outs[0]], attrs)
            return
        rank = tensor_rank(x)
        dtype = np.dtype(x.dtype) if x.dtype is not None else np.dtype(np.float32)
        axes = [0, *range(2, rank)]
        mean = e.reduce("ReduceMean", x, axes, 1)
        centred = e.op("Sub", x, mean)
        var = e.reduce("ReduceMean", e.op("Mul", centred, centred), axes, 1)
        std = e.op("Sqrt", e.op("Add", var, e.const(np.array(eps, dtype), base="epsilon")))
        tail = list(range(1, rank - 1))

        def per_channel(t: gs.Tensor) -> gs.Tensor:
            return e.unsqueeze(t, tail) if tail else t

        normed = e.op("Div", centred, std)
        scaled = e.op("Mul", normed, per_channel(scale))
        e.op("Add", scaled, per_channel(bias), out=outs[0])
        momentum = float(node.attrs.get("momentum", 0.9))
        for index, batch_stat, running in ((1, mean, mean_in), (2, var, var_in)):
            if index < len(outs) and used[index]:
                flat = e.op("Reshape", batch_stat, e.const(np.array([-1], np.int64)))
                kept = e.op("Mul", running, e.const(np.array(momentum, dtype), base="momentum"))
                new = e.op("Mul", flat, e.const(np.array(1 - momentum, dtype), base="momentum"))
                e.op("Add", kept, new, out=outs[index])


PASS = InferenceBatchNorm
