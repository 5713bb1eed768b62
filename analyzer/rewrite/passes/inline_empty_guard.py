"""inline-empty-guard: `If(numel(x) == 0)` guards whose general branch also handles an empty x
→ that branch, inline.

Exporters turn "return an empty result when there is nothing to process" into an If on the
element count of a tensor (torchvision's `batched_nms`: `if boxes.numel() == 0: return
torch.empty(0)`). When the other branch computes data-dependent shapes (NonZero,
NonMaxSuppression, …), TensorRT's builder refuses the model: data-dependent shapes are only
allowed at the top level of the network, not inside a conditional ("Data-dependent shapes are
only allowed in the top-level scope", TensorRT-RTX 1.7.1 AOT build for SM89). Most general
branches already give the empty result on empty input — an NMS of no boxes selects none — so
the guard can go and the branch can run unconditionally.

Before::

    c = Equal(ReduceProd(Shape(x)), 0)          # or Size(x), Gather(Shape(x), i); Cast, Not, >
    y = If(c, then_branch={y = Constant(<empty>)}, else_branch={…; y = Squeeze(Gather(NMS(…)))})

After::

    …; y = Squeeze(Gather(NMS(…)))              # the else branch's nodes, at the top level

On non-empty x the If runs the general branch, so inlining it changes nothing; what needs
proof is the empty case, and the pass proves it on data instead of trusting the pattern: it
runs the model in onnxruntime on sample inputs (the verifier's, `rewrite.inputs`) to get the
tensors the If reads, then evaluates the If (its condition included) and the bare general
branch on (1) those values and (2) the same values emptied — x and every tensor the branch
reads whose dynamic axis has x's length, cut to length 0 along it — and rewrites only when
both give identical outputs (shape, dtype, values). When the sample already leaves x empty
(e.g. random weights score every box below the threshold), that real empty state is the
proof. Only top-level Ifs are matched; an If inside an inlined branch is found in the next
round.

Skips (reported): the condition is not an emptiness test of one tensor; the general branch
computes no data-dependent shape (TensorRT builds that If as it is); onnxruntime cannot run
the model or a probe; the branch gives a different result (or fails) on empty input.
"""

from __future__ import annotations

from dataclasses import dataclass

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.base import Advice, Match, PassContext, RewritePass, detach
from trtforge.analyzer.rewrite.graphutil import anchor, const_value, export_graph, producer

np = lazy_import("numpy")
onnx = lazy_import("onnx")
gs = lazy_import("onnx_graphsurgeon")

#: ops that only reshape, cast or copy a value: looked through when reading the condition
_TRANSPARENT = frozenset({"Cast", "Identity", "Squeeze", "Unsqueeze", "Reshape", "Flatten"})
#: ops whose output shape depends on input values (TensorRT: a size tensor)
_DATA_DEPENDENT = frozenset({"NonZero", "NonMaxSuppression", "Unique", "Compress"})


@dataclass
class Guard:
    """An emptiness test: `x` has no elements (along `axis`, or any axis when None); `empty`
    is the branch attribute taken when it holds."""

    x: gs.Tensor
    axis: int | None
    empty: str  # "then_branch" or "else_branch"

    @property
    def general(self) -> str:
        return "else_branch" if self.empty == "then_branch" else "then_branch"


def _through(tensor: gs.Tensor) -> gs.Node | None:
    node = producer(tensor)
    while node is not None and node.op in _TRANSPARENT and node.inputs:
        node = producer(node.inputs[0])
    return node


def _is_zero(tensor: gs.Tensor) -> bool:
    value = const_value(tensor)
    if value is None:
        node = _through(tensor)  # a Constant node the import left as a node
        if node is None or node.op != "Constant" or "value" not in node.attrs:
            return False
        value = node.attrs["value"].values
    value = np.asarray(value)
    return value.size == 1 and value.reshape(-1)[0] == 0


def _count(tensor: gs.Tensor) -> tuple[gs.Tensor, int | None] | None:
    """(x, axis) when `tensor` is x's element count (axis None) or x's dim `axis`."""
    node = _through(tensor)
    if node is None:
        return None
    if node.op == "Size":
        return node.inputs[0], None
    if node.op == "ReduceProd" and node.inputs:
        shape = producer(node.inputs[0])
        axes = node.attrs.get("axes")  # opset < 18: an attribute; 18+: an input
        if len(node.inputs) > 1 and node.inputs[1].name:
            axes = const_value(node.inputs[1])
            axes = [-2] if axes is None else np.asarray(axes).reshape(-1).tolist()
        reduces_all = axes is None or list(axes) in ([0], [-1])
        if shape is not None and shape.op == "Shape" and reduces_all and not shape.attrs:
            return shape.inputs[0], None
    if node.op == "Gather" and node.attrs.get("axis", 0) == 0:
        shape = producer(node.inputs[0])
        index = const_value(node.inputs[1])
        if shape is not None and shape.op == "Shape" and index is not None:
            index = np.asarray(index)
            start = int(shape.attrs.get("start", 0))
            if index.size == 1 and start >= 0:
                return shape.inputs[0], int(index.reshape(-1)[0]) + start
    return None


def _guard(node: gs.Node) -> Guard | None:
    """The emptiness test an If's condition is, if it is one."""
    cond = producer(node.inputs[0]) if node.inputs else None
    negated = False
    while cond is not None and (cond.op in _TRANSPARENT or cond.op == "Not") and cond.inputs:
        negated ^= cond.op == "Not"
        cond = producer(cond.inputs[0])
    if cond is None or cond.op not in ("Equal", "Greater", "Less") or len(cond.inputs) != 2:
        return None
    a, b = cond.inputs
    if cond.op == "Equal":
        side = _count(a) if _is_zero(b) else _count(b) if _is_zero(a) else None
    elif cond.op == "Greater":  # count > 0: non-empty
        side = _count(a) if _is_zero(b) else None
        negated = not negated
    else:  # 0 < count: non-empty
        side = _count(b) if _is_zero(a) else None
        negated = not negated
    if side is None:
        return None
    x, axis = side
    return Guard(x, axis, "else_branch" if negated else "then_branch")


def _subgraph_nodes(graph: gs.Graph):
    for node in graph.nodes:
        yield node
        for value in node.attrs.values():
            if isinstance(value, gs.Graph):
                yield from _subgraph_nodes(value)


def _data_dependent(graph: gs.Graph) -> bool:
    for node in _subgraph_nodes(graph):
        if node.op in _DATA_DEPENDENT or (node.domain or "") == "trtforge":
            return True
    return False


def _captured(graph: gs.Graph) -> list[gs.Tensor]:
    """The outer-scope variables a branch (and its nested subgraphs) reads, in first-use order."""
    inner: set[str] = set()
    seen: dict[str, gs.Tensor] = {}
    for node in _subgraph_nodes(graph):
        inner.update(t.name for t in node.outputs)
    for node in _subgraph_nodes(graph):
        for t in node.inputs:
            if t.name and t.name not in inner and isinstance(t, gs.Variable):
                seen.setdefault(t.name, t)
    return list(seen.values())


def _dynamic_axes(tensor: gs.Tensor, rank: int) -> list[int]:
    shape = tensor.shape
    if shape is None or len(shape) != rank:
        return list(range(rank))
    return [i for i, d in enumerate(shape) if not isinstance(d, int) or d < 0]


def _emptied(feeds: dict, guard: Guard, captured: list[gs.Tensor]) -> dict | str:
    """The feeds with x, and every captured tensor sharing x's emptied dynamic axis length, cut
    to length 0 along that axis; or why there is no such state to test."""
    x = feeds[guard.x.name]
    axes = _dynamic_axes(guard.x, x.ndim) if guard.axis is None else [guard.axis]
    axes = [a for a in axes if 0 <= a < x.ndim]
    if not axes:
        return f"'{guard.x.name}' has no dynamic axis to be empty along"
    length = x.shape[axes[0]]
    out = dict(feeds)
    for t in [guard.x, *captured]:
        value = out[t.name]
        for axis in _dynamic_axes(t, value.ndim) if t is not guard.x else axes[:1]:
            if value.shape[axis] == length:
                value = np.take(value, np.arange(0), axis=axis)
        out[t.name] = value
    return out


def _value_info(name: str, value: np.ndarray) -> onnx.ValueInfoProto:
    elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    return onnx.helper.make_tensor_value_info(name, elem, [None] * value.ndim)


def _probe(nodes: list[onnx.NodeProto], inputs: dict, outputs: list[str], opsets, inits=()):
    graph = onnx.helper.make_graph(
        nodes,
        "inline-empty-guard-probe",
        [_value_info(n, v) for n, v in inputs.items()],
        [onnx.helper.make_empty_tensor_value_info(n) for n in outputs],
        initializer=list(inits),
    )
    from trtforge.analyzer.rewrite.manager import _min_ir_version

    return onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()],
        ir_version=_min_ir_version(opsets),
    )


def _same(a: dict, b: dict) -> str | None:
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype != y.dtype or x.shape != y.shape:
            return f"{name}: {y.dtype}{list(y.shape)} instead of {x.dtype}{list(x.shape)}"
        if not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
            return f"{name}: different values"
    return None


def _protos(graph: onnx.GraphProto, node: gs.Node, reads: set[str]):
    """(the If's NodeProto, its condition's nodes back to the read tensors, the initializers
    they use), from the exported model."""
    made = {o: n for n in graph.node for o in n.output}
    inits = {t.name: t for t in graph.initializer}
    if_proto = made[node.outputs[0].name]
    chain: list[onnx.NodeProto] = []
    used: dict[str, onnx.TensorProto] = {}
    todo = [if_proto.input[0]]
    while todo:
        name = todo.pop()
        if not name or name in reads:
            continue
        if name in inits:
            used[name] = inits[name]
        elif name in made and made[name] not in chain:
            chain.insert(0, made[name])
            todo += list(made[name].input)
    return if_proto, chain, list(used.values())


def _compare(protos, guard: Guard, feeds: dict, opsets: dict[str, int]) -> str | None:
    """Runs the If (condition included) and its bare general branch on `feeds`; None when
    both give identical outputs."""
    from trtforge.analyzer.rewrite.verify import run_model

    if_proto, chain, inits = protos
    outputs = list(if_proto.output)
    branch = next(a.g for a in if_proto.attribute if a.name == guard.general)
    renamed = {o.name: n for o, n in zip(branch.output, outputs, strict=True)}
    body = []
    for original in branch.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(original)
        copy.output[:] = [renamed.get(o, o) for o in copy.output]
        copy.input[:] = [renamed.get(i, i) for i in copy.input]
        body.append(copy)
    made = {o for n in branch.node for o in n.output}
    body += [
        onnx.helper.make_node("Identity", [inner], [outer])
        for inner, outer in renamed.items()
        if inner not in made
    ]
    try:
        want = run_model(_probe([*chain, if_proto], feeds, outputs, opsets, inits), feeds)
        got = run_model(_probe(body, feeds, outputs, opsets, branch.initializer), feeds)
    except Exception as err:  # noqa: BLE001 - a probe that does not run is a refusal
        return f"onnxruntime: {(str(err).splitlines() or [type(err).__name__])[0][:160]}"
    return _same(want, got)


def _replace(tensors: list, old: gs.Tensor, new: gs.Tensor) -> None:
    for i, t in enumerate(tensors):
        if t is old:
            tensors[i] = new  # item assignment keeps graphsurgeon's links in sync


class InlineEmptyGuard(RewritePass):
    id = "inline-empty-guard"
    order = 16
    summary = (
        "If(numel(x) == 0) guards around data-dependent shapes -> the general branch inline, "
        "when onnxruntime shows it gives the same result on empty x"
    )
    advice = Advice(
        "emptiness guard (If on numel == 0) around data-dependent shapes",
        "its general branch, unconditionally",
        frozenset({"If"}),
        why="TensorRT builds data-dependent shapes only outside conditionals: the build fails",
    )

    def find(self, ctx: PassContext):
        found = []
        for node in ctx.graph.nodes:
            if node.op != "If" or (node.domain or "") not in ("", "ai.onnx"):
                continue
            guard = _guard(node)
            if guard is None:
                continue
            general = node.attrs.get(guard.general)
            if not isinstance(general, gs.Graph) or not isinstance(guard.x, gs.Variable):
                continue
            found.append(Match(anchor(node), [node], {"guard": guard}))
        probes = [m for m in found if _data_dependent(m.nodes[0].attrs[m.data["guard"].general])]
        if probes:
            self._sample(ctx, probes)
        yield from found

    def _sample(self, ctx: PassContext, matches: list[Match]) -> None:
        """Runs the model once for the tensors every matched If reads; keeps, per match, those
        values (`values`), the If and its condition's nodes as protos (`protos`), or `error`."""
        from trtforge.analyzer.rewrite.verify import make_inputs, run_model

        names: list[str] = []
        for m in matches:
            node, guard = m.nodes[0], m.data["guard"]
            reads = [guard.x]
            for attr in ("then_branch", "else_branch"):
                reads += _captured(node.attrs[attr])
            m.data["reads"] = {t.name: t for t in reads}
            names += [n for n in m.data["reads"] if n not in names]
        try:
            model = export_graph(ctx.graph)
            del model.opset_import[:]
            for domain, version in ctx.opsets.items():
                model.opset_import.add(domain=domain, version=version)
            feeds = make_inputs(model)
            inputs = {i.name for i in model.graph.input}
            values = {**feeds, **run_model(model, feeds, [n for n in names if n not in inputs])}
        except Exception as err:  # noqa: BLE001 - any failure is a refusal, said as one line
            text = str(err).splitlines()[0] if str(err) else type(err).__name__
            for m in matches:
                m.data["error"] = f"onnxruntime cannot run the model for the proof ({text[:200]})"
            return
        for m in matches:
            m.data["values"] = {n: np.asarray(values[n]) for n in m.data["reads"]}
            m.data["protos"] = _protos(model.graph, m.nodes[0], set(m.data["reads"]))

    def check(self, match: Match, ctx: PassContext) -> str | None:
        node, guard = match.nodes[0], match.data["guard"]
        if not _data_dependent(node.attrs[guard.general]):
            return "the If computes no data-dependent shape (TensorRT builds it as it is)"
        if "error" in match.data:
            return match.data["error"]
        captured = [t for n, t in match.data["reads"].items() if n != guard.x.name]
        sample = match.data["values"]
        if sample[guard.x.name].size == 0:  # the sample is itself a real empty state
            cases = [(sample, "empty")]
        else:
            emptied = _emptied(sample, guard, captured)
            if isinstance(emptied, str):
                return emptied
            cases = [(sample, "non-empty"), (emptied, "empty")]
        for feeds, case in cases:
            reason = _compare(match.data["protos"], guard, feeds, ctx.opsets)
            if reason is not None:
                return f"on {case} '{guard.x.name}' the branch differs from the If ({reason})"
        return None

    def rewrite(self, match: Match, ctx: PassContext) -> None:
        node, guard = match.nodes[0], match.data["guard"]
        branch: gs.Graph = node.attrs[guard.general]
        outputs = list(node.outputs)
        detach(node)
        taken = {n.name for n in ctx.graph.nodes}
        for inner in branch.nodes:
            if not inner.name or inner.name in taken:
                inner.name = ctx.unique(inner.op)
            ctx.graph.nodes.append(inner)
        moved = {id(n) for n in branch.nodes}
        renamed: dict[int, gs.Tensor] = {}  # a branch tensor -> the If output now naming it
        for inner, outer in zip(branch.outputs, outputs, strict=True):
            made = inner.inputs[0] if inner.inputs else None
            if id(inner) in renamed or made is None or id(made) not in moved:
                # an outer tensor, a branch constant, or a tensor output twice: copy it
                ctx.node("Identity", [renamed.get(id(inner), inner)], [outer])
                continue
            for user in list(inner.outputs):
                _replace(user.inputs, inner, outer)
            _replace(made.outputs, inner, outer)
            renamed[id(inner)] = outer
        branch.nodes.clear()


PASS = InlineEmptyGuard
