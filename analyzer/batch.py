"""Checking many models in one process: `trt-check a.onnx b.onnx models/`.

Folders are searched recursively for `*.onnx`. Every model is checked on its own; a model that
cannot be loaded (a bad file) becomes an error row rather than stopping the run, so one broken
file in a folder of hundreds does not hide the others' verdicts. The exit status is the worst
of the rows: 0 all supported, 1 some model has an unsupported node, 2 some file is bad input —
the codes a single-model run would have given for that model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.report import Report

SCHEMA_ID = "trtforge.check-many/1"

SUPPORTED, UNSUPPORTED, ERROR = "supported", "unsupported", "error"
EXIT_BY_STATUS = {SUPPORTED: 0, UNSUPPORTED: 1, ERROR: 2}


@dataclass
class ModelResult:
    """One row: a model's report, or why it could not be checked."""

    path: str
    seconds: float
    report: Report | None = None
    error: UserError | None = None

    @property
    def status(self) -> str:
        if self.report is None:
            return ERROR
        return SUPPORTED if self.report.supported else UNSUPPORTED

    def to_json(self) -> dict:
        row = self.to_json_without_report()
        if self.report is not None:
            row["report"] = self.report.to_json()
        return row

    def to_json_without_report(self) -> dict:
        """`to_json()` with `"report": None` (the renderer writes a report itself)."""
        return {
            "path": self.path,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "report": None,
            "error": (
                {"message": self.error.message, "hint": self.error.hint}
                if self.error is not None
                else None
            ),
        }


@dataclass
class BatchResult:
    """Every row, in the order the models were found."""

    results: list[ModelResult]

    @property
    def counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.results]
        return {s: statuses.count(s) for s in (SUPPORTED, UNSUPPORTED, ERROR)}

    @property
    def exit_code(self) -> int:
        return max((EXIT_BY_STATUS[r.status] for r in self.results), default=0)

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA_ID,
            "models": [r.to_json() for r in self.results],
            "summary": {"models": len(self.results), **self.counts},
        }


def collect(paths: Iterable[str]) -> list[Path]:
    """The model files named by `paths`: files as given, folders searched recursively for
    `*.onnx` (sorted), each file once. What a folder holds under that name that is not a
    folder (searched itself) is a model to check too, so that a FIFO, a device or a broken
    link there becomes an error row (`loading.require_model_file`), never a silent skip.

    Raises:
        UserError: a folder holds no `.onnx` file.
    """
    found: dict[Path, None] = {}
    for text in paths:
        path = Path(text)
        if os.path.isdir(path):  # False, not an error, where it cannot be looked at
            models = sorted(_models_below(path))
            if not models:
                raise UserError(
                    f"{path}: no .onnx file in this folder or below it",
                    "pass model files, or a folder that contains some",
                )
            found.update(dict.fromkeys(models))
        else:
            found.setdefault(path, None)  # a missing or bad file becomes an error row
    return list(found)


def _models_below(folder: Path) -> list[Path]:
    """Every entry named `*.onnx` in `folder` and the folders below it that is not itself a
    folder, walked with a stack (a tree nested a thousand deep would exhaust the recursion
    of `Path.rglob`); links to folders are not entered (no loops), unreadable folders are
    skipped, as rglob does."""
    found: list[Path] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    if is_dir:
                        stack.append(Path(entry.path))
                    elif entry.name.endswith(".onnx") and not os.path.isdir(entry.path):
                        found.append(Path(entry.path))
        except OSError:
            continue
    return found


def check_many(
    paths: list[Path],
    check: Callable[[str], Report],
    progress: Callable[[str], None] | None = None,
) -> BatchResult:
    """Runs `check` on each path; bad input (`UserError`) becomes an error row.

    Args:
        paths: model files (see `collect`).
        check: checks one model path (e.g. `api.check` with target and backend bound).
        progress: called with each path before it is checked.
    """
    results = []
    for path in paths:
        if progress is not None:
            progress(str(path))
        started = time.perf_counter()
        try:
            report = check(str(path))
        except UserError as err:
            results.append(ModelResult(str(path), time.perf_counter() - started, error=err))
            continue
        results.append(ModelResult(str(path), time.perf_counter() - started, report=report))
    return BatchResult(results)
