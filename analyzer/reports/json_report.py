"""The JSON report (schema `trtforge.check/1`, see analyzer/schemas/check.schema.json).

Indented for reading, except that each node is one compact line: diffs stay line-per-node, and
the C JSON encoder (which `indent` disables) keeps a 100,000-node report fast.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from trtforge.analyzer.report import SCHEMA_ID, SUPPORTED, NodeVerdict, Report

_compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _node_line(node: NodeVerdict, kinds: dict[tuple[str, str], str]) -> str:
    if node.status == SUPPORTED and not node.reasons and node.plugin is None:
        # the common case, written directly (same text as _compact(node.to_json()));
        # `kinds`: the encoded op_type and domain fields, per (op_type, domain)
        kind = kinds.get((node.op_type, node.domain))
        if kind is None:
            kind = kinds[node.op_type, node.domain] = (
                f'"op_type": {encode_basestring(node.op_type)}, '
                f'"domain": {encode_basestring(node.domain)}, "status": "supported", '
                f'"reasons": [], "fixes": []}}'
            )
        return f'{{"index": {node.index}, "name": {encode_basestring(node.name)}, {kind}'
    return _compact(node.to_json())


def render(report: Report) -> str:
    """The report as JSON text; `json.loads` of it equals `report.to_json()` (tested)."""
    tally = report.tally()  # (one pass over the verdicts for both figures)
    doc = {
        "schema": SCHEMA_ID,
        "model": report.model.to_json(),
        "target": report.target,
        "backend": report.backend,
        "supported": tally.supported,
        "nodes": [],
        "graph": {"reasons": [f.to_json() for f in report.graph_findings]},
        "summary": tally.summary,
    }
    body = json.dumps(doc, indent=2, ensure_ascii=False)
    if not report.nodes:
        return body
    kinds: dict[tuple[str, str], str] = {}
    enc = encode_basestring
    # `_node_line`, its common case inlined (no call a node): the same text
    lines = ",\n    ".join(
        [
            f'{{"index": {node.index}, "name": {enc(node.name)}, {kind}'
            if node.status == SUPPORTED
            and not node.reasons
            and node.plugin is None
            and (kind := kinds.get((node.op_type, node.domain))) is not None
            else _node_line(node, kinds)
            for node in report.nodes
        ]
    )
    head, _, tail = body.partition('"nodes": []')
    return f'{head}"nodes": [\n    {lines}\n  ]{tail}'
