"""carry-loop-counter: a Loop body that reads its iteration count, in a loop the parser gives no
trip limit → the same count carried by the loop itself.

TensorRT's parser registers a Loop body's iteration count only for a loop with a trip limit,
and it sets none when the trip count is absent or a constant of 2^31 - 1 or more (knowledge
base `loop/iteration-count-without-trip-count`, `kb/ops/control_flow.NO_TRIP_LIMIT`). Those
are the loops that only their condition ends: TorchScript's `while` and tf2onnx's
`tf.while_loop` export them with a trip count of INT64_MAX, tf2onnx also with none. Their
bodies often read the count (`i < n`, an index into a tensor), and the parse fails ("Node input
was not registered").

The iteration count is the number of iterations already run, which a loop-carried value
starting at 0 and incremented by 1 each iteration holds as well:

Before::

    final = Loop(M, cond, v0, body: (i, c, v) -> (c2, v2) { ... reads i ... })

After::

    n, final = Loop(M, cond, 0, v0,
                    body: (iteration, c, i, v) -> (c2, i + 1, v2) { ... reads i ... })

The body's reads of `i` (nested bodies included) stay as they are: the value named `i` is now
the carried counter, and the unread iteration count gets a new name. The new final value `n`
(the number of iterations run) is an extra output nothing reads. The values are the same
whenever the loop runs, so verification compares them exactly.

Skips: none. A loop whose scan outputs also need a trip limit keeps that error (TensorRT
cannot size them): the pass fixes the iteration count, not the sizes.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops.control_flow import NO_TRIP_LIMIT
from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, parser_constant

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")


def has_trip_limit(node: gs.Node, top: gs.Graph) -> bool:
    """Whether the parser gives this Loop (of any graph of the model whose top-level graph is
    `top`) a trip limit: a trip count that is not a constant of NO_TRIP_LIMIT or more — an
    overridable initializer's default included, which the parser takes as weights (carrying
    the count computes the same whatever trip count is fed)."""
    if not node.inputs or not node.inputs[0].name:
        return False
    value = parser_constant(top, node.inputs[0])
    if value is None or value.size != 1 or value.dtype.kind not in "iu":
        return True
    return int(value.reshape(-1)[0]) < NO_TRIP_LIMIT


def _reads(graph: gs.Graph, tensor: gs.Tensor) -> bool:
    """Whether `graph` (its nodes, nested bodies, outputs) reads `tensor`."""
    if any(out is tensor for out in graph.outputs):
        return True
    for node in graph.nodes:
        if any(t is tensor for t in node.inputs):
            return True
        for value in node.attrs.values():
            bodies = value if isinstance(value, list) else [value]
            if any(isinstance(b, gs.Graph) and _reads(b, tensor) for b in bodies):
                return True
    return False


class CarryLoopCounter(RewritePass):
    """See the module docstring."""

    id = "carry-loop-counter"
    summary = (
        "Loop bodies reading the iteration count of a loop without a trip limit (while loops) "
        "→ a loop-carried counter (TensorRT's parser registers the count only with a limit)"
    )
    order = 17

    def find(self, ctx: PassContext):
        for graph in [ctx.graph, *ctx.graph.subgraphs(recursive=True)]:
            for node in list(graph.nodes):
                if node.op != "Loop" or (node.domain or "") not in ("", "ai.onnx"):
                    continue
                body = node.attrs.get("body")
                if not isinstance(body, gs.Graph) or len(body.inputs) < 2:
                    continue
                if len(node.inputs) < 2 or len(body.inputs) != len(node.inputs):
                    continue  # (an invalid Loop: validity reports it)
                if has_trip_limit(node, ctx.graph) or not _reads(body, body.inputs[0]):
                    continue
                yield Match(anchor(node), [node], {"graph": graph})

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        body: gs.Graph = node.attrs["body"]
        counter = body.inputs[0]  # every read of the count now reads the carried counter
        counter.dtype, counter.shape = np.int64, []
        iteration = gs.Variable(ctx.unique("iteration"), dtype=np.int64, shape=[])
        following = gs.Variable(ctx.unique("counter_next"), dtype=np.int64, shape=[])
        one = gs.Constant(ctx.unique("one"), np.array(1, dtype=np.int64))
        body.nodes.append(gs.Node("Add", ctx.unique("Add"), {}, [counter, one], [following]))
        body.inputs = [iteration, body.inputs[1], counter, *body.inputs[2:]]
        body.outputs = [body.outputs[0], following, *body.outputs[1:]]
        zero = gs.Constant(ctx.unique("zero"), np.array(0, dtype=np.int64))
        final = gs.Variable(ctx.unique("iterations_run"), dtype=np.int64, shape=[])
        inputs, outputs = list(node.inputs), list(node.outputs)
        node.inputs.clear()
        node.inputs.extend([*inputs[:2], zero, *inputs[2:]])
        node.outputs.clear()
        node.outputs.extend([final, *outputs])


PASS = CarryLoopCounter
