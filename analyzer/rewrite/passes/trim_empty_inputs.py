"""trim-empty-inputs: optional inputs left out with an empty name at the end of a node's input
list → left out of the list.

ONNX lets a node leave an optional input out by naming no tensor there (`Gemm(A, B, '')`), and
graph tools and some exporters write such empty names. TensorRT's importers for several ops
count the empty name as an input they then cannot read and refuse the node (observed with
TensorRT-RTX 1.7.1: Gemm, Conv, Split, Squeeze, QuantizeLinear, DequantizeLinear, Slice,
Dropout, Trilu, RotaryEmbedding and the variadic Concat, Sum, Max, Min, Mean, Einsum; the
knowledge base lists them per op, `OpRule.empty_inputs_refused`).

Before → After::

    Y = Gemm(A, B, '')                 → Y = Gemm(A, B)
    Y = Slice(X, starts, ends, '', '') → Y = Slice(X, starts, ends)

Exact: a trailing empty name and an absent input mean the same to ONNX.

Skips (reported by trt-check, `leaves`): an empty name followed by a real input
(`Slice(X, s, e, '', steps)`, a variadic op's empty name in the middle), which cannot be
dropped without giving the input's default value.
"""

from __future__ import annotations

from trtforge.analyzer.rewrite.base import Match, PassContext, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor


def _trailing_empty(names) -> int:
    """How many names at the end of `names` are empty."""
    count = 0
    for name in reversed(list(names)):
        if name:
            break
        count += 1
    return count


def _nodes(graph):
    """The graph's nodes and those of its If/Loop/Scan bodies, however deep."""
    pending = [graph]
    while pending:
        current = pending.pop()
        for node in list(current.nodes):
            yield node
            for value in node.attrs.values():
                for body in value if isinstance(value, list) else [value]:
                    if hasattr(body, "nodes") and hasattr(body, "inputs"):
                        pending.append(body)


class TrimEmptyInputs(RewritePass):
    """Trailing empty input names → removed from the node's input list."""

    id = "trim-empty-inputs"
    summary = "optional inputs left out with a trailing empty name → dropped from the input list"
    order = 5

    @classmethod
    def leaves(cls, node, graph=None) -> str | None:
        if any(not name for name in node.input) and (not node.input or node.input[-1]):
            return "an empty input name followed by a real input cannot be dropped"
        return None

    def find(self, ctx: PassContext):
        for node in _nodes(ctx.graph):
            names = [tensor.name for tensor in node.inputs]
            if names and not names[-1]:
                yield Match(anchor=anchor(node), nodes=[node])

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node = match.nodes[0]
        for _ in range(_trailing_empty(tensor.name for tensor in node.inputs)):
            node.inputs.pop()


PASS = TrimEmptyInputs
