"""The Markdown report, for pull-request comments: a summary table, then the findings."""

from __future__ import annotations

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.report import PLUGIN, Report
from trtforge.analyzer.reports._summary import fix_plan, unsupported_op_types, verdict_line

#: findings listed in the table before the rest collapse into a <details> block.
SHOWN = 50


def _cell(text: str) -> str:
    """Text safe inside a table cell: no pipes or newlines breaking the row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _code(text: str) -> str:
    safe = text.replace("`", "'")
    return f"`{safe}`"


def _fix(fix: Fix) -> str:
    if fix.kind == "rewrite":
        return _code(f"--{fix.name}")
    if fix.kind == "plugin":
        return f"plugin {_code(fix.name)}"
    return _cell(fix.name)


def render(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    mark = "✅" if report.supported else "❌"
    s = report.summary
    out = [
        f"## {mark} trt-check: {_code(report.model.path)} on `{report.target}`",
        "",
        f"**{verdict_line(report)}** — backend `{report.backend}`",
        *(["", f"_{_cell(report.selection)}_"] if report.selection else []),
        "",
        "| status | nodes |",
        "|---|---:|",
        f"| supported | {s['supported']} |",
        f"| unsupported | {s['unsupported']} |",
        f"| plugin | {s['plugin']} |",
        f"| **total** | **{len(report.nodes)}** |",
    ]
    op_types = unsupported_op_types(report)
    if op_types:
        out += ["", "### Unsupported op types", "", "| op type | nodes | why |", "|---|---:|---|"]
        out += [f"| {_code(r.label)} | {r.count} | {_cell(', '.join(r.codes))} |" for r in op_types]
    plan = fix_plan(report)
    if plan.command:
        out += [
            "",
            f"### {plan.heading}",
            "",
            "```sh",
            plan.command,
            "```",
        ]
    if plan.plugins:
        names = ", ".join(f"{_code(n)} ({c})" for n, c in plan.plugins)
        out += ["", f"Plugins that cover nodes: {names}"]

    rows = []
    for node in report.nodes:
        for reason in node.reasons:
            if node.ok and reason.is_error:
                continue
            fixes = ", ".join(_fix(f) for f in reason.fixes) or ""
            level = "error" if reason.is_error else "warning"
            message = reason.message + (f" — Hint: {reason.hint}" if reason.hint else "")
            rows.append(
                f"| {node.index} | {_code(node.name or '<unnamed>')} | {_code(node.op_type)} "
                f"| {level} | {_code(reason.code)} | {_cell(message)} | {fixes} |"
            )
        if node.status == PLUGIN and not node.ok and not node.reasons and node.plugin:
            rows.append(
                f"| {node.index} | {_code(node.name)} | {_code(node.op_type)} | error | "
                f"`plugin-not-registered` | plugin {_cell(node.plugin.name)} is not available | |"
            )
    for reason in report.graph_findings:
        fixes = ", ".join(_fix(f) for f in reason.fixes)
        level = "error" if reason.is_error else "warning"
        message = reason.message + (f" — Hint: {reason.hint}" if reason.hint else "")
        rows.append(
            f"| – | graph | – | {level} | {_code(reason.code)} | {_cell(message)} | {fixes} |"
        )
    if rows:
        header = [
            "| # | node | op | level | code | message | fix |",
            "|---:|---|---|---|---|---|---|",
        ]
        out += ["", "### Findings", ""] + header + rows[:SHOWN]
        if len(rows) > SHOWN:
            out += [
                "",
                f"<details><summary>{len(rows) - SHOWN} more findings</summary>",
                "",
                *header,
                *rows[SHOWN:],
                "",
                "</details>",
            ]
    plugins = [n for n in report.nodes if n.status == PLUGIN and n.ok and n.plugin]
    if plugins:
        out += ["", "### Nodes that run through plugins", ""]
        out += [
            f"- #{n.index} {_code(n.name)}: {_code(f'{n.plugin.namespace}::{n.plugin.name}')} "
            f"v{n.plugin.version}"
            for n in plugins
        ]
    if report.notes:
        out += [""] + [f"_Note: {_cell(note)}_" for note in report.notes]
    return "\n".join(out) + "\n"
