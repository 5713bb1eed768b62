"""fuse-gelu: erf-based and tanh-approximation GELU subgraphs become one Gelu node (opset 20).

Before::

    y = Mul(Mul(x, 0.5), Add(Erf(Div(x, 1.41421)), 1))                 # erf form, or
    y = Mul(Mul(x, Add(Erf(Mul(x, 0.70711)), 1)), 0.5)                  # any Mul order
    y = 0.5 * x * (1 + Tanh(0.79788 * (x + 0.044715 * Pow(x, 3))))      # tanh form; x*x*x too

After::

    y = Gelu(x)                          # erf form
    y = Gelu(x, approximate="tanh")      # tanh form

Skips (reported): the model's opset is below 20 or the target's parser does not import Gelu
(knowledge base) — the subgraph is left as it is; an intermediate is read outside the pattern
or is a graph output.

Not matched at all: a 0.5 or a 1 that is not exactly that (they scale the output), another
constant further than 1e-4 (relative) from 1/√2, √(2/π) or 0.044715, and a constant of more
dims than the tensor it multiplies (the product would be wider than one Gelu's output).
"""

from __future__ import annotations

import math

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite import emit
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import (
    anchor,
    escapes,
    is_close,
    is_default,
    other_input,
    scalar,
    single_use,
    split_const,
    users,
)

gs = lazy_import("onnx_graphsurgeon")

SQRT2 = math.sqrt(2.0)

#: how far a constant may be from the one it stands for. Inside the nonlinearity (1/√2,
#: √(2/π), 0.044715, as exporters print them to 5-6 digits) a relative 1e-4 moves the output
#: by less than verification's tolerance; the 0.5 and the 1 scale the output directly and
#: are exact in every float type, so they must be (a factor 0.501 was fused as 0.5).
TOL = 1e-4
EXACT = 1e-6


def _scaled(t: gs.Tensor, factor: float, tol: float = TOL) -> tuple[gs.Node, gs.Tensor] | None:
    """If t = x * factor (or x / (1/factor)), within relative `tol`: (that node, x)."""
    node = t.inputs[0] if t.inputs else None
    if node is None or not is_default(node) or node.op not in ("Mul", "Div"):
        return None
    split = split_const(node)
    if split is None:
        return None
    x, c = split
    if node.op == "Mul" and is_close(c, factor, tol):
        return node, x
    if node.op == "Div" and node.inputs[1] is not x and c and is_close(1.0 / c, factor, tol):
        return node, x
    return None


def _cube_of(t: gs.Tensor) -> tuple[list[gs.Node], gs.Tensor] | None:
    """If t = Pow(x, 3) or x*x*x: (nodes, x)."""
    node = t.inputs[0] if t.inputs else None
    if node is None or not is_default(node):
        return None
    if node.op == "Pow" and is_close(scalar(node.inputs[1], against=node.inputs[0]), 3.0):
        return [node], node.inputs[0]
    if node.op == "Mul" and len(node.inputs) == 2:
        for sq_t, x in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
            sq = sq_t.inputs[0] if sq_t.inputs else None
            if sq is not None and sq.op == "Mul" and sq.inputs[0] is x and sq.inputs[1] is x:
                return [sq, node], x
    return None


def _tanh_argument(t: gs.Tensor) -> tuple[list[gs.Node], gs.Tensor] | None:
    """If t = c * (x + 0.044715 * x^3) with c = sqrt(2/pi): (nodes, x)."""
    scaled = _scaled(t, emit.SQRT_2_OVER_PI)
    if scaled is None:
        return None
    mul, inner = scaled
    add = inner.inputs[0] if inner.inputs else None
    if add is None or add.op != "Add" or len(add.inputs) != 2:
        return None
    for x, poly in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
        coef = _scaled(poly, 0.044715)
        if coef is None:
            continue
        cube = _cube_of(coef[1])
        if cube is not None and cube[1] is x:
            return [*cube[0], coef[0], add, mul], x
    return None


def _product(
    start: gs.Tensor, x: gs.Tensor, graph: gs.Graph
) -> tuple[list[gs.Node], gs.Node] | None:
    """The Mul nodes computing start * x * 0.5 (any order) from `start`, and the last of them."""
    nodes: list[gs.Node] = []
    have_x = have_half = False
    cur = start
    for _ in range(2):
        if not single_use(cur, graph):
            return None
        node = cur.outputs[0]
        if node.op != "Mul" or not is_default(node) or len(node.inputs) != 2:
            return None
        other = node.inputs[1] if node.inputs[0] is cur else node.inputs[0]
        nodes.append(node)
        if other is x and not have_x:
            have_x = True
        elif is_close(scalar(other, against=cur), 0.5, EXACT) and not have_half:
            have_half = True
        else:
            half = _scaled(other, 0.5, EXACT)
            if half is None or half[1] is not x or have_x or have_half:
                return None
            nodes.append(half[0])
            have_x = have_half = True
        cur = node.outputs[0]
        if have_x and have_half:
            return nodes, node
    return None


class FuseGelu(RewritePass):
    """erf / tanh GELU subgraphs → Gelu (opset 20) where the target supports it."""

    id = "fuse-gelu"
    summary = "erf and tanh-approximation GELU subgraphs → Gelu (opset 20) where supported"
    order = 50
    advice = Advice("decomposed GELU", "one Gelu op", frozenset({"Erf", "Tanh"}))

    def find(self, ctx: PassContext):
        for node in list(ctx.graph.nodes):
            if node.op not in ("Erf", "Tanh") or not is_default(node):
                continue
            if node.op == "Erf":
                scaled = _scaled(node.inputs[0], 1.0 / SQRT2)
                if scaled is None:
                    continue
                head, x = [scaled[0]], scaled[1]
                approximate = "none"
            else:
                arg = _tanh_argument(node.inputs[0])
                if arg is None:
                    continue
                head, x = arg
                approximate = "tanh"
            adds = [
                a
                for a in users(node.outputs[0], "Add")
                if is_close(
                    scalar(other_input(a, node.outputs[0]), against=node.outputs[0]), 1.0, EXACT
                )
            ]
            if len(adds) != 1:
                continue
            product = _product(adds[0].outputs[0], x, ctx.graph)
            if product is None:
                continue
            muls, last = product
            yield Match(
                anchor=anchor(node),
                nodes=[*head, node, adds[0], *muls],
                data={"x": x, "approximate": approximate, "last": last},
            )

    def check(self, match: Match, ctx: PassContext) -> str | None:
        if ctx.opset < emit.OPSET_GELU:
            return f"Gelu needs opset {emit.OPSET_GELU} (model has {ctx.opset}); left as is"
        if not emit.op_supported("Gelu", ctx.target):
            return f"the {ctx.target.id} parser does not import Gelu (knowledge base); left as is"
        last = match.data["last"]
        for node in match.nodes:
            if node is last:
                continue
            for out in node.outputs:
                why = escapes(out, match.nodes, ctx.graph)
                if why:
                    return why
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        last = match.data["last"]
        out = last.outputs[0]
        detach(last)
        ctx.node("Gelu", [match.data["x"]], [out], {"approximate": match.data["approximate"]})


PASS = FuseGelu
