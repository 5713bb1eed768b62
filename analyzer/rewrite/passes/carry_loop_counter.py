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

Skips (reported): a body that declares its iteration count of another type than INT64, or of a
shape holding more than one value. A loop whose scan outputs also need a trip limit keeps that
error (TensorRT cannot size them): the pass fixes the iteration count, not the sizes.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, parser_constant

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")


def has_trip_limit(node: gs.Node, top: gs.Graph) -> bool:
    """Whether the parser gives this Loop (of any graph of the model whose top-level graph is
    `top`) a trip limit: a trip count that is not a constant of NO_TRIP_LIMIT or more — an
    overridable initializer's default included, which the parser takes as weights (carrying
    the count computes the same whatever trip count is fed)."""
    from trtforge.analyzer.kb.ops.control_flow import NO_TRIP_LIMIT  # (not for `-h`)

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


def _shape(counter: gs.Tensor) -> list[int] | None:
    """The shape the body declares for its iteration count where it holds one value ([] when
    it declares none: ONNX's scalar), else None."""
    shape = counter.shape
    if shape is None:
        return []
    if all(isinstance(d, int) and d == 1 for d in shape):
        return list(shape)
    return None


class CarryLoopCounter(RewritePass):
    """See the module docstring."""

    id = "carry-loop-counter"
    summary = (
        "Loop bodies reading the iteration count of a loop without a trip limit (while loops) "
        "→ a loop-carried counter (TensorRT's parser registers the count only with a limit)"
    )
    order = 17

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        """Where `find` or `check` passes the Loop by (trt-check then names no fix)."""
        if node.op_type != "Loop":
            return None
        body = next((a.g for a in node.attribute if a.name == "body"), None)
        if body is None or len(body.input) < 2 or len(body.input) != len(node.input):
            return "the Loop's body does not take its iteration count, condition and values"
        if len(body.output) < len(node.input) - 1:
            return "the Loop's body has fewer outputs than its condition and carried values"
        counter = body.input[0].type.tensor_type
        if counter.elem_type not in (0, onnx.TensorProto.INT64):
            return "the body declares its iteration count of another type than INT64"
        dims = counter.shape.dim if counter.HasField("shape") else []
        if any(not d.HasField("dim_value") or d.dim_value != 1 for d in dims):
            return (
                "the body declares its iteration count of a shape that may hold more than one value"
            )
        return None

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
                if len(body.outputs) < len(node.inputs) - 1:
                    continue  # no condition output, or fewer than the carried values
                if has_trip_limit(node, ctx.graph) or not _reads(body, body.inputs[0]):
                    continue
                yield Match(anchor(node), [node])

    def check(self, match: Match, ctx: PassContext) -> str | None:
        counter = match.nodes[0].attrs["body"].inputs[0]
        if counter.dtype is not None and np.dtype(counter.dtype) != np.int64:
            return f"the body declares the iteration count '{counter.name}' {counter.dtype}"
        if _shape(counter) is None:
            return (
                f"the body declares the iteration count '{counter.name}' of shape "
                f"{counter.shape}, not one value"
            )
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        body: gs.Graph = node.attrs["body"]
        counter = body.inputs[0]  # every read of the count now reads the carried counter
        shape = _shape(counter)  # as the body declares it (a scalar, or [1] as some do)
        counter.dtype, counter.shape = np.int64, shape
        iteration = gs.Variable(ctx.unique("iteration"), dtype=np.int64, shape=[])
        following = gs.Variable(ctx.unique("counter_next"), dtype=np.int64, shape=shape)
        one = gs.Constant(ctx.unique("one"), np.array(1, dtype=np.int64))
        body.nodes.append(gs.Node("Add", ctx.unique("Add"), {}, [counter, one], [following]))
        body.inputs = [iteration, body.inputs[1], counter, *body.inputs[2:]]
        body.outputs = [body.outputs[0], following, *body.outputs[1:]]
        zero = gs.Constant(ctx.unique("zero"), np.zeros(shape, dtype=np.int64))
        final = gs.Variable(ctx.unique("iterations_run"), dtype=np.int64, shape=shape)
        inputs, outputs = list(node.inputs), list(node.outputs)
        node.inputs.clear()
        node.inputs.extend([*inputs[:2], zero, *inputs[2:]])
        node.outputs.clear()
        node.outputs.extend([final, *outputs])


PASS = CarryLoopCounter
