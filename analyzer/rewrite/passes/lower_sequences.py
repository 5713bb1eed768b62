"""lower-sequences: sequence ops whose lengths and positions are build-time constants → tensors.

TensorRT has no sequence type. Where every sequence a consumer reads is built from known
pieces (SplitToSequence of a static dim, SequenceConstruct, SequenceEmpty, SequenceInsert/
SequenceErase at constant positions), the sequence is just a list of tensors and its
consumers become tensor ops:

Before → After::

    s = SplitToSequence<axis=1>(x, [2, 3])   → a, b = Split<axis=1>(x, [2, 3])
    s = SplitToSequence<axis=0, keepdims=0>(x) → Split into 1s, then Squeeze each
    s = SequenceConstruct(a, b, c)           → [a, b, c]
    s2 = SequenceInsert(s, t, 1)             → [a, t, b, c]      (position constant)
    s3 = SequenceErase(s2, -1)               → [a, t, b]
    y = SequenceAt(s3, 1)                    → y = Identity(t)
    n = SequenceLength(s3)                   → n = Identity(3)   (fold-constants folds it)
    y = ConcatFromSequence<axis=1>(s3)       → y = Concat<axis=1>(a, t, b)
    y = ConcatFromSequence<axis=1, new_axis=1>(s3) → Concat of Unsqueeze(·, 1)

    s = SplitToSequence<axis=0>(x, sp)       → piece i = Slice(x, starts[i], ends[i], [0]),
        (sp: int64[3] computed at run time)     ends = CumSum(sp), starts = ends - sp

The sequence producers disappear once nothing reads their sequences. Skips (reported): a
sequence produced by something else (Loop, If, a graph input, SequenceMap, …); a position that
is not a build-time constant or is out of range; a SplitToSequence whose dim along the axis is
not static (without split sizes), or whose split sizes are neither constant nor a 1-D tensor
of static length (the number of pieces).
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import PassContext, PassOutcome, RewritePass, Skip, detach
from trtforge.analyzer.rewrite.graphutil import anchor, const_value, tensor_rank
from trtforge.analyzer.rewrite.passes._ml_emit import Emit

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

#: sequence ops whose result is a sequence (tracked) and ops that read one (rewritten).
PRODUCERS = (
    "SplitToSequence",
    "SequenceConstruct",
    "SequenceEmpty",
    "SequenceInsert",
    "SequenceErase",
)
CONSUMERS = ("SequenceAt", "SequenceLength", "ConcatFromSequence")

Pieces = list["gs.Tensor"]


def _position(tensor: gs.Tensor | None) -> int | None | str:
    """The constant integer position, None when absent, or a reason."""
    if tensor is None or not tensor.name:
        return None
    value = const_value(tensor)
    if value is None or np.asarray(value).size != 1:
        return f"position '{tensor.name}' is not a build-time constant scalar"
    return int(np.asarray(value).reshape(-1)[0])


def _input(node: gs.Node, index: int) -> gs.Tensor | None:
    if index < len(node.inputs) and node.inputs[index].name:
        return node.inputs[index]
    return None


class LowerSequences(RewritePass):
    """Sequences of statically known length → lists of tensors; their consumers → tensor ops."""

    id = "lower-sequences"
    summary = "sequence ops with build-time lengths/positions → Split/Concat/Identity/constants"
    order = 14
    removes = frozenset(("", op) for op in PRODUCERS + CONSUMERS)

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        """A sequence op in a body (the pass lowers the graph's own sequences), or one whose
        sequence comes from something other than known pieces (a Loop's `list.append`, an
        If, a graph input): trt-check then names no fix for it."""
        if node.op_type not in PRODUCERS + CONSUMERS or graph is None:
            return None
        if getattr(graph, "outer", None) is not None:
            return "the sequence is a body's (the pass lowers the graph's own sequences)"
        if node.op_type in PRODUCERS:  # lowered once nothing but lowered ops reads it
            readers = graph.consumers.get(node.output[0], []) if node.output else []
            lowered = (*PRODUCERS, *CONSUMERS, "Identity")
            other = next((r for r in readers if r.op_type not in lowered), None)
            if other is not None or (node.output and graph.is_graph_output(node.output[0])):
                what = other.op_type if other is not None else "the graph's output"
                return f"its sequence goes to {what}, which the pass does not lower"
        seq = node.input[0] if node.op_type not in ("SequenceConstruct", "SequenceEmpty") else ""
        for _ in range(10_000):  # SequenceInsert/Erase chains up to where the sequence starts
            if not seq:
                return None
            source = graph.producer(seq)
            if source is None:
                return f"sequence '{seq}' is a graph input or a body's, not from known pieces"
            if source.op_type in ("SplitToSequence", "SequenceConstruct", "SequenceEmpty"):
                return None
            if source.op_type not in ("SequenceInsert", "SequenceErase", "Identity"):
                return f"sequence '{seq}' comes from {source.op_type}, not from known pieces"
            seq = source.input[0] if source.input else ""
        return None

    def run(self, ctx: PassContext) -> PassOutcome:
        outcome = PassOutcome()
        e = Emit(ctx)
        # sequence name -> a producer node whose pieces are built on first use (so that a
        # sequence nothing lowerable reads adds no node), then its pieces or why unknown
        known: dict[str, gs.Node | Pieces | str] = {}
        count = len(ctx.graph.nodes)
        for node in list(ctx.graph.nodes):
            if node.domain not in ("", "ai.onnx", None):
                continue
            if node.op in PRODUCERS:
                known[node.outputs[0].name] = node
            elif node.op == "Identity" and node.inputs and node.inputs[0].name in known:
                known[node.outputs[0].name] = known[node.inputs[0].name]  # the same sequence
            elif node.op in CONSUMERS:
                reason = self._consume(node, known, e, ctx)
                if reason is None:
                    outcome.applied += 1
                    outcome.changed = True
                else:
                    outcome.skips.append(Skip(anchor(node), reason))
        if len(ctx.graph.nodes) != count:  # pieces built for a consumer that then declined
            outcome.changed = True  # the manager's cleanup removes them
        return outcome

    # -- sequences ----------------------------------------------------------------------------
    def _pieces(self, seq: gs.Tensor, known: dict, e: Emit, ctx: PassContext) -> Pieces | str:
        value = known.get(seq.name)
        if value is None:
            producer = seq.inputs[0].op if seq.inputs else "a graph input"
            return f"sequence '{seq.name}' comes from {producer}, not from known pieces"
        if isinstance(value, gs.Node):
            node, value = value, self._produce(value, known, e, ctx)
            for name, entry in list(known.items()):  # its Identity copies share the pieces
                if entry is node:
                    known[name] = value
        return value

    def _produce(self, node: gs.Node, known: dict, e: Emit, ctx: PassContext) -> Pieces | str:
        if node.op == "SequenceConstruct":
            return list(node.inputs)
        if node.op == "SequenceEmpty":
            return []
        if node.op == "SplitToSequence":
            return self._split(node, e, ctx)
        base = self._pieces(node.inputs[0], known, e, ctx)
        if isinstance(base, str):
            return base
        pieces = list(base)
        if node.op == "SequenceInsert":
            at = _position(_input(node, 2))
            if isinstance(at, str):
                return at
            at = len(pieces) if at is None else at
            if not -len(pieces) <= at <= len(pieces):
                return f"insert position {at} is outside a sequence of {len(pieces)}"
            pieces.insert(at if at >= 0 else at + len(pieces), node.inputs[1])
            return pieces
        at = _position(_input(node, 1))  # SequenceErase
        if isinstance(at, str):
            return at
        at = -1 if at is None else at
        if not -len(pieces) <= at < len(pieces):
            return f"erase position {at} is outside a sequence of {len(pieces)}"
        del pieces[at]
        return pieces

    def _split(self, node: gs.Node, e: Emit, ctx: PassContext) -> Pieces | str:
        x = node.inputs[0]
        axis = int(node.attrs.get("axis", 0))
        rank = tensor_rank(x)
        if rank is None:
            return f"the rank of '{x.name}' is unknown"
        axis = axis + rank if axis < 0 else axis
        size = x.shape[axis] if x.shape is not None else None
        split_in = _input(node, 1)
        squeeze = False
        if split_in is None:
            if not isinstance(size, int):
                return f"dim {axis} of '{x.name}' is not static ({size})"
            sizes = [1] * size
            squeeze = not int(node.attrs.get("keepdims", 1))
        else:
            split = const_value(split_in)
            if split is None:
                return self._runtime_split(x, split_in, axis, e, ctx)
            split = np.asarray(split).astype(np.int64)
            if split.ndim == 0:
                if not isinstance(size, int):
                    return f"dim {axis} of '{x.name}' is not static ({size})"
                chunk = int(split)
                if chunk <= 0:
                    return f"split size {chunk} is not positive"
                sizes = [chunk] * (size // chunk) + ([size % chunk] if size % chunk else [])
            else:
                sizes = [int(v) for v in split]
        if not sizes:
            return []
        if len(sizes) == 1:
            pieces = [e.op("Identity", x)]
        else:
            pieces = [ctx.variable("piece", dtype=x.dtype) for _ in sizes]
            sizes_t = np.array(sizes, np.int64)
            if ctx.opset >= 13:
                ctx.node("Split", [x, e.const(sizes_t, base="split")], pieces, {"axis": axis})
            else:
                ctx.node("Split", [x], pieces, {"axis": axis, "split": sizes})
        if squeeze:
            if ctx.opset >= 13:
                axes = e.const(np.array([axis], np.int64), base="axes")
                pieces = [e.op("Squeeze", p, axes) for p in pieces]
            else:
                pieces = [e.op("Squeeze", p, axes=[axis]) for p in pieces]
        return pieces

    def _runtime_split(
        self, x: gs.Tensor, split: gs.Tensor, axis: int, e: Emit, ctx: PassContext
    ) -> Pieces | str:
        """Split sizes computed at run time: their count (a static 1-D length) is the number of
        pieces; each piece is a Slice between the running sums of the sizes."""
        shape = split.shape
        if shape is None or len(shape) != 1 or not isinstance(shape[0], int):
            return (
                f"split '{split.name}' is not a build-time constant and its length (the number "
                f"of pieces) is not static ({shape})"
            )
        if ctx.opset < 11:
            return f"split '{split.name}' is computed at run time and CumSum needs opset 11"
        ends = e.op("CumSum", split, e.const(np.array(0, np.int64), base="axis"))
        starts = e.op("Sub", ends, split)
        axes = e.const(np.array([axis], np.int64), base="axes")
        pieces = []
        for i in range(shape[0]):
            at = e.const(np.array([i], np.int64), base="index")
            begin, end = e.op("Gather", starts, at, axis=0), e.op("Gather", ends, at, axis=0)
            pieces.append(e.op("Slice", x, begin, end, axes))
        return pieces

    # -- consumers ----------------------------------------------------------------------------
    def _consume(self, node: gs.Node, known: dict, e: Emit, ctx: PassContext) -> str | None:
        if node.op == "SequenceAt" and isinstance(_position(_input(node, 1)), str):
            return _position(_input(node, 1))  # before building any piece
        pieces = self._pieces(node.inputs[0], known, e, ctx)
        if isinstance(pieces, str):
            return pieces
        out = node.outputs[0]
        if node.op == "SequenceAt":
            at = _position(_input(node, 1))
            if at is None:
                return "SequenceAt without a position"
            if isinstance(at, str):
                return at
            if not -len(pieces) <= at < len(pieces):
                return f"position {at} is outside a sequence of {len(pieces)}"
            detach(node)
            e.op("Identity", pieces[at], out=out)
            return None
        if node.op == "SequenceLength":
            detach(node)
            e.op("Identity", e.const(np.array(len(pieces), np.int64), base="length"), out=out)
            return None
        if not pieces:
            return "ConcatFromSequence of an empty sequence"
        axis = int(node.attrs["axis"]) if "axis" in node.attrs else 0
        if int(node.attrs.get("new_axis", 0)):
            pieces = [e.unsqueeze(p, [axis]) for p in pieces]
        detach(node)
        e.op("Concat", *pieces, out=out, axis=axis)
        return None


PASS = LowerSequences
