"""Models on which ONNX's shape inference crashes the process are checked all the same: the
inference runs in a child (`inference_guard`), whose death leaves the command going on with the
types the model declares, and a warning. Each model is first shown to crash onnx in a process
of its own (the test is skipped for a model that an onnx release no longer crashes on)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check, inference_guard


def _model(nodes, inputs, outputs, inits=(), opset=21) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("my.domain", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def _eye_like_after_custom_op() -> onnx.ModelProto:
    """Valid: a custom op's output (no type anyone can infer) into EyeLike with a dtype."""
    nodes = [
        helper.make_node("Custom", ["x"], ["c"], domain="my.domain", name="custom"),
        helper.make_node("EyeLike", ["c"], ["e"], dtype=TensorProto.FLOAT, name="eye"),
        helper.make_node("Relu", ["e"], ["y"], name="relu"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])
    return _model(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 3])])


def _regex_after_custom_op() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Custom", ["x"], ["c"], domain="my.domain", name="custom"),
        helper.make_node("RegexFullMatch", ["c"], ["y"], pattern="a.*", name="regex"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.STRING, [3])
    return _model(nodes, [x], [helper.make_tensor_value_info("y", TensorProto.BOOL, [3])])


def _gather_nd_far_negative_batch_dims() -> onnx.ModelProto:
    """Hostile: GatherND with batch_dims=-100."""
    indices = numpy_helper.from_array(np.zeros((2, 1), np.int64), "indices")
    nodes = [helper.make_node("GatherND", ["x", "indices"], ["y"], batch_dims=-100, name="gather")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    return _model(
        nodes, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [indices]
    )


def _eye_like_empty_input() -> onnx.ModelProto:
    """Invalid: EyeLike's required input is an empty name."""
    nodes = [helper.make_node("EyeLike", [""], ["y"], dtype=TensorProto.FLOAT, name="eye")]
    return _model(nodes, [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])


CRASHING = {
    "eye-like-after-custom-op": _eye_like_after_custom_op,
    "regex-after-custom-op": _regex_after_custom_op,
    "gather-nd-far-negative-batch-dims": _gather_nd_far_negative_batch_dims,
    "eye-like-empty-input": _eye_like_empty_input,
}


def _crashes_onnx(path) -> bool:
    program = (
        "import onnx, sys\n"
        "m = onnx.load(sys.argv[1])\n"
        "try:\n"
        "    onnx.shape_inference.infer_shapes(m, strict_mode=True)\n"
        "except Exception:\n"
        "    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True)
    return done.returncode < 0


@pytest.fixture(params=sorted(CRASHING))
def crashing_model(request, tmp_path):
    model = CRASHING[request.param]()
    path = tmp_path / f"{request.param}.onnx"
    onnx.save(model, path)
    if not _crashes_onnx(path):
        pytest.skip(f"onnx {onnx.__version__} no longer crashes on {request.param}")
    return path


@pytest.mark.parametrize("no_fork", [False, True])
def test_trt_check_survives_what_crashes_onnx(crashing_model, tmp_path, no_fork):
    """trt-check ends with a report (exit 0 or 1, not a signal), says inference crashed, and
    judges the nodes with the declared types; with TRTFORGE_NO_FORK=1 (no fork: inference
    runs in a fresh Python) alike."""
    report = tmp_path / "report.json"
    env = {"TRTFORGE_NO_FORK": "1"} if no_fork else {"TRTFORGE_NO_FORK": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.check", str(crashing_model),
         "--target", "rtx-1", "--backend", "static", "--format", "json", "-o", str(report)],
        capture_output=True, text=True, env={**_environ(), **env},
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "shape inference crashed" in done.stderr
    assert "Traceback" not in done.stderr
    nodes = json.loads(report.read_text())["nodes"]
    assert len(nodes) == len(onnx.load(crashing_model).graph.node)


def test_python_api_survives_what_crashes_onnx(crashing_model):
    report = check(str(crashing_model), target="rtx-1", backend="static")
    assert len(report.nodes) == len(onnx.load(crashing_model).graph.node)


def test_a_valid_model_that_crashes_onnx_is_judged_not_invalid(tmp_path):
    """A crash is not a verdict: the custom op is unsupported, EyeLike and Relu are judged on
    the declared types, and no node is called invalid."""
    path = tmp_path / "m.onnx"
    onnx.save(_eye_like_after_custom_op(), path)
    if not _crashes_onnx(path):
        pytest.skip("onnx no longer crashes on this model")
    report = check(str(path), target="rtx-1", backend="static")
    codes = {n.name: {r.code for r in n.reasons} for n in report.nodes}
    assert "custom-domain-op" in codes["custom"]
    assert not any(code.startswith("invalid/") for found in codes.values() for code in found)


def _environ() -> dict:
    import os

    return dict(os.environ)


@pytest.mark.parametrize("no_fork", [False, True])
def test_guarded_inference_is_onnx_inference(monkeypatch, no_fork):
    """What `inference_guard.infer_shapes` returns or raises is what ONNX's own call does:
    the same inferred bytes for a model it infers, InferenceError with the same text for one
    strict inference refuses; in a fork and in a fresh Python."""
    from onnx.onnx_cpp2py_export import shape_inference

    monkeypatch.setenv("TRTFORGE_NO_FORK", "1" if no_fork else "0")
    shape = numpy_helper.from_array(np.array([4, -1], np.int64), "shape")
    good = _model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            helper.make_node("MatMul", ["r", "r"], ["y"]),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [shape],
    ).SerializeToString()
    bad = _model(
        [helper.make_node("MatMul", ["x", "x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    ).SerializeToString()
    for flags in [(False, True, True), (False, False, False), (True, True, False)]:
        assert inference_guard.infer_shapes(good, *flags) == shape_inference.infer_shapes(
            good, *flags
        )
    with pytest.raises(shape_inference.InferenceError) as expected:
        shape_inference.infer_shapes(bad, False, True, False)
    with pytest.raises(shape_inference.InferenceError) as got:
        inference_guard.infer_shapes(bad, False, True, False)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("command", ["rewrite", "quantize"])
def test_rewrite_and_quantize_refuse_what_crashes_onnx(crashing_model, tmp_path, command):
    """trt-rewrite and trt-quantize run the model in onnxruntime (verification, calibration),
    which would crash as ONNX's inference does: they refuse it (exit 2, one message, nothing
    written) instead of dying."""
    out = tmp_path / "out.onnx"
    if command == "rewrite":
        args = ["trtforge.analyzer.cli.rewrite", str(crashing_model), "-o", str(out), "--auto"]
    else:
        args = ["trtforge.analyzer.cli.quantize", str(crashing_model), "-o", str(out)]
        args.append("--random-calibration")
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("collecting", [True, False])
def test_a_forked_child_never_collects_the_parents_garbage(collecting):
    """A forked inference child runs without the cyclic garbage collector, whatever the
    parent's setting, and the parent's is restored: a collection in the child ran the
    destructor of an onnxruntime session left as garbage by an earlier verification, which
    waits on the session's threads — threads a child does not have — and the test suite hung
    there (`background.fork_child`)."""
    import gc
    import os

    from trtforge.analyzer import background

    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        pid, pipe = background.fork_child(lambda out: out.write(b"%d" % gc.isenabled()))
        with os.fdopen(pipe, "rb") as read:
            in_child = read.read()
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert in_child == b"0"
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()


def test_guarded_inference_with_sigchld_ignored_reads_what_the_child_wrote():
    """With SIGCHLD ignored the kernel reaps the inference child itself (waitpid: ECHILD, as
    in the prefetching child, which runs the inference of declared dims in one more child):
    what the child wrote through the pipe is the result, an error as ever."""
    import signal

    from trtforge.analyzer import background

    if not background.forking_allowed():
        pytest.skip("no fork on this platform")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [x], [])
    model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    bad = _model([helper.make_node("Transpose", ["x"], ["y"], perm=[5, 7])], [x], [])
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        inferred = inference_guard.infer_shapes(model.SerializeToString(), False, True, False)
        with pytest.raises(Exception, match="perm"):
            inference_guard.infer_shapes(bad.SerializeToString(), False, True, False)
    finally:
        signal.signal(signal.SIGCHLD, previous)
    shape = onnx.load_from_string(inferred).graph.output[0].type.tensor_type.shape
    assert [d.dim_value for d in shape.dim] == [2, 3]
