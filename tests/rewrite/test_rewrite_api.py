"""`rewrite_file()`: the Python API behind trt-rewrite, with the CLI's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from trtforge.analyzer import UserError, check, rewrite_file

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "transformer_block.onnx"


def test_rewrite_file_auto_writes_a_verified_model_and_its_report(tmp_path):
    out, report_path = tmp_path / "out.onnx", tmp_path / "r.json"
    lines: list[str] = []
    result = rewrite_file(
        EXAMPLE, out, auto=True, target="trt-10", report_path=report_path, progress=lines.append
    )
    assert result.written and result.failure is None and result.verification.ok
    assert result.report == json.loads(report_path.read_text())
    assert result.report["auto"]["unsupported_after"] == 0
    assert lines[0].startswith("trt-check (trt-10") and lines[-1].endswith("0 after")
    onnx.checker.check_model(onnx.load(out))
    assert check(out, target="trt-10", backend="static").supported


def test_rewrite_file_takes_pass_options_by_name(tmp_path):
    out = tmp_path / "out.onnx"
    result = rewrite_file(
        EXAMPLE, out, ["fuse-layernorm"], target="trt-10", options={"layernorm_impl": "onnx"}
    )
    assert result.written and result.passes["fuse-layernorm"].applied == 2
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert "LayerNormalization" in ops


def test_rewrite_file_refuses_like_the_cli(tmp_path):
    with pytest.raises(UserError, match="no rewrite pass selected"):
        rewrite_file(EXAMPLE, tmp_path / "out.onnx")
    with pytest.raises(UserError, match="overwrite the input"):
        rewrite_file(EXAMPLE, EXAMPLE, ["fuse-layernorm"])
    assert not (tmp_path / "out.onnx").exists()


def test_auto_never_writes_a_model_that_builds_no_longer(tmp_path, monkeypatch):
    """--auto took fuse-rmsnorm from the performance advice and wrote trtforge::RMSNorm nodes
    that this install could not register: a model that built became one that does not,
    written with exit 0 ("0 before → 3 after"). Whatever a pass emits, --auto refuses such
    a result: nothing written, the report says why."""
    from trtforge.plugins import catalog

    # the pass believes the plugin is built; trt-check knows it is not
    monkeypatch.setattr(catalog, "is_available", lambda spec: False)
    model = onnx.parser.parse_model(
        """<ir_version: 9, opset_import: ["" : 17]>
        g (float[2,3,8] x) => (float[2,3,8] y)
          <float[8] w = {1,2,3,4,5,6,7,8}, float two = {2.0}, float eps = {1e-6},
           float one = {1.0}> {
         p = Pow(x, two)
         var = ReduceMean<axes=[-1]>(p)
         e = Add(var, eps)
         s = Sqrt(e)
         r = Div(one, s)
         n = Mul(x, r)
         y = Mul(w, n)
        }"""
    )
    src, out, report_path = tmp_path / "t5.onnx", tmp_path / "out.onnx", tmp_path / "r.json"
    onnx.save(model, src)
    assert check(src, target="rtx-1", backend="static").supported
    result = rewrite_file(src, out, auto=True, target="rtx-1", report_path=report_path)
    assert not result.written and "the input builds on rtx-1" in result.failure
    assert "RMSNorm" in result.failure and not out.exists()
    report = json.loads(report_path.read_text())
    assert report["written"] is False and report["auto"]["unsupported_after"] > 0


def test_rewrite_file_takes_one_pass_or_feed_file_as_a_string(tmp_path):
    """A string was split into characters ("unknown rewrite pass 'f'")."""
    result = rewrite_file(EXAMPLE, tmp_path / "out.onnx", "fuse-layernorm", target="trt-10")
    assert result.passes["fuse-layernorm"].applied == 2


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"target": 123}, "is not a target id"),
        ({"dims": {"batch": -1}}, "not a positive integer size"),
        ({"dims": {"batch": "abc"}}, "not a positive integer size"),
        ({"dims": {"batch": True}}, "not a positive integer size"),
    ],
)
def test_rewrite_file_refuses_bad_python_arguments_with_a_user_error(tmp_path, kwargs, said):
    """ValueError and AttributeError came out of the Python API for these."""
    with pytest.raises(UserError, match=said):
        rewrite_file(EXAMPLE, tmp_path / "out.onnx", ["fuse-layernorm"], **kwargs)
    assert not (tmp_path / "out.onnx").exists()
