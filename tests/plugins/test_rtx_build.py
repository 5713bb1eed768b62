"""TensorRT-RTX (CPU): the native library loads, models with trtforge::LayerNorm and
trtforge::RMSNorm nodes parse and engines build for SM89 — through the native library and
through the Python IPluginV3 path. No engine is run (no GPU; RTX engines do not run on Hopper).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from _plugin_helpers import run_cli
from onnx import TensorProto, helper, numpy_helper

from trtforge.plugins import find_plugin, testing

pytestmark = pytest.mark.parser


def _norm_model(path, dtype=np.float16, hidden=768, extra_node=None):
    ln, rms = find_plugin("LayerNorm"), find_plugin("RMSNorm")
    onnx_t = {np.float16: TensorProto.FLOAT16, np.float32: TensorProto.FLOAT}[dtype]
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(1, 0.1, hidden).astype(dtype), "gamma"),
        numpy_helper.from_array(rng.normal(0, 0.1, hidden).astype(dtype), "beta"),
    ]
    nodes = [
        ln.make_node(["x", "gamma", "beta"], ["t"], name="block0/ln", epsilon=1e-5),
        helper.make_node("Relu", ["t"], ["r"], name="block0/relu"),
        rms.make_node(["r", "gamma"], ["y"], name="block0/rms", epsilon=1e-6),
    ]
    out = "y"
    if extra_node is not None:
        nodes.append(extra_node)
        out = extra_node.output[0]
    graph = helper.make_graph(
        nodes,
        "norms",
        [helper.make_tensor_value_info("x", onnx_t, ["batch", "seq", hidden])],
        [helper.make_tensor_value_info(out, onnx_t, ["batch", "seq", hidden])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("trtforge", 1)]
    if extra_node is not None and extra_node.domain not in ("", "trtforge"):
        opsets.append(helper.make_opsetid(extra_node.domain, 1))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=9)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _build_norm_model(tmp_path, *args):
    """trt-build (TensorRT-RTX) of the norm model to `tmp_path`/m.plan, with `args`."""
    model = _norm_model(tmp_path / "m.onnx")
    return run_cli(
        "trtforge.plugins.cli.build",
        str(model),
        "-o",
        str(tmp_path / "m.plan"),
        *args,
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )


@pytest.mark.parametrize("backend", ["native", "python"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32], ids=["fp16", "fp32"])
def test_engine_builds_for_sm89(rtx, native_lib, tmp_path, backend, dtype):
    model = _norm_model(tmp_path / "m.onnx", dtype)
    engine = tmp_path / "m.plan"
    cache = tmp_path / "timing.cache"
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(model),
        "-o",
        str(engine),
        "--compute-capability",
        "89",
        "--plugin-backend",
        backend,
        "--workspace",
        "256",
        "--timing-cache",
        str(cache),
        "--shapes",
        "x:1x1x768,4x128x768,8x512x768",
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert engine.stat().st_size > 1000
    side = json.loads((tmp_path / "m.plan.json").read_text())
    assert side["schema"] == "trtforge.build/1"
    assert side["tensorrt"]["flavour"] == "tensorrt_rtx"
    assert side["compute_capability"] == ["8.9"]
    assert {(p["name"], p["version"], p["namespace"], p["backend"]) for p in side["plugins"]} == {
        ("LayerNorm", "1", "trtforge", backend),
        ("RMSNorm", "1", "trtforge", backend),
    }
    assert side["inputs"][0]["profile"] == {
        "min": [1, 1, 768],
        "opt": [4, 128, 768],
        "max": [8, 512, 768],
    }
    assert "Traceback" not in proc.stderr


def test_missing_plugin_is_reported(rtx, native_lib, tmp_path):
    foo = helper.make_node("FancyAct", ["y"], ["z"], name="block0/act", domain="acme")
    model = _norm_model(tmp_path / "m.onnx", extra_node=foo)
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(model),
        "-o",
        str(tmp_path / "m.plan"),
        "--compute-capability",
        "89",
        "--shapes",
        "x:1x1x768,1x8x768,1x16x768",
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "FancyAct node 'block0/act'" in proc.stderr
    assert "name=FancyAct version=1 namespace=acme" in proc.stderr
    assert "Hint:" in proc.stderr and "trt-plugin new" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.plan").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--shapes", "x:1x768"], "expected NAME:MIN,OPT,MAX"),
        (["--shapes", "x:4x1x768,1x1x768,8x1x768"], "min <= opt <= max"),
        (
            ["--shapes", "x:1x1x768,2x1x768,4x1x768", "--shapes", "x:1x1x768,1x1x768,1x1x768"],
            "names input 'x' twice",
        ),
        (["--compute-capability", "sm89"], "not a compute capability"),
        ([], "dynamic shape"),
    ],
)
def test_usage_errors_exit_2(rtx, native_lib, tmp_path, args, needle):
    proc = _build_norm_model(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_parser_refusal_exit_1(rtx, tmp_path):
    node = helper.make_node("Unique", ["x"], ["y"], name="uniq0", sorted=1)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9),
        str(path),
    )
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(path),
        "-o",
        str(tmp_path / "bad.plan"),
        "--compute-capability",
        "89",
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "node 0 (uniq0, Unique): UNSUPPORTED_NODE" in proc.stderr and "trt-check" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_model_exit_2(tmp_path):
    proc = run_cli(
        "trtforge.plugins.cli.build", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "x.plan")
    )
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "Hint:" in proc.stderr


@pytest.mark.parametrize("workspace", ["-1", "0", "1e30", "nan", "inf"])
def test_a_workspace_that_is_no_size_is_exit_2(tmp_path, workspace):
    """Checked before anything is loaded: a negative, infinite or NaN --workspace reached
    TensorRT's set_memory_pool_limit (a traceback, exit 3)."""
    proc = _build_norm_model(tmp_path, "--workspace", workspace)
    assert proc.returncode == 2, proc.stderr
    assert "--workspace" in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "m.plan").exists()


@pytest.mark.parametrize("name", ["LayerNorm", "RMSNorm"])
def test_single_node_models_build(rtx, native_lib, tmp_path, name):
    proc, sidecar = testing.build_rtx_engine(
        find_plugin(name), tmp_path, backend="native", dtype="bfloat16"
    )
    assert proc.returncode == 0, proc.stderr
    assert sidecar["plugins"][0]["name"] == name


def test_a_signal_stops_a_long_build(tmp_path):
    """TensorRT's parser and builder run native code for minutes on a large model, and Python
    handles a signal only between bytecodes of the main thread: SIGTERM during the build was
    not acted on for minutes (a 20,000-output Split builds for > 5 minutes on 2 cores). They
    run in a worker thread now: the command stops at once, 143, nothing written."""
    import os
    import signal
    import subprocess
    import sys
    import time

    n = 20_000
    outs = [f"o{i}" for i in range(n)]
    graph = helper.make_graph(
        [helper.make_node("Split", ["x"], outs, axis=0, num_outputs=n)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1]) for o in outs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "many.onnx")
    log = tmp_path / "log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trtforge.plugins.cli.build", str(tmp_path / "many.onnx")]
            + ["-o", str(tmp_path / "e.engine"), "--compute-capability", "89", "-vv"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
        while b"Compiler backend" not in log.read_bytes():  # the builder runs
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the build did not start"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted (SIGTERM); nothing written" in log.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "many.onnx"]


def _aot_build(tmp_path, graph, name: str = "m"):
    """`graph` saved as NAME.onnx (opset 17, IR 8) and trt-build of it for SM89: the process."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / f"{name}.onnx")
    return run_cli(
        "trtforge.plugins.cli.build",
        str(tmp_path / f"{name}.onnx"),
        "-o",
        str(tmp_path / f"{name}.engine"),
        "--compute-capability",
        "89",
    )


def test_an_invalid_graph_is_refused_before_tensorrt_parses_it(tmp_path):
    """A rank-0 ConstantOfShape shape passes onnx.checker, and TensorRT-RTX's parser died of
    SIGSEGV on it: trt-build ended with exit 139 and no message. trt-build refuses what
    trt-check calls invalid before TensorRT loads: exit 2, one line."""
    graph = helper.make_graph(
        [
            helper.make_node("ConstantOfShape", ["s"], ["c"]),
            helper.make_node("Add", ["x", "c"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(np.array(4, np.int64), "s")],
    )
    proc = _aot_build(tmp_path, graph)
    assert proc.returncode == 2, proc.stderr
    assert "input 0 has rank 0; the op takes a 1-D tensor there" in proc.stderr
    assert not (tmp_path / "m.engine").exists()


def test_a_static_zero_dim_needs_no_shapes(tmp_path):
    """An input of static shape [0, 4] was called dynamic ("add --shapes x:1x4,…"), and the
    shapes the hint asked for were then refused as not fitting [0, 4]: a 0 is static."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [0, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [0, 2])],
        [numpy_helper.from_array(np.ones((4, 2), np.float32), "w")],
    )
    proc = _aot_build(tmp_path, graph, "z")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "z.engine").stat().st_size > 0


@pytest.mark.parametrize(("k", "builds"), [(3840, True), (3841, False)])
def test_topk_above_the_limit_is_unsupported_as_the_builder_refuses_it(tmp_path, k, builds):
    """The parser accepts a TopK of K = 3841 and the builder refuses it: trt-check said
    SUPPORTED (a warning) of a model trt-build then failed on; both now say the same."""
    from trtforge.analyzer import check

    graph = helper.make_graph(
        [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5000])],
        [
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, k]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [1, k]),
        ],
        [numpy_helper.from_array(np.array([k], np.int64), "k")],
    )
    proc = _aot_build(tmp_path, graph, "t")
    assert check(str(tmp_path / "t.onnx"), target="rtx-1", backend="static").supported is builds
    assert (proc.returncode == 0) is builds, proc.stderr


@pytest.mark.parametrize(("rows", "builds"), [(2**20, True), (2**20 + 1, False)])
def test_a_tensor_above_2p40_elements_is_unsupported_as_the_builder_refuses_it(
    tmp_path, rows, builds
):
    """The parser takes an Expand to [rows, 2^20]; the builder refuses a tensor of more than
    2^40 elements ("exceeds the maximum supported element count"), exactly 2^40 builds."""
    from trtforge.analyzer import check

    graph = helper.make_graph(
        [helper.make_node("Expand", ["x", "s"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, 2**20])],
        [numpy_helper.from_array(np.array([rows, 2**20], np.int64), "s")],
    )
    proc = _aot_build(tmp_path, graph, "t")
    report = check(str(tmp_path / "t.onnx"), target="rtx-1", backend="static")
    assert report.supported is builds
    assert builds or "expand/tensor-too-large" in [f.code for f in report.nodes[0].errors]
    assert (proc.returncode == 0) is builds, proc.stderr


@pytest.mark.parametrize("dim", [2**32, 2**32 + 1])
def test_an_input_dim_the_parser_wraps_is_refused(tmp_path, dim):
    """TensorRT-RTX's parser refuses an input dim from 2^31 to 2^32 - 1 but takes larger ones
    modulo 2^32: an input [2^32 + 1] built an engine whose input is [1] (exit 0), and the
    parser backend said SUPPORTED. Both refuse it now, as the static backend does."""
    from trtforge.analyzer import check

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [dim])],
    )
    proc = _aot_build(tmp_path, graph, "w")
    assert proc.returncode == 2 and "above TensorRT's" in proc.stderr, proc.stderr
    assert not (tmp_path / "w.engine").exists()
    report = check(str(tmp_path / "w.onnx"), target="rtx-1", backend="parser")
    assert not report.supported
    assert "graph/input-too-large" in [f.code for f in report.graph_findings]
