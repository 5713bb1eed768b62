"""Report writers: text (rich), json, sarif, markdown."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.report import Report


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report in format `fmt` (`text`, `json`, `sarif`, `markdown`)."""
    if fmt not in ("text", "json", "sarif", "markdown"):
        raise UserError(f"unknown format '{fmt}'", "use text, json, sarif or markdown")
    module = importlib.import_module(f"trtforge.analyzer.reports.{fmt}_report")
    return module.render(report, color=color) if fmt == "text" else module.render(report)


def write_report(text: str, output: str | None) -> None:
    """Prints `text`, or writes it atomically to `output`."""
    if output is None:
        import sys

        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = Path(output)
    if path.is_dir():
        raise UserError(f"{path}: is a directory", "pass a file name to -o")
    if not path.parent.exists():
        raise UserError(f"{path.parent}: no such directory", "create it first, or pick another -o")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
