"""trt-check names the trt-build --dims command for a model with KV-cache dims."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import onnx
from _gqa_models import decoder_model

from trtforge.analyzer.api import check
from trtforge.analyzer.schemas import check_schema


def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300
    )


def test_kv_cache_model_gets_the_build_command(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(decoder_model(), path)
    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {"context_length": 512}}))
    report = check(path, target="rtx-1", backend="static")
    (finding,) = [f for f in report.graph_findings if f.code == "advice/build-dims"]
    assert finding.severity == "warning"
    assert "past_sequence_length=0:128:511" in finding.hint
    assert "total_sequence_length=1:256:512" in finding.hint
    assert finding.hint.startswith(f"trt-build {path} ")

    proc = run_cli(
        "trtforge.analyzer.cli.check",
        str(path),
        "--target",
        "rtx-1",
        "--backend",
        "static",
        "--format",
        "json",
    )
    data = json.loads(proc.stdout)
    jsonschema.validate(data, check_schema(), cls=jsonschema.Draft202012Validator)
    codes = [r["code"] for r in data["graph"]["reasons"]]
    assert "advice/build-dims" in codes
    text = run_cli(
        "trtforge.analyzer.cli.check", str(path), "--target", "rtx-1", "--backend", "static"
    ).stdout
    assert "--dims batch_size=1:1:1" in text


def test_model_without_kv_dims_gets_none(tmp_path):
    model = onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[batch, seq, 8] x) => '
        "(float[batch, seq, 8] y) { y = Relu(x) }"
    )
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    report = check(path, target="rtx-1", backend="static")
    assert not [f for f in report.graph_findings if f.code == "advice/build-dims"]
