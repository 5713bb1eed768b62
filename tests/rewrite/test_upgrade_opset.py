"""upgrade-opset: pre-opset-7 models converted with onnx's version converter, verified; trt-check
names the pass and --auto applies it."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest

from trtforge.analyzer import check
from trtforge.analyzer.cli.rewrite import main
from trtforge.analyzer.rewrite.verify import verify

OPSET6 = """<ir_version: 4, opset_import: ["" : 6]>
g (float[2, 3] x) => (float[2, 3] y) <float[3] b = {1.0, 2.0, 3.0}> {
    y = Add <broadcast = 1> (x, b)
}"""

GELU13 = """<ir_version: 7, opset_import: ["" : 13]>
g (float[2, 8] x) => (float[2, 8] y)
  <float sqrt2 = {1.4142135}, float one = {1.0}, float half = {0.5}> {
    g1 = Div(x, sqrt2)
    g2 = Erf(g1)
    g3 = Add(g2, one)
    g4 = Mul(x, g3)
    y = Mul(g4, half)
}"""


def _model(text: str) -> onnx.ModelProto:
    model = onnx.parser.parse_model(text)
    onnx.checker.check_model(model)
    return model


def test_trt_check_names_upgrade_opset_for_pre_opset7_broadcast() -> None:
    report = check(_model(OPSET6), target="rtx-1", backend="static")
    (node,) = report.unsupported_nodes
    assert ("rewrite", "upgrade-opset") in {(f.kind, f.name) for f in node.fixes}
    assert "--upgrade-opset" in node.reasons[0].hint
    old = [f for f in report.graph_findings if f.code == "graph/old-opset"]
    assert old and old[0].fixes[0].name == "upgrade-opset"


def test_upgrade_converts_and_verifies(rw) -> None:
    model = _model(OPSET6)
    result = rw.apply(model, "upgrade-opset")
    assert result.changed and result.passes["upgrade-opset"].applied == 1
    out = result.proto
    assert {o.domain: o.version for o in out.opset_import}[""] == 17
    onnx.checker.check_model(out)
    (node,) = out.graph.node
    assert not node.attribute  # implicit broadcasting now
    outcome = verify(model, out)  # onnxruntime has no opset-6 Add: regional + onnx.reference
    assert outcome.ok, outcome.describe_worst()
    assert not check(out, target="rtx-1", backend="static").unsupported_nodes
    assert not rw.apply(out, "upgrade-opset").changed  # idempotent


def test_nothing_to_do_leaves_the_model(rw) -> None:
    model = _model(GELU13.replace('"" : 13', '"" : 17'))
    result = rw.apply(model, "upgrade-opset")
    assert not result.changed and result.proto is model


def test_upgrade_unblocks_a_fusion(tmp_path, capsys) -> None:
    """Gelu needs opset 20: --upgrade-opset 20 lets fuse-gelu fuse, verified."""
    src = tmp_path / "m.onnx"
    onnx.save(_model(GELU13), src)
    out = tmp_path / "o.onnx"
    assert main([str(src), "-o", str(out), "--fuse-gelu", "-q"]) == 0
    assert "Erf" in {n.op_type for n in onnx.load(out).graph.node}
    report = tmp_path / "r.json"
    args = [str(src), "-o", str(out), "--fuse-gelu", "--upgrade-opset", "20"]
    assert main([*args, "--report", str(report)]) == 0
    written = onnx.load(out)
    assert {n.op_type for n in written.graph.node} == {"Gelu"}
    assert json.loads(report.read_text())["verification"]["ok"]


def test_auto_fixes_onnx_wheel_pre_opset7_model(tmp_path, capsys) -> None:
    """A PyTorch-converted model the onnx wheel ships (opset 6, PReLU broadcast)."""
    path = os.path.join(
        os.path.dirname(onnx.__file__),
        "backend/test/data/pytorch-converted/test_PReLU_1d/model.onnx",
    )
    if not os.path.exists(path):
        pytest.skip("the onnx wheel has no backend test data")
    out = tmp_path / "o.onnx"
    report = tmp_path / "r.json"
    args = [path, "-o", str(out), "--auto", "--target", "rtx-1", "--report", str(report)]
    assert main(args) == 0
    data = json.loads(report.read_text())
    assert data["auto"]["unsupported_before"] >= 1 and data["auto"]["unsupported_after"] == 0
    assert "upgrade-opset" in data["auto"]["passes"] and data["verification"]["ok"]
    err = capsys.readouterr().err
    assert "before" in err and "after" in err
    import onnxruntime as ort

    from trtforge.analyzer.rewrite.verify import make_inputs

    written = onnx.load(out)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (result,) = session.run(None, make_inputs(written))
    assert np.isfinite(result).all()  # the written model runs where the original could not


PRELU6 = """<ir_version: 4, opset_import: ["" : 6]>
g (float[2, 3, 4, 5] x{slope_input}) => (float[2, 3, 4, 5] y) {initializer}{{
    y = PRelu (x, s)
}}"""


def _prelu6(computed: bool) -> onnx.ModelProto:
    text = PRELU6.format(
        slope_input=", float[3] s" if computed else "",
        initializer="" if computed else "<float[3] s = {0.1, 0.5, 2.0}> ",
    )
    return _model(text)


@pytest.mark.parametrize("computed", [False, True], ids=["constant-slope", "input-slope"])
def test_pre_opset7_prelu_slope_stays_per_channel(rw, computed) -> None:
    """Opset 6 PRelu applies a [C] slope per channel (axis 1); opset 7+ broadcasts it against
    the last axis. The converter alone leaves [C]: the pass makes it [C, 1, 1]."""
    import onnxruntime as ort

    model = _prelu6(computed)
    result = rw.apply(model, "upgrade-opset")
    out = result.proto
    onnx.checker.check_model(out, full_check=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    slope = np.array([0.1, 0.5, 2.0], np.float32)
    want = np.where(x > 0, x, x * slope.reshape(3, 1, 1))
    feed = {"x": x, "s": slope} if computed else {"x": x}
    (got,) = ort.InferenceSession(out.SerializeToString()).run(None, feed)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert ("Reshape" in {n.op_type for n in out.graph.node}) == computed
    assert not rw.apply(out, "upgrade-opset").changed


def test_regional_verification_sees_a_node_whose_opset_semantics_changed(rw) -> None:
    """A node an upgrade leaves textually as it was (PRelu 6 → 16) is still a changed region:
    the converter-only result (a [C] slope broadcast against the last axis, which onnxruntime
    refuses for [2, 3, 4, 5]) does not pass verification."""
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.rewrite.regional import changed_regions

    model = _prelu6(False)
    naive = onnx.ModelProto()
    naive.CopyFrom(model)
    naive.opset_import[0].version = 17
    naive.ir_version = 8
    regions = changed_regions(model, naive)
    assert regions is not None and [n.op_type for n in regions.added] == ["PRelu"]
    try:
        outcome = verify(model, naive)
    except UserError as err:  # onnxruntime refuses the rewritten region: not verified
        assert "cannot run" in err.message
    else:
        assert not outcome.ok
    good = rw.apply(model, "upgrade-opset").proto
    outcome = verify(model, good)
    assert outcome.ok and outcome.outputs, outcome.describe_worst()


# onnxruntime's transformer optimizer writes LayerNormalization (onnx: opset 17) into opset-13
# exports: onnxruntime runs it (its own default-domain registration), onnx.checker rejects it.
LAYERNORM13 = """<ir_version: 7, opset_import: ["" : 13]>
g (float[2, 8] x) => (float[2, 8] y) <float[8] s = {1., 2., 3., 4., 5., 6., 7., 8.},
                                      float[8] b = {0., 1., 0., 1., 0., 1., 0., 1.}> {
    n = LayerNormalization <axis = -1, epsilon = 0.00001> (x, s, b)
    y = Relu(n)
}"""


def test_layernorm_below_its_opset_is_made_valid_by_auto(tmp_path, capsys) -> None:
    model = onnx.parser.parse_model(LAYERNORM13)
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model)
    src, out, report = tmp_path / "m.onnx", tmp_path / "o.onnx", tmp_path / "r.json"
    onnx.save(model, src)
    args = [str(src), "-o", str(out), "--auto", "--target", "rtx-1", "--report", str(report)]
    assert main(args) == 0
    written = onnx.load(out)
    onnx.checker.check_model(written, full_check=True)
    assert {o.domain: o.version for o in written.opset_import}[""] == 17
    assert [n.op_type for n in written.graph.node] == ["LayerNormalization", "Relu"]
    data = json.loads(report.read_text())
    assert "upgrade-opset" in data["auto"]["passes"] and data["verification"]["ok"]
    assert src.read_bytes() == model.SerializeToString()  # the input is left as it was


def test_layernorm_below_its_opset_without_upgrade_is_refused_with_the_pass(
    tmp_path, capsys
) -> None:
    src, out = tmp_path / "m.onnx", tmp_path / "o.onnx"
    onnx.save(onnx.parser.parse_model(LAYERNORM13), src)
    assert main([str(src), "-o", str(out), "--fold-constants"]) == 2
    err = capsys.readouterr().err
    assert "LayerNormalization" in err and "--upgrade-opset 17" in err
    assert not out.exists()


def test_upgrade_keeps_a_node_of_a_later_opset(rw) -> None:
    result = rw.apply(onnx.parser.parse_model(LAYERNORM13), "upgrade-opset")
    assert result.changed
    onnx.checker.check_model(result.proto)
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    import onnxruntime as ort

    got = ort.InferenceSession(result.proto.SerializeToString()).run(None, {"x": x})[0]
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = np.maximum((x - mean) / np.sqrt(var + 1e-5) * np.arange(1, 9) + [0, 1] * 4, 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


CUSTOM_ATTENTION17 = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2, 8] x) => (float[2, 8] y) <float[8] w = {1, 2, 3, 4, 5, 6, 7, 8}> {
    a = Attention (x, w)
    y = Relu (a)
}"""


def test_a_custom_op_named_like_a_later_onnx_op_is_not_converted_into_it(tmp_path, capsys) -> None:
    """`Attention` in the default domain with two inputs at opset 17: a custom op exported
    without a domain. onnx defines Attention from opset 23 with Q, K and V; converting would
    make the node onnx's op, invalid (and, with three inputs, another computation). The pass
    refuses, --auto writes nothing and hints no --upgrade-opset."""
    src, out = tmp_path / "m.onnx", tmp_path / "o.onnx"
    onnx.save(onnx.parser.parse_model(CUSTOM_ATTENTION17), src)
    assert main([str(src), "-o", str(out), "--upgrade-opset", "23", "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert "does not fit onnx's Attention-23" in err and "input size 2" in err
    assert main([str(src), "-o", str(out), "--auto", "--target", "trt-10", "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert "skipped opset 17: Attention node" in err
    assert "--upgrade-opset" not in err.splitlines()[-1]  # the hint
    assert not out.exists()


def test_no_model_that_fails_the_checker_is_written(tmp_path, monkeypatch, capsys) -> None:
    """Whatever a pass produces, the staged output goes through onnx.checker before it is
    committed: a rewrite whose result names one tensor as the output of two nodes exits 1
    with nothing written (the report, asked for, says so)."""
    from trtforge.analyzer.rewrite import api, manager

    real = manager.rewrite_model

    def broken(*args, **kwargs):
        result = real(*args, **kwargs)
        nodes = result.proto.graph.node
        nodes[1].output[0] = nodes[0].output[0]  # a real defect: produced twice
        return result

    monkeypatch.setattr(manager, "rewrite_model", broken)
    src, out, report = tmp_path / "m.onnx", tmp_path / "o.onnx", tmp_path / "r.json"
    onnx.save(onnx.parser.parse_model(GELU13), src)
    args = [str(src), "-o", str(out), "--fuse-gelu", "--no-verify", "--report", str(report)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "fails onnx.checker" in err and "nothing written" in err
    assert not out.exists() and json.loads(report.read_text())["written"] is False
    assert api._fails_checker(src) == ""


def test_an_external_prelu_slope_is_reshaped_without_reading_it(tmp_path, monkeypatch) -> None:
    """A [C] slope stored in an external data file: the pass reshaped it by reading its
    values, which graphsurgeon looked up from the working folder (exit 3 unless run beside
    the model). It is reshaped by a node instead, and the weights are read where they are."""
    src = tmp_path / "model" / "m.onnx"
    src.parent.mkdir()
    model = _prelu6(False)
    slope = model.graph.initializer[0]
    slope.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(slope), "s"))  # raw
    onnx.save(model, src, save_as_external_data=True, size_threshold=0, location="d")
    assert onnx.load(src, load_external_data=False).graph.initializer[0].external_data
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out.onnx"
    assert main([str(src), "-o", str(out), "--upgrade-opset", "17"]) == 0
    assert list(elsewhere.iterdir()) == []
    import onnxruntime as ort

    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    slope = np.array([0.1, 0.5, 2.0], np.float32)
    (got,) = ort.InferenceSession(str(out)).run(None, {"x": x})
    np.testing.assert_allclose(got, np.where(x > 0, x, x * slope.reshape(3, 1, 1)), rtol=1e-6)


def test_a_dropout_mask_before_opset_12_is_verified_against_the_reference(tmp_path):
    """onnxruntime's Dropout-10 gives an all-false mask in inference where the spec from opset
    12 on (and onnx.reference) gives all-true: `--upgrade-opset` failed verification on a
    model whose mask is an output. The original is now evaluated with onnx.reference."""
    import numpy as np
    from onnx import TensorProto, helper

    from trtforge.analyzer.rewrite.api import rewrite_file
    from trtforge.analyzer.rewrite.verify import run_model

    graph = helper.make_graph(
        [
            helper.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.3),
            helper.make_node("Relu", ["y"], ["z"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, 4]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 5
    source, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(model, source)
    result = rewrite_file(str(source), str(out), ["upgrade-opset"], target="rtx-1",
                          options={"upgrade_opset": 17})  # fmt: skip
    assert result.verification is not None and result.verification.ok
    written = onnx.load(out)
    feeds = {"x": np.ones((2, 4), np.float32)}
    assert run_model(written, feeds)["mask"].all()
