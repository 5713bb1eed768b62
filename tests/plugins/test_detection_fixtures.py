"""torchvision's detectors (random weights, tiny backbones; tests/fixtures/detection, written by
examples/detection/export_detection_models.py) go through `trt-rewrite --auto` for TensorRT-RTX
verified, parse with TensorRT-RTX's parser with trtforge's plugins, and build ahead of time for
SM89 (Mask and Keypoint R-CNN after paste-masks / heatmap-keypoints remove the per-iteration
shapes of their post-processing Loop, docs/plugins.md)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from _plugin_helpers import run_cli

pytestmark = pytest.mark.parser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "detection"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
#: families whose post-processing Loop resizes every mask/heatmap to its box (per-iteration
#: shapes, which TensorRT-RTX 1.7's builder does not build) and the pass --auto fixes it with
LOOP_PASS = {"maskrcnn": "paste-masks", "keypointrcnn": "heatmap-keypoints"}


def test_every_family_and_opset_is_committed():
    families = {m["family"] for m in MANIFEST.values()}
    assert families == {
        "fasterrcnn",
        "maskrcnn",
        "keypointrcnn",
        "retinanet",
        "fcos",
        "ssd",
        "ssdlite",
    }
    assert {m["opset"] for m in MANIFEST.values()} == {13, 17}
    assert sum(p.stat().st_size for p in FIXTURES.glob("*.onnx")) < 2_200_000


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    """`trt-rewrite --auto --target rtx-1` of every fixture, done once: name -> (path, report)."""
    out = tmp_path_factory.mktemp("detection")
    done = {}

    def get(name: str):
        if name not in done:
            path, report = out / name, out / f"{name}.json"
            proc = run_cli(
                "trtforge.analyzer.cli.rewrite",
                str(FIXTURES / name),
                "-o",
                str(path),
                "--auto",
                "--target",
                "rtx-1",
                "--report",
                str(report),
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            done[name] = (path, json.loads(report.read_text()))
        return done[name]

    return get


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_auto_removes_what_stops_the_build(rewritten, name):
    path, report = rewritten(name)
    passes = report["passes"]
    assert passes["inline-empty-guard"]["applied"] >= 1
    assert passes["nms-plugin"]["applied"] >= 1
    assert report["verification"]["ok"], report["verification"]
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert "If" not in ops and "NonMaxSuppression" not in ops and "NMS" in ops
    family = MANIFEST[name]["family"]
    if family in LOOP_PASS:
        assert passes["loop-concat-scan"]["applied"] == 1
        assert passes[LOOP_PASS[family]]["applied"] == 1
    if family == "maskrcnn":
        assert "Loop" not in ops  # pasted in one batched computation


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_parses_and_builds_for_sm89(rtx, native_lib, rewritten, tmp_path, name):
    path, _ = rewritten(name)
    engine = tmp_path / "m.plan"
    proc = run_cli(
        "trtforge.plugins.cli.build",
        str(path),
        "-o",
        str(engine),
        "--compute-capability",
        "89",
        env={"TRTFORGE_TRT_FLAVOUR": "tensorrt_rtx"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    side = json.loads((tmp_path / "m.plan.json").read_text())
    plugins = {p["name"] for p in side["plugins"]}
    assert {"NonZero", "NMS"} <= plugins
    if MANIFEST[name]["family"] == "fasterrcnn":
        assert "ROIAlign_TRT" in plugins


def test_nms_plugin_takes_int64_max_boxes_per_class():
    """torchvision exports max_output_boxes_per_class = INT64_MAX; the plugin field is INT32
    and any count past the number of boxes keeps them all."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    from trtforge.analyzer.rewrite.verify import verify
    from trtforge.analyzer.targets import parse_target

    inits = [
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], np.int64), "mo"),
        numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
    ]
    nms = helper.make_node("NonMaxSuppression", ["boxes", "scores", "mo", "iou"], ["sel"])
    graph = helper.make_graph(
        [nms],
        "nms",
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2, 6]),
        ],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, [None, 3])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    result = rewrite_model(model, ["nms-plugin"], RewriteOptions(parse_target("rtx-1")))
    assert result.passes["nms-plugin"].applied == 1
    (node,) = result.proto.graph.node
    field = next(a for a in node.attribute if a.name == "max_output_boxes_per_class")
    assert field.i == 2**31 - 1
    check = verify(model, result.proto, seed=1)
    assert check.ok, check.describe_worst()


@pytest.mark.parametrize("center", [0, 1])
def test_nms_reference_compares_iou_in_float32_as_onnxruntime_does(center):
    """Two of Faster R-CNN's boxes clipped to the border: IoU 0.5 in float64, 0.50000006 in
    float32. onnxruntime suppresses the second at iou_threshold 0.5; the reference kept it
    (float64), and `--auto` stopped with "a pass produced a different result"."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from trtforge.plugins.decls.nms import reference

    corners = np.array(
        [[161.19456481933594, 129.0, 224.9842071533203, 192.96871948242188],
         [161.19456481933594, 129.0, 224.9842071533203, 160.98435974121094]],
        np.float32,
    )  # fmt: skip
    if center:  # the same boxes as (x centre, y centre, width, height)
        y1, x1, y2, x2 = corners.T
        corners = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    boxes = corners[None].astype(np.float32)
    scores = np.array([[[0.9, 0.8]]], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node(
                "NonMaxSuppression", ["b", "s", "mo", "iou"], ["sel"], center_point_box=center
            )
        ],
        "nms",
        [
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 2, 4]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, 2]),
        ],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, [None, 3])],
        [
            numpy_helper.from_array(np.array([10], np.int64), "mo"),
            numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"b": boxes, "s": scores})
    got, _ = reference([boxes, scores], center, 10, 0.5, float("-inf"))
    np.testing.assert_array_equal(got, want)
