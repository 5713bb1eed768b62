"""Performance advice: fusions trt-rewrite would make, so the engine runs faster.

A model TensorRT accepts can still build a slower engine than it should: a LayerNorm that an
exporter decomposed into nine elementwise and reduce ops becomes nine layers (and, in FP16,
loses accuracy in the variance), where the fused op is one normalization layer. The advice is
what the fusion passes actually match: each advised pass finds and checks its matches on the
session's graphsurgeon graph (`ModelSession.graph`, imported once, no weights loaded), exactly
as `trt-rewrite` would before rewriting them — so each piece of advice names the command that
realises it. Nothing is rewritten or exported. A pass is advised when it declares `advice`
(`rewrite.base.Advice`).
"""

from __future__ import annotations

import logging

from trtforge.analyzer._speculation import CONTROL_FLOW, bodies_of, node_count
from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.session import ModelSession
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.advice")

#: matching runs on a graphsurgeon copy of the graph; past this many nodes (bodies' nodes
#: counted) the advice is skipped so that checking very large graphs stays fast (run
#: trt-rewrite to see what it fuses).
MAX_NODES = 20_000

#: graphsurgeon's import copies the names of the graphs enclosing a body into the body's
#: scope, for every body (~0.3 µs a name: 3,000 Ifs of one-node branches in a graph of
#: 3,000 names copy 20 million, ~6 s); past this many copies the advice is skipped too.
MAX_SCOPE_COPIES = 2_000_000


def fusion_advice(model: LoadedModel | ModelSession, target: Target) -> list[Finding]:
    """Graph-level warnings `advice/<pass>` for every fusion pass that would apply.

    Best effort: a model the passes cannot process gets no advice, never an error.
    """
    session = ModelSession.of(model)
    graph = session.structure.graph
    if node_count(graph, MAX_NODES) > MAX_NODES:
        return []
    ops = {node.op_type for node in graph.node}
    from trtforge.analyzer.rewrite.registry import advised_passes

    advised = advised_passes()
    candidates = [pid for pid, cls in advised.items() if ops & cls.advice.needs]
    if not candidates:
        return []
    if (
        not CONTROL_FLOW.isdisjoint(ops)
        and scope_copies(graph, MAX_SCOPE_COPIES) > MAX_SCOPE_COPIES
    ):
        log.info("no fusion advice: importing the graph's many bodies would take long")
        return []
    try:
        counts = _count_matches(session, candidates, target)
    except Exception as err:  # noqa: BLE001 - advice must never break a check
        log.info("no fusion advice: the rewrite passes could not process the model (%s)", err)
        return []
    findings = []
    for pid in candidates:
        applied = counts[pid]
        if not applied:
            continue
        what, fused = advised[pid].advice.what, advised[pid].advice.fused
        findings.append(
            Finding(
                code=f"advice/{pid}",
                message=(
                    f"{applied} {what} subgraph{'s' * (applied != 1)} could each run as {fused} "
                    f"({advised[pid].advice.why})"
                ),
                hint=f"trt-rewrite MODEL -o OUT --{pid} (verified against the original)",
                fixes=(Fix("rewrite", pid),),
                source="trtforge rewrite passes, matched in memory",
                severity="warning",
            )
        )
    return findings


def scope_copies(graph, enough: int | None = None) -> int:
    """How many names graphsurgeon's import of the GraphProto `graph` copies into the scopes
    of its bodies (If/Loop/Scan graphs, nested ones too): each body gets the names of the
    graphs enclosing it. Counted without recursion (bodies nested thousands deep), and only
    until past `enough`, if given."""
    copies = 0
    pending = [(graph, 0)]  # (a graph, the names of the graphs around it)
    while pending and (enough is None or copies <= enough):
        current, enclosing = pending.pop()
        names = enclosing + len(current.input) + len(current.initializer)
        names += sum(len(node.output) for node in current.node)
        for node in current.node:
            for body in bodies_of(node):
                copies += names
                pending.append((body, names))
    return copies


def _count_matches(session: ModelSession, pass_ids: list[str], target: Target) -> dict[str, int]:
    """How many non-overlapping matches of each pass its `check` accepts, on the session's
    graph, with default options. `find` and `check` never change the graph (the pass
    contract, `rewrite.base`), so nothing is copied, rewritten or exported.

    Passes match in the registry's order, and a node an earlier pass's accepted match covers
    is not counted again (trt-rewrite would have replaced it before the later pass ran: the
    tail of a decomposed LayerNorm is not also an RMSNorm). A pass whose options need a newer
    opset than the model's (`required_opset`) is matched as trt-rewrite would after converting
    the model: with that opset.
    """
    from trtforge.analyzer.rewrite.base import PassContext, RewriteOptions
    from trtforge.analyzer.rewrite.graphutil import graphsurgeon_silenced
    from trtforge.analyzer.rewrite.manager import model_opsets, resolve_order
    from trtforge.analyzer.rewrite.registry import get_pass

    options = RewriteOptions(target=target)
    graph = session.graph()
    counts = {}
    touched: set[int] = set()  # ids of the nodes an accepted match covers
    with graphsurgeon_silenced():
        for pid in resolve_order(pass_ids):
            cls = get_pass(pid)
            opsets = model_opsets(session.structure)
            opsets[""] = max(opsets.get("", 0), cls.required_opset(options))
            ctx = PassContext(graph, options, pid, opsets)
            instance = cls()
            applied = 0
            for match in list(instance.find(ctx)):
                if any(id(n) in touched for n in match.nodes):
                    continue  # as `RewritePass.run`: one rewrite per node and round
                if instance.check(match, ctx) is None:
                    touched.update(id(n) for n in match.nodes)
                    applied += 1
            counts[pid] = applied
    return counts
