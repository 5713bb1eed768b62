"""relabel-einsum: Einsum equations with upper-case subscripts → the same equation in the
lower-case letters TensorRT's parser takes.

The parser accepts only a-z as Einsum subscripts (onnxOpCheckers.cpp checkEinsum; knowledge
base `einsum/equation-characters`), and exporters write others: torchvision's MaxViT writes
`B G H I J, B G H J D -> B G H I D` (44 Einsums, the model's only refused nodes). A subscript
only names an axis, so renaming the subscripts one-to-one changes nothing the node computes.

Before::

    y = Einsum<equation="B G H I J, B G H J D -> B G H I D">(a, b)

After::

    y = Einsum<equation="bghij,bghjd->bghid">(a, b)

A lower-case subscript keeps its letter; an upper-case one takes its lower-case form where no
other subscript has it, else the first free letter. Spaces are dropped, and an implicit output
(no `->`: the subscripts used once, in ASCII order, upper case first) is written out first —
renamed, they would sort into another order and transpose the result.

Skips (reported): more than 26 distinct subscripts (no free letter is left); a character that
is no subscript (the equation is invalid).
"""

from __future__ import annotations

import string

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Match, PassContext, PassOutcome, RewritePass
from trtforge.analyzer.rewrite.graphutil import anchor, attr_text

gs = lazy_import("onnx_graphsurgeon")

#: the characters of an equation besides its subscripts
_SYNTAX = frozenset(",->. ")


def explicit(equation: str) -> str:
    """`equation` with its output written out: in implicit mode (no `->`) the output is the
    broadcast dims (`...`, where a term has them) and then the subscripts used once, in ASCII
    order — upper case first, so that renaming them would reorder the output's axes."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        return equation
    letters = [c for c in equation if c.isalpha()]
    once = sorted(c for c in set(letters) if letters.count(c) == 1)
    return f"{equation}->{'...' if '...' in equation else ''}{''.join(once)}"


def relabeled(equation: str) -> str | None:
    """`equation` with its subscripts in lower-case letters, its output explicit and no
    spaces, or None when that cannot be done (more than 26 subscripts, a character that is
    no subscript)."""
    if any(not (c.isascii() and c.isalpha()) and c not in _SYNTAX for c in equation):
        return None
    equation = explicit(equation)
    letters = list(dict.fromkeys(c for c in equation if c.isalpha()))
    mapping = {c: c for c in letters if c.islower()}
    free = [c for c in string.ascii_lowercase if c not in mapping]
    for c in letters:
        if c in mapping:
            continue
        wanted = c.lower() if c.lower() in free else (free[0] if free else None)
        if wanted is None:
            return None
        mapping[c] = wanted
        free.remove(wanted)
    return "".join(mapping.get(c, c) for c in equation if c != " ")


def _needs_relabel(equation: str) -> bool:
    return any(c.isascii() and c.isupper() for c in equation)


class RelabelEinsum(RewritePass):
    """See the module docstring."""

    id = "relabel-einsum"
    summary = "Einsum equations with upper-case subscripts → lower-case ones (TensorRT's parser)"
    order = 17

    @classmethod
    def fixes(cls, node, graph) -> str | None:
        if node.op_type != "Einsum" or node.domain not in ("", "ai.onnx"):
            return None
        equation = next((a.s.decode("utf-8", "replace") for a in node.attribute
                         if a.name == "equation"), "")  # fmt: skip
        if not _needs_relabel(equation) or relabeled(equation) is None:
            return None
        return "trt-rewrite --relabel-einsum renames the subscripts to lower-case letters"

    def find(self, ctx: PassContext):
        for graph in [ctx.graph, *ctx.graph.subgraphs(recursive=True)]:
            for node in list(graph.nodes):
                if node.op != "Einsum" or (node.domain or "") not in ("", "ai.onnx"):
                    continue
                equation = attr_text(node.attrs.get("equation", ""))
                if _needs_relabel(equation):
                    yield Match(anchor=anchor(node), nodes=[node], data={"equation": equation})

    def check(self, match: Match, ctx: PassContext) -> str | None:
        if relabeled(match.data["equation"]) is None:
            return (
                f"equation '{match.data['equation']}': more than 26 subscripts or a character "
                "that is no subscript"
            )
        return None

    def run(self, ctx: PassContext) -> PassOutcome:
        outcome = super().run(ctx)
        outcome.attributes_changed = outcome.applied > 0  # (the graph's structure is the same)
        return outcome

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        match.nodes[0].attrs["equation"] = relabeled(match.data["equation"])


PASS = RelabelEinsum
