"""The human-readable report (placeholder until the rich report lands)."""

from __future__ import annotations

from trtforge.analyzer.report import Report


def render(report: Report, color: bool = False) -> str:
    lines = [f"{report.model.path}: {report.summary} on {report.target} ({report.backend})"]
    for node in report.unsupported_nodes:
        for reason in node.reasons:
            lines.append(f"  [{reason.code}] {reason.message}")
    return "\n".join(lines)
