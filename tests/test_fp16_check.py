"""FP16 range check (`trt-quantize --check-fp16`) and trt-build's --layer-precisions."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.fp16_check import check_fp16, parse_precision_spec, precision_spec

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


def _planted(scale: float = 300.0) -> onnx.ModelProto:
    """x·W (|x·W| ≈ 1e3, fits FP16), squared (≈ 1e6: past 65504), scaled back down."""
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["big"], name="scale_up"),
        helper.make_node("Mul", ["big", "big"], ["sq"], name="square"),
        helper.make_node("Mul", ["sq", "S"], ["y0"], name="scale_down"),
        helper.make_node("Relu", ["y0"], ["y"], name="out"),
    ]
    graph = helper.make_graph(
        nodes,
        "planted",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [
            numpy_helper.from_array(np.full((4, 4), scale, np.float32), "W"),
            numpy_helper.from_array(np.array(1 / 600.0, np.float32), "S"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _feeds(n=4):
    rng = np.random.default_rng(0)
    return [{"x": rng.standard_normal((2, 4)).astype(np.float32)} for _ in range(n)]


def test_finds_the_planted_overflow_only():
    findings = check_fp16(_planted(), _feeds())
    assert [f.node for f in findings] == ["square"]
    assert findings[0].max_abs > 65504 and "overflow" in findings[0].why
    assert precision_spec(findings) == "square:fp32"
    assert check_fp16(_planted(scale=1.0), _feeds()) == []


def test_underflow_is_found():
    model = _planted(scale=1e-5)  # x·W ≈ 1e-5, squared ≈ 1e-10: below FP16's 2^-24
    assert "square" in [f.node for f in check_fp16(model, _feeds())]


def test_spec_parsing():
    assert parse_precision_spec("a:fp32, b/c:FP16") == {"a": "fp32", "b/c": "fp16"}
    assert parse_precision_spec("ns:op:fp32") == {"ns:op": "fp32"}
    for bad in ("a", "a:int8", ":fp32"):
        with pytest.raises(ValueError):
            parse_precision_spec(bad)


def _run(module, *args):
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, timeout=600
    )


def test_cli_check_then_build(tmp_path):
    model = tmp_path / "m.onnx"
    onnx.save(_planted(), model)
    data = tmp_path / "cal"
    data.mkdir()
    for i, feed in enumerate(_feeds()):
        np.savez(data / f"{i}.npz", **feed)
    report = tmp_path / "fp16.json"
    proc = _run(
        "trtforge.analyzer.cli.quantize",
        "--check-fp16",
        model,
        "--calibration-data",
        data,
        "--report",
        report,
    )
    assert proc.returncode == 1, proc.stderr
    assert "--layer-precisions square:fp32" in proc.stdout
    spec = json.loads(report.read_text())["layer_precisions"]
    assert spec == "square:fp32"
    if not HAS_RTX:
        pytest.skip("needs tensorrt_rtx for the build")
    engine = tmp_path / "m.engine"
    proc = _run(
        "trtforge.plugins.cli.build",
        model,
        "-o",
        engine,
        "--compute-capability",
        "89",
        "--layer-precisions",
        spec,
    )
    assert proc.returncode == 0, proc.stderr
    side = json.loads((tmp_path / "m.engine.json").read_text())
    assert side["layer_precisions"]["square"]["layers"] == ["square"]
    # a node that is not in the model, and a type the strongly typed network does not have
    for bad, word in (("nosuch:fp32", "does not have"), ("square:fp16", "strongly typed")):
        proc = _run(
            "trtforge.plugins.cli.build",
            model,
            "-o",
            tmp_path / "x.engine",
            "--compute-capability",
            "89",
            "--layer-precisions",
            bad,
        )
        assert proc.returncode == 2 and word in proc.stderr
        assert not (tmp_path / "x.engine").exists()


def test_check_fp16_with_an_output_is_refused(tmp_path, capsys):
    """--check-fp16 writes no model: an -o was silently ignored."""
    from trtforge.analyzer.cli.quantize import main

    code = main(["m.onnx", "--check-fp16", "-o", str(tmp_path / "q.onnx"), "--random-calibration"])
    assert code == 2 and "--check-fp16 writes no model" in capsys.readouterr().err
