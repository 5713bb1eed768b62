"""Report writers: text (rich), json, sarif, markdown."""

from __future__ import annotations

import importlib

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.report import Report

FORMATS = ("text", "json", "sarif", "markdown")

#: the formats whose report shows the model file's SHA-256 (`api.check`'s `shows_digest`)
SHOWS_DIGEST = ("json", "sarif")


def _writer(fmt: str):
    if fmt not in FORMATS:
        raise UserError(f"unknown format '{fmt}'", "use text, json, sarif or markdown")
    return importlib.import_module(f"trtforge.analyzer.reports.{fmt}_report")


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report in format `fmt` (`text`, `json`, `sarif`, `markdown`)."""
    module = _writer(fmt)
    return module.render(report, color=color) if fmt == "text" else module.render(report)


def prepare(fmt: str, output: str | None) -> None:
    """Imports what `render(…, fmt)` and `write_report(…, output)` will need (rich, for text:
    ~0.03 s), so that a command can do it while it waits anyway (`background.when_idle`);
    an unknown format is left for `render` to refuse."""
    if fmt in FORMATS:
        _writer(fmt)
    if output is not None:
        import trtforge.analyzer.outputs  # noqa: F401


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
