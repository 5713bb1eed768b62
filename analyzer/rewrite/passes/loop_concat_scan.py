"""loop-concat-scan: a Loop that grows a carried tensor by Concat each iteration → a scan output.

Scripted Python loops of the form `acc = torch.zeros(0, …); for i in range(n): acc =
torch.cat((acc, piece(i)))` (torchvision's Mask R-CNN mask pasting and Keypoint R-CNN
heatmap decoding) export as a Loop whose carried value changes shape every iteration. TensorRT
requires a loop-carried value (IRecurrenceLayer) to keep its shape ("IRecurrenceLayer must have
inputs with same shape … [0,64,64] and … [1,64,64]", TensorRT-RTX 1.7.1), so the build fails.
What the loop computes is the concatenation of every iteration's piece — exactly a Loop scan
output (TensorRT: a loop output that concatenates), reshaped:

Before::

    acc_final = Loop(n, cond, acc0 = Constant(<0 × d1 × … >),
                     body: acc_out = Concat<axis=0>(acc_in, piece))

After::

    stacked = Loop(n, cond, body: …, scan output piece)          # n × p0 × d1 × …
    acc_final = Reshape(stacked, [-1, d1, …])                     # (n·p0) × d1 × …

This is the same value whenever the loop runs (the initial value is empty, so the
concatenation starts with nothing; with no iteration both are 0 × d1 × …). Matching requires:
the initial value is a build-time constant with 0 rows and no other zero dim, the body's only
use of the carried value is that Concat (axis 0, two inputs, carried value first), and the
piece does not read it. Other carried values are kept as they are.

Skips (reported): none — a Loop that does not have this form is not a match.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, const_value, producer

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")


def _constant_shape(tensor: gs.Tensor) -> tuple[int, ...] | None:
    """The shape of a build-time constant: an initializer, a Constant node, or ConstantOfShape
    of a constant shape (a Concat of constants counts: the exporter writes torch.zeros((0, k,
    3)) that way)."""
    value = const_value(tensor)
    if value is not None:
        return tuple(np.shape(value))
    node = producer(tensor)
    if node is not None and node.op == "Constant" and "value" in node.attrs:
        return tuple(np.shape(node.attrs["value"].values))
    if node is not None and node.op == "ConstantOfShape" and node.inputs:
        dims = _constant_ints(node.inputs[0])
        return None if dims is None else tuple(dims)
    return None


def _constant_ints(tensor: gs.Tensor) -> list[int] | None:
    value = const_value(tensor)
    if value is not None:
        return [int(v) for v in np.asarray(value).reshape(-1)]
    node = producer(tensor)
    if node is not None and node.op == "Constant" and "value" in node.attrs:
        return [int(v) for v in np.asarray(node.attrs["value"].values).reshape(-1)]
    if node is not None and node.op in ("Unsqueeze", "Squeeze", "Reshape", "Identity"):
        return _constant_ints(node.inputs[0])
    if node is not None and node.op == "Concat" and node.inputs:
        parts = [_constant_ints(t) for t in node.inputs]
        return None if any(p is None for p in parts) else [v for p in parts for v in p]
    return None


def _empty_rows(tensor: gs.Tensor) -> tuple[int, ...] | None | bool:
    """For a build-time-empty initial value: its shape when fully known (0 rows, no other zero
    dim), True when only "0 rows" is known (ConstantOfShape of a shape whose first entry is a
    constant 0), else None."""
    shape = _constant_shape(tensor)
    if shape is not None:
        return shape if len(shape) >= 1 and shape[0] == 0 and 0 not in shape[1:] else None
    node = producer(tensor)
    if node is None or node.op != "ConstantOfShape" or not node.inputs:
        return None
    dims = node.inputs[0]
    first = producer(dims)
    head = _constant_ints(first.inputs[0]) if first is not None and first.op == "Concat" else None
    return True if head and head[0] == 0 else None


def _no_op_cast(tensor: gs.Tensor) -> bool:
    """`tensor`'s one use is a Cast (or Identity) that leaves it as it is."""
    if len(tensor.outputs) != 1:
        return False
    user = tensor.outputs[0]
    if user.op == "Identity":
        return True
    to = user.attrs.get("to")
    return (
        user.op == "Cast"
        and tensor.dtype is not None
        and to is not None
        and np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(to))) == np.dtype(tensor.dtype)
    )


def _grown(body: gs.Graph, k: int) -> gs.Node | None:
    """The Concat that makes carried value k's next value from it and a piece, if that is all
    the body does with it."""
    carried, nxt = body.inputs[2 + k], body.outputs[1 + k]
    concat = producer(nxt)
    if concat is None or concat.op != "Concat" or len(concat.inputs) != 2:
        return None
    axis = concat.attrs.get("axis", 0)
    rank = len(carried.shape) if carried.shape is not None else None
    if not (axis == 0 or (rank is not None and axis == -rank)):
        return None
    first = carried
    while list(first.outputs) != [concat] and _no_op_cast(first):
        first = first.outputs[0].outputs[0]
    if concat.inputs[0] is not first or list(first.outputs) != [concat]:
        return None
    if nxt in body.outputs[: 1 + k] + body.outputs[2 + k :] or len(nxt.outputs) > 0:
        return None
    return concat


def _depends(tensor: gs.Tensor, source: gs.Tensor) -> bool:
    """Whether `tensor` is computed from `source` (inside one graph)."""
    seen: set[int] = set()
    todo = [tensor]
    while todo:
        t = todo.pop()
        if t is source:
            return True
        if id(t) in seen:
            continue
        seen.add(id(t))
        for node in t.inputs:
            todo += list(node.inputs)
            for value in node.attrs.values():  # a nested subgraph may read it too
                if isinstance(value, gs.Graph) and source in _outer_reads(value):
                    return True
    return False


def _reads_from(name: str, source: str, producers: dict) -> bool:
    """Whether body value `name` is computed from `source` (by the body's nodes, nested
    bodies included) — on the model's protos, for `LoopConcatScan.leaves`."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        value = todo.pop()
        if value == source:
            return True
        if value in seen:
            continue
        seen.add(value)
        node = producers.get(value)
        if node is None:
            continue
        todo.extend(i for i in node.input if i)
        for attr in node.attribute:
            for body in [attr.g] if attr.HasField("g") else list(attr.graphs):
                if any(source in inner.input for inner in body.node):
                    return True
    return False


def _read_elsewhere(body, source: str, concat) -> bool:
    """Whether a node of `body` other than `concat` (nested bodies included) reads `source`,
    or a body output is `source` itself."""
    if any(out.name == source for out in body.output):
        return True
    for node in body.node:
        if node is not concat and source in node.input:
            return True
        for attr in node.attribute:
            for inner in [attr.g] if attr.HasField("g") else list(attr.graphs):
                if _read_elsewhere(inner, source, None):
                    return True
    return False


def _outer_reads(graph: gs.Graph) -> list[gs.Tensor]:
    return [t for n in graph.nodes for t in n.inputs]


class LoopConcatScan(RewritePass):
    id = "loop-concat-scan"
    order = 17
    summary = (
        "Loop whose carried tensor grows by Concat each iteration -> a scan output + Reshape "
        "(TensorRT needs loop-carried values of one shape)"
    )
    advice = Advice(
        "Loop growing a carried tensor by Concat",
        "a Loop scan output and a Reshape",
        frozenset({"Loop"}),
        why="TensorRT requires a loop-carried value to keep its shape: the build fails",
    )

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        """Why the pass leaves this Loop, where the node and its graph show it for sure: each
        carried value grown by Concat starts from no empty build-time constant (a constant
        with rows, an input, a value computed at run time) or grows by a piece computed from
        itself. Otherwise None (the pass decides)."""
        if node.op_type != "Loop" or graph is None:
            return None
        body = next((a.g for a in node.attribute if a.name == "body" and a.HasField("g")), None)
        carried = len(node.input) - 2
        if body is None or carried < 1 or len(body.input) != carried + 2:
            return None
        producers = {o: n for n in body.node for o in n.output if o}
        reasons = []
        for k in range(min(carried, len(body.output) - 1)):
            concat = producers.get(body.output[1 + k].name)
            source = body.input[2 + k].name
            if concat is None or concat.op_type != "Concat" or source not in concat.input:
                continue
            initial = node.input[2 + k]
            start = graph.constant_value(initial) if initial else None
            made_by = graph.producer(initial) if initial and start is None else None
            if start is not None and start.ndim >= 1 and start.shape[0] != 0:
                reasons.append(f"carried value {k} starts with {start.shape[0]} row(s)")
            elif initial and start is None and made_by is None:
                reasons.append(f"carried value {k} starts from an input, not an empty constant")
            elif made_by is not None and made_by.op_type not in ("Constant", "ConstantOfShape"):
                reasons.append(
                    f"carried value {k} starts from a {made_by.op_type}, not an empty constant"
                )
            elif len(concat.input) != 2:
                reasons.append(f"carried value {k} grows by a Concat of {len(concat.input)} inputs")
            elif concat.input[0] != source and concat.input[1] == source:
                reasons.append(f"carried value {k} comes after the piece (a prepend)")
            elif _reads_from(concat.input[1], source, producers):
                reasons.append(f"carried value {k} grows by a piece computed from itself")
            elif concat.input[0] == source and _read_elsewhere(body, source, concat):
                reasons.append(f"the body reads carried value {k} besides growing it")
            else:
                return None  # a candidate: `check` decides
        return "; ".join(reasons) if reasons else None

    def find(self, ctx: PassContext):
        for node in ctx.graph.nodes:
            if node.op != "Loop" or (node.domain or "") not in ("", "ai.onnx"):
                continue
            body = node.attrs.get("body")
            if not isinstance(body, gs.Graph) or len(body.inputs) != len(node.inputs):
                continue
            if len(node.outputs) < len(node.inputs) - 2:
                continue  # a final value left out: the graph is not one this pass reads
            if not node.inputs[0].name:
                continue  # no trip count: TensorRT cannot size a scan output (tf.while_loop)
            grown = []
            for k in range(len(node.inputs) - 2):
                shape = _empty_rows(node.inputs[2 + k])
                concat = _grown(body, k) if shape is not None else None
                if shape is True and ctx.opset < 10:
                    continue  # the row shape is read at run time with Slice-10
                if concat is not None and not _depends(concat.inputs[1], body.inputs[2 + k]):
                    grown.append((k, shape, concat))
            if grown:
                yield Match(anchor(node), [node], {"grown": grown})

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        body: gs.Graph = node.attrs["body"]
        grown = match.data["grown"]
        carried_count = len(node.inputs) - 2
        finals = list(node.outputs[:carried_count])
        scans = list(node.outputs[carried_count:])
        keep = [k for k in range(carried_count) if k not in {g[0] for g in grown}]
        new_scans, reshapes = [], []
        for k, shape, concat in grown:
            piece = concat.inputs[1]
            if producer(piece) is None or producer(piece) not in body.nodes:
                out = gs.Variable(ctx.unique("piece"), dtype=piece.dtype)
                body.nodes.append(gs.Node("Identity", ctx.unique("Identity"), {}, [piece], [out]))
                piece = out
            concat.outputs.clear()
            body.nodes.remove(concat)
            new_scans.append(piece)
            stacked = ctx.variable("stacked", dtype=finals[k].dtype)
            reshapes.append((stacked, finals[k], shape))
        body_in, body_out = list(body.inputs), list(body.outputs)
        body.inputs = body_in[:2] + [body_in[2 + k] for k in keep]
        body.outputs = (
            body_out[:1] + [body_out[1 + k] for k in keep] + body_out[1 + carried_count :]
        )
        body.outputs += new_scans
        inputs = list(node.inputs)
        initials = [inputs[2 + k] for k, _, _ in grown]
        node.inputs.clear()
        node.inputs.extend(inputs[:2] + [inputs[2 + k] for k in keep])
        node.outputs.clear()
        node.outputs.extend([finals[k] for k in keep] + scans + [r[0] for r in reshapes])
        for (stacked, final, shape), initial in zip(reshapes, initials, strict=True):
            minus_one = ctx.constant("rows", np.array([-1], dtype=np.int64))
            if shape is True:  # the row shape of the initial value, at run time
                full = ctx.node("Shape", [initial], [ctx.variable("shape", np.int64)]).outputs[0]
                starts = ctx.constant("starts", np.array([1], dtype=np.int64))
                ends = ctx.constant("ends", np.array([np.iinfo(np.int64).max], dtype=np.int64))
                rest = ctx.node(
                    "Slice", [full, starts, ends], [ctx.variable("row_shape", np.int64)]
                )
                target = ctx.variable("target", np.int64)
                ctx.node("Concat", [minus_one, rest.outputs[0]], [target], {"axis": 0})
            else:
                target = ctx.constant("shape", np.array([-1, *shape[1:]], dtype=np.int64))
            ctx.node("Reshape", [stacked, target], [final])


PASS = LoopConcatScan
