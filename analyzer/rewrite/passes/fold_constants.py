"""fold-constants: fold everything computable at build time, then drop no-op nodes.

Folding is onnx-graphsurgeon's `Graph.fold_constants` (evaluated with onnxruntime), with
`fold_shapes=True`: `Shape` of a tensor whose shape is static, and the arithmetic on it
(Gather, Concat, Mul, ...), become initializers. This is the fix for "input must be a
build-time constant" findings.

Before::

    k = Div(Gather(Shape(x), 1), 2)         # x: float[2, 8]
    v, i = TopK(x, Unsqueeze(k, 0))
    y = Identity(Dropout(Cast<to=FLOAT>(z)))   # z: float
    r = Reshape(w, [2, 8])                      # w: float[2, 8]

After::

    v, i = TopK(x, [4])
    y = z
    r = w

Initializers that nothing reads are dropped (the parser imports every initializer, and one of a
type it cannot import, INT16 or STRING say, fails the parse).

Skips (reported): a no-op whose output is a graph output while its input cannot take the
output's name (a graph input, an initializer, or a tensor read elsewhere); a Dropout in
training mode or whose mask is used; a tensor read inside a subgraph. Constants whose data is
external (not loaded) are not folded, nor random ops (RandomNormal, Bernoulli, ...: their
output is drawn again on every run).
"""

from __future__ import annotations

import logging

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOutcome, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, graph_output_names, is_lazy_external, scalar

onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

log = logging.getLogger("trtforge.rewrite")


def _signature(graph: gs.Graph) -> tuple:
    return tuple(
        (n.op, tuple(t.name for t in n.inputs), tuple(t.name for t in n.outputs))
        for n in graph.nodes
    )


def _not_folded(node: gs.Node) -> bool:
    """Nodes folding must leave: those reading a constant whose data is in an external file
    (a model's weights are never loaded to be folded), and those whose output is not a
    function of their inputs (RandomNormal, Bernoulli, ...: folded, the noise the model draws
    on every run would be one fixed tensor, and verification, whose sessions draw alike,
    would not notice)."""
    from trtforge.analyzer.graph import draws_random  # (pass discovery imports no numpy)

    training = node.inputs[2] if node.op == "Dropout" and len(node.inputs) > 2 else None
    mode = scalar(training) if training is not None and training.name else 0.0
    if draws_random(node.op, node.domain, mode):
        return True
    return any(isinstance(t, gs.Constant) and is_lazy_external(t) for t in node.inputs)


def _subgraph_names(graph: gs.Graph) -> set[str]:
    """Names of outer tensors read inside any subgraph (If/Loop/Scan bodies)."""
    names: set[str] = set()
    for node in graph.nodes:
        for value in node.attrs.values():
            bodies = [value] if isinstance(value, gs.Graph) else []
            if isinstance(value, list):
                bodies = [v for v in value if isinstance(v, gs.Graph)]
            for body in bodies:
                for inner in body.nodes:
                    names.update(t.name for t in inner.inputs)
    return names


def _no_op_input(node: gs.Node) -> gs.Tensor | None:
    """The input a no-op node passes through unchanged, or None if the node is not a no-op."""
    if node.domain not in ("", "ai.onnx", None) or not node.inputs or not node.outputs:
        return None
    x, y = node.inputs[0], node.outputs[0]
    if node.op == "Identity":
        return x
    if node.op == "Dropout":
        training = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
        if training is not None and scalar(training) != 0.0:
            return None
        return x
    if node.op == "Cast":
        if x.dtype is None:
            return None
        try:
            same = onnx.helper.np_dtype_to_tensor_dtype(x.dtype) == node.attrs.get("to")
        except (TypeError, KeyError, ValueError):
            return None
        return x if same else None
    if node.op == "Reshape":
        shape = x.shape
        if (
            shape is None
            or y.shape is None
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            return None
        if not isinstance(node.inputs[1], gs.Constant) and not (
            node.inputs[1].inputs and node.inputs[1].inputs[0].op == "Constant"
        ):
            return None
        return x if list(y.shape) == list(shape) else None
    return None


class FoldConstants(RewritePass):
    """Constant folding (graphsurgeon + onnxruntime) and removal of no-op nodes."""

    id = "fold-constants"
    summary = (
        "fold build-time constants (incl. static shape arithmetic); "
        "drop Identity/Dropout/no-op Cast/Reshape"
    )
    order = 20

    def run(self, ctx: PassContext) -> PassOutcome:
        graph = ctx.graph
        before = _signature(graph)
        graph.toposort()
        graph.fold_constants(fold_shapes=True, error_ok=True, should_exclude_node=_not_folded)
        graph.cleanup()
        folded = _signature(graph) != before
        outcome = super().run(ctx)
        if folded:
            outcome.changed = True
            outcome.applied += 1
        if ctx.unused_initializers:  # dropped when the graph is written out
            outcome.changed = outcome.attributes_changed = True
            outcome.applied += 1
            ctx.note(f"dropped {len(ctx.unused_initializers)} unused initializer(s)")
        return outcome

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            x = _no_op_input(node)
            if x is not None:
                yield Match(anchor=anchor(node), nodes=[node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node = match.nodes[0]
        x, y = node.inputs[0], node.outputs[0]  # fresh: an earlier rewrite may have rewired x
        outputs = graph_output_names(ctx.graph)
        if (
            node.op == "Dropout"
            and len(node.outputs) > 1
            and (node.outputs[1].outputs or node.outputs[1].name in outputs)
        ):
            return "the Dropout mask output is used"
        if y.name in _subgraph_names(ctx.graph):
            return f"output '{y.name}' is read inside a subgraph"
        if y.name in outputs:
            producer = x.inputs[0] if x.inputs else None
            if (
                producer is None
                or isinstance(x, gs.Constant)
                or len(x.outputs) != 1
                or x.name in outputs
                or any(x is t for t in ctx.graph.inputs)
            ):
                return f"output '{y.name}' is a graph output and '{x.name}' cannot take its name"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        x, y = node.inputs[0], node.outputs[0]
        if y.name in graph_output_names(ctx.graph):
            producer = x.inputs[0]
            index = next(i for i, t in enumerate(producer.outputs) if t is x)
            detach(node)
            node.inputs.clear()
            producer.outputs[index] = y
            return
        for consumer in list(y.outputs):
            for i, t in enumerate(consumer.inputs):
                if t is y:
                    consumer.inputs[i] = x
        detach(node)


PASS = FoldConstants
