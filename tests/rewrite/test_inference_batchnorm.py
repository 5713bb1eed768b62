"""inference-batchnorm: training-mode BatchNormalization (opset 14/15 training_mode=1, and
opset 7-13 nodes declaring their training outputs) becomes batch statistics as Reduce ops,
verified against onnxruntime; on constant weights (NF-Net weight standardization) fold-constants
then removes it."""

from __future__ import annotations

import numpy as np
import pytest

INITS = "float[3] s = {1, 2, 3}, float[3] b = {0, 1, 0}, float[3] mu = {0.5, 0, 0}, float[3] va = {1, 2, 3}"


def model(opset, outs, attrs="", out_decls="float[2,3,4,5] y", x="float[2,3,4,5] x"):
    return f"""<ir_version: 8, opset_import: ["" : {opset}]>
    g ({x}) => ({out_decls}) <{INITS}> {{
      {outs} = BatchNormalization{attrs}(x, s, b, mu, va)
    }}"""


CASES = {
    "opset15-training-3-outputs-used": (
        15,
        "y, rm, rv",
        "<training_mode=1, momentum=0.8>",
        "float[2,3,4,5] y, float[3] rm, float[3] rv",
    ),
    "opset15-training-outputs-unused": (15, "y, rm, rv", "<training_mode=1>", "float[2,3,4,5] y"),
    "opset14-training": (14, "y, rm, rv", "<training_mode=1, epsilon=1e-3>", "float[2,3,4,5] y"),
    "opset15-inference-extra-names": (15, "y, rm, rv", "", "float[2,3,4,5] y"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rewritten_and_verified(rw, case):
    opset, outs, attrs, decls = CASES[case]
    original = rw.parse(model(opset, outs, attrs, decls)) if "inference" not in case else None
    if original is None:  # invalid per the ONNX checker (extra outputs in inference mode)
        import onnx

        original = onnx.parser.parse_model(model(opset, outs, attrs, decls))
    result = rw.apply(original, "inference-batchnorm")
    assert result.passes["inference-batchnorm"].applied == 1
    new = result.proto
    bns = [n for n in new.graph.node if n.op_type == "BatchNormalization"]
    if "inference" in case:
        assert len(bns) == 1 and [o for o in bns[0].output if o] == ["y"]
    else:
        assert not bns and rw.ops(new)["ReduceMean"] == 2
        rw.same(original, new)
    assert not rw.apply(new, "inference-batchnorm").changed


def test_matches_numpy_batch_statistics(rw):
    from trtforge.analyzer.rewrite.verify import run_model

    original = rw.parse(
        model(15, "y, rm, rv", "<training_mode=1>", "float[2,3,4,5] y, float[3] rm")
    )
    new = rw.apply(original, "inference-batchnorm").proto
    assert not any(n.op_type == "BatchNormalization" for n in new.graph.node)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = run_model(new, {"x": x})
    mean = x.mean((0, 2, 3), keepdims=True)
    var = x.var((0, 2, 3), keepdims=True)
    s = np.array([1, 2, 3], np.float32).reshape(3, 1, 1)
    b = np.array([0, 1, 0], np.float32).reshape(3, 1, 1)
    np.testing.assert_allclose(
        got["y"], (x - mean) / np.sqrt(var + 1e-5) * s + b, rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        got["rm"], 0.9 * np.array([0.5, 0, 0]) + 0.1 * mean.ravel(), rtol=1e-5
    )


def test_weight_standardization_folds_away(rw):
    """NF-Net style: BN in training mode over a constant weight, then Conv with it."""
    w = ",".join(
        str(round(float(v), 3)) for v in np.random.default_rng(1).standard_normal(3 * 2 * 9)
    )
    text = f"""<ir_version: 8, opset_import: ["" : 15]>
    g (float[1,2,5,5] x) => (float[1,3,3,3] y) <float[3,2,3,3] w = {{{w}}},
        float[3] one = {{1,1,1}}, float[3] zero = {{0,0,0}}, int64[3] flat = {{1, 3, -1}},
        int64[4] back = {{3, 2, 3, 3}}> {{
      wf = Reshape(w, flat)
      ws, rm, rv = BatchNormalization<training_mode=1>(wf, one, zero, zero, one)
      w2 = Reshape(ws, back)
      y = Conv(x, w2)
    }}"""
    original = rw.parse(text)
    result = rw.apply(original, "inference-batchnorm", "fold-constants")
    assert rw.ops(result.proto) == {"Conv": 1}
    rw.same(original, result.proto)


def test_skips_with_reasons(rw):
    original = rw.parse(model(9, "y, m, v, sm, sv", "", "float[2,3,4,5] y, float[3] sm"))
    result = rw.apply(original, "inference-batchnorm")
    assert not result.changed
    assert "saved_mean" in result.passes["inference-batchnorm"].skips[0].reason


def test_inference_batchnorm_untouched(rw):
    original = rw.parse(model(15, "y", "", "float[2,3,4,5] y"))
    result = rw.apply(original, "inference-batchnorm")
    assert not result.changed and result.proto is original


def test_check_names_the_pass():
    import onnx

    from trtforge.analyzer import check

    proto = onnx.parser.parse_model(model(15, "y, rm, rv", "<training_mode=1>", "float[2,3,4,5] y"))
    report = check(proto, backend="static", target="rtx-1")
    node = report.nodes[0]
    assert not node.ok
    assert any(f.name == "inference-batchnorm" for f in node.fixes)


@pytest.mark.parser
def test_rewritten_model_parses_with_tensorrt_rtx(rw, tmp_path):
    pytest.importorskip("tensorrt_rtx")
    import onnx

    from trtforge.analyzer import check

    original = rw.parse(model(15, "y, rm, rv", "<training_mode=1>", "float[2,3,4,5] y"))
    path = tmp_path / "m.onnx"
    onnx.save(rw.apply(original, "inference-batchnorm").proto, path)
    report = check(str(path), backend="parser", target="rtx-1")
    assert report.supported, [(n.op_type, [r.message for r in n.reasons]) for n in report.nodes]
