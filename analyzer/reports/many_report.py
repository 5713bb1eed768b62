"""The summary of a many-model run (`trt-check a.onnx models/`): one row per model.

text and markdown: a table (model, verdict, node counts, unsupported op types or the error,
seconds) and the totals. json: the `trtforge.check-many/1` wrapper (schema file
`schemas/check-many.schema.json`) whose `models[].report` are whole `trtforge.check/1` reports.
sarif: one SARIF run per model (a bad file is a run whose invocation failed, with the error as
a tool notification).
"""

from __future__ import annotations

import io
import json
import os
import shutil

from trtforge.analyzer.batch import ERROR, SCHEMA_ID, BatchResult, ModelResult
from trtforge.analyzer.reports._summary import unsupported_op_types
from trtforge.analyzer.safe_text import printable

#: unsupported op types listed per row.
SHOWN_OPS = 3
#: width when not writing to a terminal (rows do not wrap in logs).
PLAIN_WIDTH = 160


def _what(result: ModelResult) -> str:
    """The row's last cell: the unsupported op types, or the error (untrusted text, made
    printable: an error quotes the file's path, a label the model's op types)."""
    if result.error is not None:
        hint = f" (Hint: {result.error.hint})" if result.error.hint else ""
        return printable(f"{result.error.message}{hint}")
    rows = unsupported_op_types(result.report)
    text = ", ".join(f"{r.label} ×{r.count}" for r in rows[:SHOWN_OPS])
    return printable(
        text + (f", … ({len(rows) - SHOWN_OPS} more)" if len(rows) > SHOWN_OPS else "")
    )


def _counts(result: ModelResult) -> tuple[str, str, str]:
    if result.report is None:
        return "", "", ""
    s = result.report.summary
    return str(len(result.report.nodes)), str(s["unsupported"]), str(s["plugin"])


def totals_line(batch: BatchResult) -> str:
    c = batch.counts
    n = len(batch.results)
    return (
        f"{n} model{'s' * (n != 1)}: {c['supported']} supported, {c['unsupported']} not "
        f"supported, {c['error']} could not be checked"
    )


def render_text(batch: BatchResult, color: bool = False) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    color = color and not os.environ.get("NO_COLOR")
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=max(shutil.get_terminal_size((PLAIN_WIDTH, 24)).columns, 60)
        if color
        else PLAIN_WIDTH,
        highlight=False,
        emoji=False,
    )
    targets = sorted({r.report.target for r in batch.results if r.report is not None})
    backends = sorted({r.report.backend for r in batch.results if r.report is not None})
    console.print(
        f"[bold]trt-check[/]  ·  target {', '.join(targets) or '-'}  ·  backend "
        f"{', '.join(backends) or '-'}",
        soft_wrap=True,
    )
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("model", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("nodes", justify="right")
    table.add_column("unsupported", justify="right")
    table.add_column("plugin", justify="right")
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("unsupported op types / error", overflow="fold", min_width=32)
    style = {"supported": "green", "unsupported": "red", ERROR: "yellow"}
    for result in batch.results:
        nodes, bad, plugin = _counts(result)
        verdict = {"supported": "supported", "unsupported": "NOT supported", ERROR: "error"}
        table.add_row(
            escape(printable(result.path)),
            f"[{style[result.status]}]{verdict[result.status]}[/]",
            nodes,
            bad,
            plugin,
            f"{result.seconds:.2f}",
            escape(_what(result)),
        )
    console.print(table)
    console.print()
    console.print(f"[bold]{escape(totals_line(batch))}[/]", soft_wrap=True)
    console.print(
        "[dim]Per-model details: trt-check MODEL (one model), or --format json[/]", soft_wrap=True
    )
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def render_markdown(batch: BatchResult) -> str:
    mark = "✅" if batch.exit_code == 0 else "❌"
    out = [
        f"## {mark} trt-check: {len(batch.results)} models",
        "",
        f"**{totals_line(batch)}**",
        "",
        "| model | verdict | nodes | unsupported | plugin | unsupported op types / error |",
        "|---|---|---:|---:|---:|---|",
    ]
    for result in batch.results:
        nodes, bad, plugin = _counts(result)
        out.append(
            f"| `{_cell(printable(result.path))}` | {result.status} | {nodes} | {bad} | {plugin} | "
            f"{_cell(_what(result))} |"
        )
    return "\n".join(out) + "\n"


def render_json(batch: BatchResult) -> str:
    """`batch.to_json()` as text (`json.loads` of it equals it: tested), each model's report
    written by the single-model renderer (`json_report.render`: a node a line, by the C
    encoder, which `indent` turns off) — `json.dumps(..., indent=1)` of the whole took 1.4 s
    per 100,000-node model."""
    from trtforge.analyzer.reports import json_report

    summary = {"models": len(batch.results), **batch.counts}
    doc = {"schema": SCHEMA_ID, "models": [], "summary": summary}
    head, _, tail = _dumped(doc).partition('"models": []')
    rows = []
    for result in batch.results:
        row = result.to_json_without_report()
        text = _dumped(row)
        if result.report is not None:
            # a JSON text holds a line break only between its tokens (strings escape theirs),
            # so the row's own `"report": null` is the one at the start of a line
            before, found, after = text.partition('\n "report": null')
            assert found, "the row holds its report"
            report = json_report.render(result.report).replace("\n", "\n ")
            text = f'{before}\n "report": {report}{after}'
        rows.append(text.replace("\n", "\n  "))
    models = "[\n  " + ",\n  ".join(rows) + "\n ]" if rows else "[]"
    return f'{head}"models": {models}{tail}'


def _dumped(value) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def render_sarif(batch: BatchResult) -> str:
    from trtforge.analyzer.reports import sarif_report

    log: dict = {"$schema": sarif_report.SARIF_SCHEMA, "version": sarif_report.SARIF_VERSION}
    runs = []
    for result in batch.results:
        if result.report is not None:
            runs += json.loads(sarif_report.render(result.report))["runs"]
            continue
        message = result.error.message + (
            f"\nHint: {result.error.hint}" if result.error.hint else ""
        )
        runs.append(
            {
                "tool": {"driver": {"name": "trtforge", "fullName": "trtforge trt-check"}},
                "artifacts": [{"location": {"uri": result.path}}],
                "results": [],
                "invocations": [
                    {
                        "executionSuccessful": False,
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": message}}
                        ],
                    }
                ],
            }
        )
    log["runs"] = runs
    return json.dumps(log, indent=None if len(runs) > 20 else 2, ensure_ascii=False)


def render(batch: BatchResult, fmt: str, color: bool = False) -> str:
    """The summary in format `fmt` (`text`, `json`, `sarif`, `markdown`)."""
    if fmt == "text":
        return render_text(batch, color=color)
    return {"json": render_json, "sarif": render_sarif, "markdown": render_markdown}[fmt](batch)
