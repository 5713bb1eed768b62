"""Report writers: text (rich), json, sarif, markdown."""

from __future__ import annotations

import importlib

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.report import Report


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report in format `fmt` (`text`, `json`, `sarif`, `markdown`)."""
    if fmt not in ("text", "json", "sarif", "markdown"):
        raise UserError(f"unknown format '{fmt}'", "use text, json, sarif or markdown")
    module = importlib.import_module(f"trtforge.analyzer.reports.{fmt}_report")
    return module.render(report, color=color) if fmt == "text" else module.render(report)


def write_report(text: str, output: str | None) -> None:
    """Prints `text`, or writes it atomically to `output` (`trtforge.analyzer.outputs`)."""
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        import sys

        # undecodable bytes of a path (lone surrogates) as visible escapes, never an error
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
        return
    from trtforge.analyzer.outputs import write_text

    write_text(output, text, "-o")
