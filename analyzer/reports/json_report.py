"""The JSON report (schema `trtforge.check/1`, see analyzer/schemas/check.schema.json).

Indented for reading, except that each node is one compact line: diffs stay line-per-node, and
the C JSON encoder (which `indent` disables) keeps a 100,000-node report fast.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from trtforge.analyzer.findings import Finding
from trtforge.analyzer.report import SCHEMA_ID, SUPPORTED, NodeVerdict, Report

_compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _node_line(node: NodeVerdict, kinds: dict[tuple[str, str], str], parts: _Parts) -> str:
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
    return parts.line(node)


class _Parts:
    """A node's line with findings, from encoded parts that nodes sharing a verdict share
    (the same text as `_compact(node.to_json())`): 100,000 nodes of one unsupported op have
    findings that differ only in their messages, and encoding each whole took longer than
    the check."""

    def __init__(self) -> None:
        #: (code, hint, severity, source, inner) -> (text before the message, text after)
        self._around: dict[tuple, tuple[str, str]] = {}
        #: the ids of a node's findings' tuples of fixes -> the encoded "fixes" list
        self._fixes: dict[tuple[int, ...], str] = {}
        #: (op_type, domain, status) -> their encoded fields
        self._kinds: dict[tuple[str, str, str], str] = {}

    def line(self, node: NodeVerdict) -> str:
        kind = self._kinds.get((node.op_type, node.domain, node.status))
        if kind is None:
            kind = self._kinds[node.op_type, node.domain, node.status] = (
                f'"op_type": {encode_basestring(node.op_type)}, '
                f'"domain": {encode_basestring(node.domain)}, '
                f'"status": {encode_basestring(node.status)}'
            )
        reasons = ", ".join([self._reason(r) for r in node.reasons])
        fixes_key = tuple([id(r.fixes) for r in node.reasons])  # (alive while node is)
        fixes = self._fixes.get(fixes_key)
        if fixes is None:
            fixes = self._fixes[fixes_key] = _compact([f.to_json() for f in node.fixes])
        plugin = "" if node.plugin is None else f', "plugin": {_compact(node.plugin.to_json())}'
        return (
            f'{{"index": {node.index}, "name": {encode_basestring(node.name)}, {kind}, '
            f'"reasons": [{reasons}], "fixes": {fixes}{plugin}}}'
        )

    def _reason(self, finding: Finding) -> str:
        key = (finding.code, finding.hint, finding.severity, finding.source, finding.inner)
        around = self._around.get(key)
        if around is None:
            rest = finding.to_json()
            del rest["code"], rest["message"]
            after = _compact(rest)  # '{}' or '{"hint": ...}'
            around = self._around[key] = (
                f'{{"code": {encode_basestring(finding.code)}, "message": ',
                "}" if after == "{}" else ", " + after[1:],
            )
        return f"{around[0]}{encode_basestring(finding.message)}{around[1]}"


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
    parts = _Parts()
    enc = encode_basestring
    # `_node_line`, its common case inlined (no call a node): the same text
    lines = ",\n    ".join(
        [
            f'{{"index": {node.index}, "name": {enc(node.name)}, {kind}'
            if node.status == SUPPORTED
            and not node.reasons
            and node.plugin is None
            and (kind := kinds.get((node.op_type, node.domain))) is not None
            else _node_line(node, kinds, parts)
            for node in report.nodes
        ]
    )
    head, _, tail = body.partition('"nodes": []')
    return f'{head}"nodes": [\n    {lines}\n  ]{tail}'
