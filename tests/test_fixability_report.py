"""benchmarks/fixability.py's report: runs' JSON files (the current format and the bare list
older runs wrote) merged into docs/fixability.md's tables, the analysis section kept."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fixability.py"


@pytest.fixture(scope="module")
def fx():
    spec = importlib.util.spec_from_file_location("_fixability_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _outcome(category, model, **kw) -> dict:
    base = {"category": category, "model": model, "rejected_before": True, "unsupported_before": 2}
    return {**base, **kw}


def test_report_merges_runs_and_keeps_the_analysis(fx, tmp_path):
    ours = {
        "meta": {"date": "2026-12-04 05:00 UTC", "machine": "X, 2 CPUs", "command": "run D"},
        "outcomes": [
            _outcome(
                "ml",
                "a.onnx",
                parses_after=True,
                builds_after=True,
                verified="yes",
                unsupported_after=0,
                passes=["lower-ml"],
            ),  # fmt: skip
            _outcome(
                "ml",
                "b.onnx",
                strings=True,
                io="output p: seq(map(int64,float))",
                parses_after=False,
                builds_after=False,
                verified="yes",
                split="builds",
                host_nodes=["ZipMap"],
                reason="trt-build: parser refused | ZipMap",
            ),  # fmt: skip
            _outcome("ml", "c.onnx", rejected_before=False, unsupported_before=0),
        ],
    }
    older = [  # a detection run written by an older version: a bare list, an unknown key
        _outcome(
            "detection",
            "d.onnx",
            parses_after=True,
            builds_after=False,
            verified="yes (regions)",
            reason="trt-build: builder failed",
            extra_key=1,
        ),  # fmt: skip
        _outcome(
            "detection",
            "e.onnx",
            parses_after=False,
            builds_after=False,
            verified="no: trt-rewrite: error: x",
        ),  # fmt: skip
    ]
    (tmp_path / "ours.json").write_text(json.dumps(ours))
    (tmp_path / "det.json").write_text(json.dumps(older))
    runs, results = [], []
    for name in ("ours.json", "det.json"):
        meta, outcomes = fx.load_results(tmp_path / name)
        runs.append((name, meta))
        results += outcomes
    doc = tmp_path / "fixability.md"
    fx._write_report(doc, runs, results)
    text = doc.read_text()
    rows: dict[str, str] = {}
    for line in text.splitlines():  # the summary table comes first
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    cells = lambda key: [c.strip() for c in rows[key].split("|")[2:-1]]  # noqa: E731
    # models, rejected, non-tensor I/O, rejected tensor I/O, parse, build, verified, split builds
    assert cells("`ml`") == ["3", "2", "1", "1", "1", "1", "1", "1"]
    assert cells("`detection`") == ["2", "2", "0", "2", "1", "0", "1", "0"]
    assert cells("**all**") == ["5", "4", "1", "3", "2", "1", "2", "1"]
    assert "2/3 = 66.7%" in text
    assert "- `ours.json`: 2026-12-04 05:00 UTC; X, 2 CPUs" in text
    assert "- `det.json`: no provenance recorded" in text
    assert "parser refused \\| ZipMap" in text  # a '|' in a reason does not break the table
    assert "builds (host: ZipMap)" in text
    # regenerating keeps what was written below the analysis mark
    doc.write_text(text + "## What fails and why\n\nhand-written\n")
    fx._write_report(doc, runs, results[:1])
    again = doc.read_text()
    assert again.count(fx.ANALYSIS_MARK) == 1 and again.endswith("hand-written\n")
    assert "| **all** | 1 |" in again


def _completed(returncode: int, stdout: str = "", stderr: str = ""):
    import subprocess

    return subprocess.CompletedProcess([], returncode, stdout, stderr)


def test_a_plugin_node_whose_kernels_are_missing_counts_as_rejected(fx, monkeypatch, tmp_path):
    """trt-check's verdict counts a node served only by a plugin this install has not built
    (status "plugin", not available): the benchmark read `summary.unsupported` alone and
    called two Longformer/LED exports with 20 such NonZero nodes "accepted as exported"."""
    nodes = [
        {"status": "supported"},
        {"status": "plugin", "plugin": {"available": False}},
        {"status": "plugin", "plugin": {"available": True}},
    ]
    report = {"supported": False, "nodes": nodes, "summary": {"unsupported": 0, "plugin": 2}}
    monkeypatch.setattr(fx, "_run", lambda cmd, timeout=0: _completed(1, json.dumps(report)))
    assert fx._check(tmp_path / "m.onnx") == (1, "")
    # a graph error with every node supported is a rejection too
    report = {"supported": False, "nodes": [{"status": "supported"}], "summary": {}}
    assert fx._check(tmp_path / "m.onnx") == (1, "")


def test_a_build_refused_before_the_parser_ran_asks_the_parser(fx, monkeypatch, tmp_path):
    """trt-build refuses up front when a plugin's kernels are not built; that said nothing of
    parsing, but counted as "parses" (and so `--split` was never tried)."""
    runs = []

    def run(cmd, timeout=0):
        runs.append(cmd)
        if "trt-build" in " ".join(map(str, cmd)):
            return _completed(1, stderr="trt-build: error: trtforge's CUDA kernels were not built")
        return _completed(1)  # the parser refuses a node

    monkeypatch.setattr(fx, "_run", run)
    monkeypatch.setattr(fx, "_build_shapes", lambda *a: [])
    parses, builds, why = fx._trt_build(tmp_path / "m.onnx", tmp_path / "m.onnx", tmp_path / "e")
    assert (parses, builds) == (False, False) and "kernels" in why
    assert any("--backend" in cmd and "parser" in cmd for cmd in runs)
