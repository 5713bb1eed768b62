"""TensorRT-RTX (CPU) asks for plugins by name when it imports NonZero and RoiAlign; with
trtforge's registered (trt-build: native library or Python plugins), the unchanged standard
nodes parse and engines build ahead of time for SM89. trt-check marks those nodes `plugin`."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from _plugin_helpers import run_cli
from onnx import TensorProto, helper, numpy_helper

pytestmark = pytest.mark.parser


def _detector_tail(path, opset=16):
    """A detection-head-like graph: scores -> NonZero -> boxes -> RoiAlign on a feature map."""
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 20, (6, 2)), rng.uniform(24, 31, (6, 2))], 1)
    nodes = [
        helper.make_node("Greater", ["scores", "thr"], ["keep"], name="keep"),
        helper.make_node("NonZero", ["keep"], ["idx2"], name="nonzero"),
        helper.make_node("Squeeze", ["idx2", "zero"], ["idx"], name="squeeze"),
        helper.make_node("Gather", ["boxes", "idx"], ["sel"], name="gather_boxes"),
        helper.make_node("Gather", ["bidx", "idx"], ["selb"], name="gather_batch"),
        helper.make_node(
            "RoiAlign",
            ["feat", "sel", "selb"],
            ["pooled"],
            name="roi_align",
            mode="avg",
            output_height=7,
            output_width=7,
            sampling_ratio=2,
            spatial_scale=0.25,
        ),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.5, np.float32), "thr"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(boxes.astype(np.float32), "boxes"),
        numpy_helper.from_array(np.zeros(6, np.int64), "bidx"),
    ]
    graph = helper.make_graph(
        nodes,
        "tail",
        [
            helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 8, 16, 16]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [6]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [None, 8, 7, 7])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def test_check_marks_importer_plugins(tmp_path):
    from trtforge.analyzer.api import check

    model = _detector_tail(tmp_path / "m.onnx")
    report = check(str(model), "rtx-1", backend="static", advice=False)
    status = {n.name: n for n in report.nodes}
    for name, plugin in (("nonzero", "NonZero"), ("roi_align", "ROIAlign_TRT")):
        assert status[name].status == "plugin", status[name]
        assert status[name].plugin.name == plugin
    trt = check(str(model), "trt-10", backend="static", advice=False)
    assert {n.name: n.status for n in trt.nodes}["nonzero"] == "supported"


@pytest.mark.parametrize("backend", ["native", "python"])
def test_nonzero_and_roialign_build_for_sm89(rtx, native_lib, tmp_path, backend):
    model = _detector_tail(tmp_path / "m.onnx")
    engine = tmp_path / "m.plan"
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(model),
        "-o",
        str(engine),
        "--compute-capability",
        "89",
        "--plugin-backend",
        backend,
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert engine.stat().st_size > 1000
    side = json.loads((tmp_path / "m.plan.json").read_text())
    assert {(p["name"], p["version"], p["namespace"]) for p in side["plugins"]} == {
        ("NonZero", "1", ""),
        ("ROIAlign_TRT", "2", ""),
    }


def test_rewrite_auto_leaves_plugin_served_nodes(tmp_path):
    model = _detector_tail(tmp_path / "m.onnx")
    out = tmp_path / "out.onnx"
    proc = run_cli(
        "trtforge.analyzer.cli.rewrite", str(model), "-o", str(out), "--auto", "--target", "rtx-1"
    )
    assert proc.returncode == 0, proc.stderr
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert "NonZero" in ops and "RoiAlign" in ops
