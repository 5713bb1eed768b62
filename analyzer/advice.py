"""Performance advice: fusions trt-rewrite would make, so the engine runs faster.

A model TensorRT accepts can still build a slower engine than it should: a LayerNorm that an
exporter decomposed into nine elementwise and reduce ops becomes nine layers (and, in FP16,
loses accuracy in the variance), where the fused op is one normalization layer. The advice is
what the fusion passes actually match: they run here in memory, on the model without its
weights, exactly as `trt-rewrite` would run them — so each piece of advice names the command
that realises it. A pass is advised when it declares `advice` (`rewrite.base.Advice`).
"""

from __future__ import annotations

import logging

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.advice")

#: matching runs on a graphsurgeon copy of the graph; past this size the advice is skipped
#: so that checking very large graphs stays fast (run trt-rewrite to see what it fuses).
MAX_NODES = 20_000


def _op_types(graph) -> set[str]:
    """Op types of the graph and of its subgraphs (If/Loop/Scan bodies): a pass that inlines
    a branch (inline-empty-guard) brings their nodes to the top level for the others."""
    ops = set()
    stack = [graph]
    while stack:
        for node in stack.pop().node:
            ops.add(node.op_type)
            for attr in node.attribute:
                stack += ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
    return ops


def fusion_advice(loaded: LoadedModel, target: Target) -> list[Finding]:
    """Graph-level warnings `advice/<pass>` for every fusion pass that would apply.

    Best effort: a model the passes cannot process gets no advice, never an error.
    """
    graph = loaded.proto.graph
    if len(graph.node) > MAX_NODES:
        return []
    ops = _op_types(graph)
    from trtforge.analyzer.rewrite.registry import advised_passes

    advised = advised_passes()
    candidates = [pid for pid, cls in advised.items() if ops & cls.advice.needs]
    if not candidates:
        return []
    try:
        from trtforge.analyzer.rewrite.base import RewriteOptions
        from trtforge.analyzer.rewrite.manager import rewrite_model

        result = rewrite_model(loaded.proto, candidates, RewriteOptions(target=target))
    except Exception as err:  # noqa: BLE001 - advice must never break a check
        log.info("no fusion advice: the rewrite passes could not process the model (%s)", err)
        return []
    findings = []
    for pid in candidates:
        applied = result.passes[pid].applied
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
