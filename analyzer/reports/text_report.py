"""The human-readable report, rendered with rich.

Layout: a summary first (verdict and counts, the unsupported op types with counts, the one
`trt-rewrite` command that fixes the most), then details per unsupported node (reasons, hints,
fixes), nodes that run through plugins, nodes with warnings, and graph-level findings.
Colour only when asked (the CLI asks when stdout is a terminal) and NO_COLOR is unset. Long
names never truncate: lines soft-wrap, and groups of identical findings collapse after a few
nodes.
"""

from __future__ import annotations

import io
import os
import shutil

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.report import PLUGIN, NodeVerdict, Report, Tally
from trtforge.analyzer.reports._summary import (
    INVALID_LINE,
    by_kin,
    fix_plan,
    unsupported_op_types,
    verdict_line,
)
from trtforge.analyzer.safe_text import printable

#: nodes shown in full per group of identical findings (op type + codes) before collapsing.
SHOWN_PER_GROUP = 5
#: groups of nodes shown per section, and rows of the unsupported op types' table, before the
#: rest is summed up in a line (a model of 100,000 distinct custom ops printed 100,000 groups:
#: ~40 s of rendering; the JSON report lists every one)
SHOWN_GROUPS = 40
SHOWN_OP_TYPES = 30
#: width used when not writing to a terminal.
PLAIN_WIDTH = 100


def escape(text: str) -> str:
    """Untrusted text (names from the model, paths) for rich: control characters and escape
    sequences made visible (`safe_text.printable`), then rich's markup escaped."""
    return _markup_escape(printable(text))


def _fix_text(fix: Fix) -> str:
    if fix.kind == "rewrite":
        text = f"trt-rewrite --{fix.name}"
    elif fix.kind == "plugin":
        text = f"plugin {fix.name}"
    else:
        text = fix.name
    return f"{text} ({fix.detail})" if fix.detail else text


def _node_title(node: NodeVerdict) -> str:
    domain = f" [dim]({escape(node.domain)})[/]" if node.domain not in ("", "ai.onnx") else ""
    name = escape(node.name) if node.name else "[dim]<unnamed>[/]"
    return f"[bold]#{node.index}[/] {name}  [cyan]{escape(node.op_type)}[/]{domain}"


def _print_finding(console: Console, finding: Finding, indent: str = "    ") -> None:
    mark = "[red]✗[/]" if finding.is_error else "[yellow]![/]"
    console.print(
        f"{indent}{mark} [magenta]{escape(finding.code)}[/]: {escape(finding.message)}",
        soft_wrap=True,
    )
    if finding.inner:
        console.print(f"{indent}  at: {escape(finding.inner)}", soft_wrap=True)
    if finding.hint:
        console.print(f"{indent}  Hint: {escape(finding.hint)}", soft_wrap=True)
    for fix in finding.fixes:
        console.print(f"{indent}  Fix: [green]{escape(_fix_text(fix))}[/]", soft_wrap=True)


def _summary(console: Console, report: Report, tally: Tally) -> None:
    console.print(
        f"[bold]trt-check[/] {escape(report.model.path)}"
        f"  ·  target [bold]{escape(report.target)}[/]"
        f"  ·  backend {escape(report.backend)}",
        soft_wrap=True,
    )
    if report.selection:
        console.print(f"[dim]{escape(report.selection)}[/]", soft_wrap=True)
    style = "bold green" if tally.supported else "bold red"
    console.print(f"[{style}]{escape(verdict_line(report, tally))}[/]", soft_wrap=True)

    op_types = unsupported_op_types(report, tally)
    if op_types:
        table = Table(title=None, box=None, pad_edge=False, show_edge=False, header_style="bold")
        table.add_column("unsupported op type", overflow="fold")
        table.add_column("nodes", justify="right")
        table.add_column("why", overflow="fold")
        for row in op_types[:SHOWN_OP_TYPES]:
            table.add_row(escape(row.label), str(row.count), escape(", ".join(row.codes)))
        rest = op_types[SHOWN_OP_TYPES:]
        if rest:
            table.add_row(
                f"… {len(rest)} more op types",
                str(sum(row.count for row in rest)),
                "--format json lists every one",
            )
        console.print()
        console.print(table)

    plan = fix_plan(report, tally)
    if plan.command:
        console.print()
        console.print(f"[bold]{plan.heading}:[/]", soft_wrap=True)
        console.print(f"  [green]{escape(plan.command)}[/]", soft_wrap=True)
    if plan.plugins:
        names = ", ".join(f"{escape(name)} ({n} node{'s' * (n != 1)})" for name, n in plan.plugins)
        console.print(f"[bold]Plugins that cover nodes:[/] {names}", soft_wrap=True)
    if plan.invalid:
        console.print()
        console.print(INVALID_LINE, soft_wrap=True)
    elif not tally.supported and not plan.command and not plan.plugins and plan.total:
        console.print()
        console.print(
            "No rewrite pass or plugin covers these nodes yet; see the hints below.",
            soft_wrap=True,
        )


def _group_key(node: NodeVerdict) -> tuple:
    return (node.op_type, node.domain, tuple(r.code for r in node.reasons))


def _details(console: Console, report: Report, tally: Tally) -> None:
    bad = tally.unsupported
    if bad:
        console.print()
        console.rule("[bold]Unsupported nodes[/]", align="left")
        _print_node_groups(console, bad, "findings")

    noteworthy = tally.noteworthy
    plugins = [n for n in noteworthy if n.status == PLUGIN and n.ok]
    if plugins:
        console.print()
        console.rule("[bold]Nodes that run through plugins[/]", align="left")
        for node in plugins[: SHOWN_GROUPS * SHOWN_PER_GROUP]:
            ref = node.plugin
            where = f"{ref.namespace}::{ref.name} v{ref.version}" if ref else "a plugin"
            console.print(f"{_node_title(node)}  → {escape(where)}", soft_wrap=True)
        hidden = len(plugins) - SHOWN_GROUPS * SHOWN_PER_GROUP
        if hidden > 0:
            console.print(
                f"[dim]… and {hidden} more nodes through plugins (--format json lists every "
                "one)[/]",
                soft_wrap=True,
            )

    warned = [n for n in noteworthy if n.ok and any(not r.is_error for r in n.reasons)]
    if warned:
        console.print()
        console.rule("[bold]Warnings (these nodes build)[/]", align="left")
        _print_node_groups(console, warned, "warnings")

    if report.graph_findings:
        console.print()
        console.rule("[bold]Graph[/]", align="left")
        groups: dict[tuple, list[Finding]] = {}
        for finding in report.graph_findings:
            groups.setdefault((finding.code, finding.hint), []).append(finding)
        for group in groups.values():
            for finding in group[:SHOWN_PER_GROUP]:
                _print_finding(console, finding, indent="  ")
            rest = len(group) - SHOWN_PER_GROUP
            if rest > 0:  # (a model with 10,000 dynamic inputs: the JSON report lists all)
                console.print(
                    f"  [dim]… and {rest} more {escape(group[0].code)} findings with the same "
                    "hint (--format json lists every one)[/]",
                    soft_wrap=True,
                )

    for note in report.notes:
        console.print(f"[dim]Note: {escape(note)}[/]", soft_wrap=True)


def _print_node_groups(console: Console, nodes: list[NodeVerdict], what: str) -> None:
    """`nodes` grouped by op and finding codes (`_group_key`): the first SHOWN_PER_GROUP of
    each group with their findings, then the others of the group by name only (a model of
    50,000 nodes alike prints a few dozen lines); after SHOWN_GROUPS groups, one line sums
    up the rest (a model of 100,000 distinct custom ops)."""
    shown: dict[tuple, list[NodeVerdict]] = {}
    group_key = by_kin(_group_key)
    for node in nodes:
        shown.setdefault(group_key(node), []).append(node)
    groups = list(shown.values())
    for group in groups[:SHOWN_GROUPS]:
        for node in group[:SHOWN_PER_GROUP]:
            console.print(_node_title(node), soft_wrap=True)
            if node.status == PLUGIN and node.plugin is not None and not node.reasons:
                console.print(
                    f"    [red]✗[/] plugin {escape(node.plugin.namespace)}::"
                    f"{escape(node.plugin.name)} v{escape(node.plugin.version)} "
                    "is not available",
                    soft_wrap=True,
                )
            for reason in node.reasons:
                _print_finding(console, reason)
        rest = group[SHOWN_PER_GROUP:]
        if rest:
            names = ", ".join(f"#{n.index} {n.name}" for n in rest[:20])
            more = f", … ({len(rest) - 20} more)" if len(rest) > 20 else ""
            console.print(
                f"  [dim]… and {len(rest)} more {escape(rest[0].op_type)} nodes with the "
                f"same {what}: {escape(names)}{more}[/]",
                soft_wrap=True,
            )
    hidden = groups[SHOWN_GROUPS:]
    if hidden:
        console.print(
            f"[dim]… and {sum(map(len, hidden))} more nodes in {len(hidden)} groups of other "
            f"op types or {what} (--format json lists every one)[/]",
            soft_wrap=True,
        )


def render(report: Report, color: bool = False) -> str:
    """The report as text; ANSI colour only when `color` is true and NO_COLOR is not set
    (https://no-color.org)."""
    color = color and not os.environ.get("NO_COLOR")
    buffer = io.StringIO()
    width = shutil.get_terminal_size((PLAIN_WIDTH, 24)).columns if color else PLAIN_WIDTH
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=max(width, 60),
        highlight=False,
        emoji=False,
    )
    tally = report.tally()
    _summary(console, report, tally)
    _details(console, report, tally)
    return buffer.getvalue()
