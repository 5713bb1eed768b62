"""Text fields that are not UTF-8 (which protobuf parses and onnx.checker accepts): a dim_param
of a graph input, a node name, a tensor name. Every command reports on such a model, with the
bytes escaped, and never fails with a traceback; a named dim is addressed in `--dims` as the
messages spell it."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper


def _model_bytes(names: bool = True) -> bytes:
    """A MatMul and a Relu over an input whose dims are named "BBBB" and "SSSS", a node named
    "NNNN", a tensor "TTTT", and a custom op of the domain "DOMN" the opsets import: each
    placeholder then replaced by 4 bytes that are not UTF-8 (the names and the domain only
    with `names`)."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 8], [0.5] * 64)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["TTTT"], name="NNNN"),
            helper.make_node("Relu", ["TTTT"], ["y"], name="relu"),
            helper.make_node("Custom", ["x"], ["z"], name="custom", domain="DOMN"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["BBBB", "SSSS", 8])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["BBBB", "SSSS", 8]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["BBBB", "SSSS", 8]),
        ],
        [w],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("DOMN", 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    data = model.SerializeToString()
    for placeholder, raw in ((b"BBBB", b"\x9d\xff\xfe\x80"), (b"SSSS", b"\xc3\x28\xa0\xa1")):
        data = data.replace(placeholder, raw)
    if names:
        data = data.replace(b"NNNN", b"\xe2\x28\xa1\xff").replace(b"TTTT", b"\xf0\x28\x8c\xbc")
        data = data.replace(b"DOMN", b"\xff\xfe\xfd\xfc")
    return data


@pytest.fixture(params=[True, False], ids=["names", "dims-only"])
def model_path(tmp_path, request):
    path = tmp_path / "model.onnx"
    path.write_bytes(_model_bytes(request.param))
    onnx.checker.check_model(str(path))  # the checker lets it through
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif"])
def test_trt_check_reports(model_path, tmp_path, fmt):
    out = tmp_path / f"report.{fmt}"
    done = _run(
        "trtforge.analyzer.cli.check", str(model_path), "--target", "rtx-1",
        "--backend", "static", "--format", fmt, "-o", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    text = out.read_text()
    if fmt == "json":
        report = json.loads(text)
        assert len(report["nodes"]) == 3
        dynamic = [r for r in report["graph"]["reasons"] if r["code"] == "graph/dynamic-input"]
        assert dynamic and "\\x9d\\xff\\xfe\\x80" in dynamic[0]["message"]


def test_trt_rewrite_writes_a_model_or_names_the_name_it_refuses(model_path, tmp_path):
    """A rewrite writes names ONNX requires to be UTF-8: one that is not is refused with a
    one-line error naming it (exit 2, nothing written); dims alone do not stop it."""
    out = tmp_path / "out.onnx"
    done = _run("trtforge.analyzer.cli.rewrite", str(model_path), "-o", str(out), "--auto")
    assert "Traceback" not in done.stderr
    if b"\xe2\x28\xa1\xff" in model_path.read_bytes():
        assert done.returncode == 2
        assert "'\\xe2(\\xa1\\xff' is not UTF-8 text" in done.stderr
        assert not out.exists()
    else:
        assert done.returncode == 0, done.stderr
        onnx.checker.check_model(str(out))


def test_trt_build_names_the_dims_as_dims_takes_them(model_path, tmp_path):
    """Without --shapes, trt-build stops before TensorRT with a hint naming the dims as
    `--dims` reads them; given those, the profile is resolved from them (the build itself
    needs TensorRT: only the resolution is checked here)."""
    from trtforge.analyzer import dim_profiles

    done = _run("plugins.cli.build", str(model_path), "-o", str(tmp_path / "m.engine"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    hint = done.stderr
    assert "\\x9d\\xff\\xfe\\x80=MIN:OPT:MAX" in hint and "\\xc3(\\xa0\\xa1=MIN:OPT:MAX" in hint
    dims = dim_profiles.parse_dims(["\\x9d\\xff\\xfe\\x80=1:2:4,\\xc3(\\xa0\\xa1=1:16:64"])
    model = onnx.load(str(model_path))
    resolved = dim_profiles.resolve(model, model_path, dims, {})
    assert resolved.shapes["x"] == ((1, 1, 8), (2, 16, 8), (4, 64, 8))


def test_trt_build_reports_parser_errors_whose_text_is_not_utf8(tmp_path):
    """The parser's errors quote the model's names and attribute values; where those are
    not UTF-8 (which its bindings cannot decode), trt-build still says which node it refused
    (exit 1: the parser's "no"; no traceback, no engine). (A valid graph: an invalid one is
    refused before the parser runs.)"""
    from trtforge.analyzer.api import parser_available

    if not parser_available():
        pytest.skip("no TensorRT ONNX parser installed")
    graph = helper.make_graph(
        [helper.make_node("Unique", ["x"], ["y"], name="NODENAME")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString().replace(b"NODENAME", b"\xff" * 8))
    done = _run("plugins.cli.build", str(path), "-o", str(tmp_path / "m.engine"))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "((not UTF-8), Unique)" in done.stderr
    assert not (tmp_path / "m.engine").exists()
