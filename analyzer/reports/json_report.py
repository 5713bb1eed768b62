"""The JSON report (schema `trtforge.check/1`, see analyzer/schemas/check.schema.json)."""

from __future__ import annotations

import json

from trtforge.analyzer.report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
