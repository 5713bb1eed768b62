"""The JSON report (schema `trtforge.check/1`, see analyzer/schemas/check.schema.json).

Indented for reading, except that each node is one compact line: diffs stay line-per-node, and
the C JSON encoder (which `indent` disables) keeps a 100,000-node report fast.
"""

from __future__ import annotations

import json

from trtforge.analyzer.report import Report

_compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def render(report: Report) -> str:
    doc = report.to_json()
    nodes, doc["nodes"] = doc["nodes"], []  # same key order as the schema's example
    body = json.dumps(doc, indent=2, ensure_ascii=False)
    if not nodes:
        return body
    lines = ",\n    ".join(_compact(node) for node in nodes)
    head, marker, tail = body.partition('"nodes": []')
    return f"{head}\"nodes\": [\n    {lines}\n  ]{tail}"
