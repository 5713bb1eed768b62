"""Acceptance 2: trt-check → trt-rewrite --auto → trt-check goes from findings to zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from trtforge.analyzer.kb import find_rule

ROOT = Path(__file__).resolve().parents[2]
TARGET = "trt-10"

CONTRIB = """<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
g (float[2,4,16] x, float[2,4,16] skip, float[16,16] w) => (float[2,4,16] y) <float[16] gamma = {1,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2}, float[16] beta = {0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1}, float[16] bias = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}> {
 n, m, iv, s = com.microsoft.SkipLayerNormalization<epsilon=1e-5>(x, skip, gamma, beta)
 h = MatMul(n, w)
 a = com.microsoft.FastGelu(h, bias)
 y = Add(a, s)
}"""


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300
    )


def _check(path: Path) -> dict:
    proc = _cli(
        "trtforge.analyzer.cli.check",
        str(path),
        "--backend",
        "static",
        "--target",
        TARGET,
        "--format",
        "json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _round_trip(src: Path, tmp_path: Path) -> tuple[dict, dict, dict]:
    before = _check(src)
    out, report = tmp_path / "fixed.onnx", tmp_path / "r.json"
    proc = _cli(
        "trtforge.analyzer.cli.rewrite",
        str(src),
        "-o",
        str(out),
        "--auto",
        "--target",
        TARGET,
        "--report",
        str(report),
    )
    assert proc.returncode == 0, proc.stderr
    assert "before →" in proc.stderr
    return before, _check(out), json.loads(report.read_text())


def _kb_gaps(path: Path) -> list[str]:
    model = onnx.load(path)
    return sorted(
        {
            n.op_type
            for n in model.graph.node
            if n.domain in ("", "ai.onnx") and find_rule("", n.op_type) is None
        }
    )


def test_auto_applies_the_passes_trt_check_names(tmp_path):
    src = tmp_path / "contrib.onnx"
    onnx.save(onnx.parser.parse_model(CONTRIB), src)
    before, after, report = _round_trip(src, tmp_path)
    fixes = {f["pass"] for n in before["nodes"] for f in n["fixes"] if f["kind"] == "rewrite"}
    assert fixes == {"decompose-contrib"}
    assert report["auto"]["passes"] == ["decompose-contrib"]
    assert report["passes"]["decompose-contrib"]["applied"] == 2
    assert report["auto"]["unsupported_before"] == before["summary"]["unsupported"] >= 2
    assert not [n for n in after["nodes"] if n["domain"] == "com.microsoft"]
    assert not [n for n in after["nodes"] if n["fixes"]]  # nothing left that a rewrite fixes
    gaps = _kb_gaps(tmp_path / "fixed.onnx")
    if gaps:
        pytest.skip(f"the knowledge base has no rule yet for {gaps}; zero cannot be judged")
    assert after["summary"]["unsupported"] == 0 and after["supported"] is True
    assert report["auto"]["unsupported_after"] == 0


def test_bundled_example(tmp_path):
    src = ROOT / "examples" / "transformer_block.onnx"
    if not src.exists():
        pytest.skip("examples/transformer_block.onnx is not in this checkout yet")
    before, after, report = _round_trip(src, tmp_path)
    assert before["summary"]["unsupported"] > 0
    assert not [n for n in after["nodes"] if n["fixes"]]
    gaps = _kb_gaps(tmp_path / "fixed.onnx")
    if gaps:
        pytest.skip(f"the knowledge base has no rule yet for {gaps}; zero cannot be judged")
    assert after["summary"]["unsupported"] == 0
