"""trt-rewrite --auto on onnxruntime-genai exports as they ship: weights in model.onnx.data beside
model.onnx, SimplifiedLayerNormalization in the default domain (onnx has no schema for it), the
genai_config.json beside them. The committed fixtures (tests/fixtures/llm, weights inlined to stay
small) are saved back in that form."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llm"


def _as_shipped(name: str, folder: Path) -> Path:
    """The fixture `name` as the builder writes it: external weights, genai_config.json."""
    folder.mkdir()
    model = onnx.load(FIXTURES / name / "model.onnx")
    path = folder / "model.onnx"
    onnx.save(model, path, save_as_external_data=True, location="model.onnx.data", size_threshold=0)
    shutil.copy(FIXTURES / name / "genai_config.json", folder)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", ["llama-fp16-cuda", "gemma-int4-cpu"])
@pytest.mark.parametrize("target", ["rtx-1", "trt-10"])
def test_auto_rewrites_a_shipped_export(tmp_path, name, target):
    src = _as_shipped(name, tmp_path / "in")
    assert any(  # the case: a default-domain op onnx does not define, weights external
        n.op_type == "SimplifiedLayerNormalization" and n.domain == ""
        for n in onnx.load(src, load_external_data=False).graph.node
    )
    before = _digest(src.parent)
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.rewrite", str(src), "-o", str(out)]
        + ["--auto", "--target", target, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["verification"]["ok"], data["verification"]
    assert data["auto"]["unsupported_after"] == 0
    onnx.checker.check_model(str(out))  # the written model (and its data file) is valid ONNX
    ops = {(n.domain, n.op_type) for n in onnx.load(out).graph.node}
    assert ("", "SimplifiedLayerNormalization") not in ops
    assert not {op for _, op in ops} & {"GroupQueryAttention", "MatMulNBits"}
    assert _digest(src.parent) == before  # the input folder is untouched
