"""The Markdown report, for pull-request comments: a summary table, then the findings."""

from __future__ import annotations

import re

from trtforge.analyzer.findings import Fix
from trtforge.analyzer.report import PLUGIN, Report
from trtforge.analyzer.reports._summary import (
    INVALID_LINE,
    fix_plan,
    unsupported_op_types,
    verdict_line,
)
from trtforge.analyzer.safe_text import printable

#: findings listed in the table before the rest collapse into a <details> block.
SHOWN = 50


#: HTML's special characters as entities, `&` first (each replaced over the whole text: a
#: report of 40,000 findings has ~20 million characters of cells, ~1 s when mapped one by one)
_HTML = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))

#: the characters Markdown reads, each escaped with a backslash
_MARKDOWN = re.compile(r"([\\`*_\[\]#!~])")


def _cell(text: str) -> str:
    """Untrusted text safe inside a table cell: one line (newlines and control characters made
    visible escapes), no pipes breaking the row, no Markdown or HTML taking effect."""
    text = printable(text)
    for special, entity in _HTML:
        text = text.replace(special, entity)
    text = _MARKDOWN.sub(r"\\\1", text)
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """Untrusted text as inline code in a table cell: one line, no backtick ending the span,
    pipes escaped (GitHub splits table cells on `|` even inside code spans)."""
    safe = printable(text).replace("`", "'").replace("|", "\\|")
    return f"`{safe}`"


def _fix(fix: Fix) -> str:
    if fix.kind == "rewrite":
        return _code(f"--{fix.name}")
    if fix.kind == "plugin":
        return f"plugin {_code(fix.name)}"
    return _cell(fix.name)


def render(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    tally = report.tally()
    mark = "✅" if tally.supported else "❌"
    s = tally.summary
    out = [
        f"## {mark} trt-check: {_code(report.model.path)} on {_code(report.target)}",
        "",
        f"**{verdict_line(report, tally)}** — backend `{report.backend}`",
        *(["", f"_{_cell(report.selection)}_"] if report.selection else []),
        "",
        "| status | nodes |",
        "|---|---:|",
        f"| supported | {s['supported']} |",
        f"| unsupported | {s['unsupported']} |",
        f"| plugin | {s['plugin']} |",
        f"| **total** | **{len(report.nodes)}** |",
    ]
    op_types = unsupported_op_types(report, tally)
    if op_types:
        out += ["", "### Unsupported op types", "", "| op type | nodes | why |", "|---|---:|---|"]
        out += [f"| {_code(r.label)} | {r.count} | {_cell(', '.join(r.codes))} |" for r in op_types]
    plan = fix_plan(report, tally)
    if plan.command:
        out += [
            "",
            f"### {plan.heading}",
            "",
            "```sh",
            printable(plan.command).replace("`", "'"),
            "```",
        ]
    if plan.plugins:
        names = ", ".join(f"{_code(n)} ({c})" for n, c in plan.plugins)
        out += ["", f"Plugins that cover nodes: {names}"]
    if plan.invalid:
        out += ["", INVALID_LINE]

    rows = []
    for node in tally.noteworthy:
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
    plugins = [n for n in tally.noteworthy if n.status == PLUGIN and n.ok and n.plugin]
    if plugins:
        out += ["", "### Nodes that run through plugins", ""]
        out += [
            f"- #{n.index} {_code(n.name)}: {_code(f'{n.plugin.namespace}::{n.plugin.name}')} "
            f"v{_cell(n.plugin.version)}"
            for n in plugins
        ]
    if report.notes:
        out += [""] + [f"_Note: {_cell(note)}_" for note in report.notes]
    return "\n".join(out) + "\n"
