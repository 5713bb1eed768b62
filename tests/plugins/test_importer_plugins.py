"""The plugins TensorRT's ONNX importers ask for by name (NonZero on TensorRT-RTX, ROIAlign_TRT
v2 everywhere): NumPy references against onnxruntime's kernels on the standard ops, and the
declaration features they use (computed and data-dependent output shapes, size tensors,
several outputs, integer and bool tensors)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from trtforge.plugins import find_plugin
from trtforge.plugins.spec import PluginSpec, TensorSpec, Tolerance, UpperBound

NONZERO = find_plugin("NonZero", "1", "")
ROIALIGN = find_plugin("ROIAlign_TRT", "2", "")
CTM = {1: "half_pixel", 0: "output_half_pixel"}
MODE = {1: "avg", 0: "max"}


def _ort(node, feeds, opset, out_types):
    inputs = [
        helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for k, v in feeds.items()
    ]
    outputs = [helper.make_tensor_value_info(n, t, [None] * r) for n, t, r in out_types]
    model = helper.make_model(
        helper.make_graph([node], "g", inputs, outputs),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _cases(spec):
    return spec.test_inputs(np.random.default_rng(0))


@pytest.mark.parametrize("i", range(len(_cases(NONZERO))))
def test_nonzero_reference_matches_onnxruntime(i):
    (x,), attrs = _cases(NONZERO)[i]
    y, count = NONZERO.run_reference([x], attrs)
    # onnxruntime's NonZero lacks some types (bfloat16, float16, int8): same zeros as float32
    xo = x if str(x.dtype) in ("float32", "int32", "int64", "bool", "uint8") else x.astype("f4")
    node = helper.make_node("NonZero", ["x"], ["y"])
    (want,) = _ort(node, {"x": xo}, 13, [("y", onnx.TensorProto.INT64, 2)])
    assert y.dtype == np.int64 and count.shape == () and int(count) == want.shape[1]
    np.testing.assert_array_equal(y, want)
    shapes = NONZERO.shapes_of_outputs([x.shape])
    assert shapes[0][0] == x.ndim and isinstance(shapes[0][1], UpperBound)
    assert shapes[0][1] == x.size >= int(count) and shapes[1] == ()


@pytest.mark.parametrize("i", range(len(_cases(ROIALIGN))))
def test_roialign_reference_matches_onnxruntime(i):
    (x, rois, batch), attrs = _cases(ROIALIGN)[i]
    (y,) = ROIALIGN.run_reference([x, rois, batch], attrs)
    node = helper.make_node(
        "RoiAlign",
        ["x", "rois", "batch"],
        ["y"],
        coordinate_transformation_mode=CTM[attrs["coordinate_transformation_mode"]],
        mode=MODE[attrs["mode"]],
        output_height=attrs["output_height"],
        output_width=attrs["output_width"],
        sampling_ratio=attrs["sampling_ratio"],
        spatial_scale=attrs["spatial_scale"],
    )
    feeds = {"x": x, "rois": rois, "batch": batch.astype(np.int64)}
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    (want,) = _ort(node, feeds, 16, [("y", elem, 4)])
    assert y.dtype == x.dtype and y.shape == want.shape
    assert y.shape == ROIALIGN.shapes_of_outputs([x.shape, rois.shape, batch.shape], attrs)[0]
    tol = ROIALIGN.tolerances[str(x.dtype)]
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=tol.rtol, atol=tol.atol * 4)


def test_roialign_covers_both_modes_and_coordinate_modes():
    seen = {(a["coordinate_transformation_mode"], a["mode"]) for _, a in _cases(ROIALIGN)}
    assert seen == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_integer_and_bool_inputs_keep_their_type():
    seen = {}

    def ref(inputs):
        seen["dtypes"] = [str(x.dtype) for x in inputs]
        return [inputs[0] > 0]

    spec = PluginSpec(
        "Positive",
        "1",
        "t",
        (TensorSpec("x"), TensorSpec("m")),
        (TensorSpec("y"),),
        (),
        (("int32", "bool", "bool"),),
        {"bool": Tolerance(0, 0)},
        ref,
    )
    (y,) = spec.run_reference([np.array([-1, 2], np.int32), np.array([True, False])])
    assert seen["dtypes"] == ["int32", "bool"] and y.dtype == np.bool_
    assert y.tolist() == [False, True]


def test_size_tensor_must_be_an_integer_output():
    with pytest.raises(ValueError, match="size-tensor output"):
        PluginSpec(
            "Bad",
            "1",
            "t",
            (TensorSpec("x"),),
            (TensorSpec("y"), TensorSpec("n", size_tensor=True)),
            (),
            (("float32", "float32", "float32"),),
            {},
            lambda i: i,
        )


NMS = find_plugin("NMS")


def _onnxruntime_nms(boxes, scores, attrs):
    """onnxruntime's NonMaxSuppression with the plugin's fields as constant inputs."""
    consts = [
        helper.make_tensor(
            "mo", onnx.TensorProto.INT64, [1], [attrs["max_output_boxes_per_class"]]
        ),
        helper.make_tensor("iou", onnx.TensorProto.FLOAT, [1], [attrs["iou_threshold"]]),
        helper.make_tensor("st", onnx.TensorProto.FLOAT, [1], [attrs["score_threshold"]]),
    ]
    nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in consts]
    nodes.append(
        helper.make_node(
            "NonMaxSuppression",
            ["boxes", "scores", "mo", "iou", "st"],
            ["y"],
            center_point_box=attrs["center_point_box"],
        )
    )
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("boxes", f, boxes.shape),
            helper.make_tensor_value_info("scores", f, scores.shape),
        ],
        [helper.make_tensor_value_info("y", onnx.TensorProto.INT64, [None, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, {"boxes": boxes, "scores": scores})
    return want


@pytest.mark.parametrize("i", range(len(_cases(NMS))))
def test_nms_reference_matches_onnxruntime(i):
    (boxes, scores), attrs = _cases(NMS)[i]
    sel, count = NMS.run_reference([boxes, scores], attrs)
    want = _onnxruntime_nms(boxes, scores, attrs)
    np.testing.assert_array_equal(sel, want)
    assert int(count) == want.shape[0]
    assert (attrs["max_output_boxes_per_class"] == 0) == (want.shape[0] == 0)
    upper = NMS.shapes_of_outputs([boxes.shape, scores.shape], attrs)[0][0]
    assert isinstance(upper, UpperBound) and upper >= want.shape[0]


@pytest.mark.parametrize("center", [0, 1])
def test_nms_reference_on_thousands_of_boxes(center):
    """Detector-sized inputs (SSD300 scores 8732 anchors per class): the reference stays fast
    and picks exactly onnxruntime's boxes, with many overlaps, equal scores and empty boxes."""
    import time

    rng = np.random.default_rng(7 + center)
    n_box = 5000
    xy = rng.uniform(0, 300, size=(1, n_box, 2))
    wh = rng.uniform(0, 60, size=(1, n_box, 2))
    wh[0, :50] = 0  # boxes of no area never suppress
    if center:
        boxes = np.concatenate([xy + wh / 2, wh], -1)
    else:
        boxes = np.concatenate([(xy + wh)[..., ::-1], xy[..., ::-1]], -1)  # corners swapped
    scores = rng.random((1, 4, n_box)).astype(np.float32)
    scores[:, :, 100:400] = 0.5  # ties: lower index first
    for max_out, iou, thr in ((2**31 - 1, 0.5, 0.05), (200, 0.3, -1.0)):
        attrs = {
            "center_point_box": center,
            "max_output_boxes_per_class": max_out,
            "iou_threshold": iou,
            "score_threshold": thr,
        }
        start = time.perf_counter()
        sel, count = NMS.run_reference([boxes.astype(np.float32), scores], attrs)
        took = time.perf_counter() - start
        want = _onnxruntime_nms(boxes.astype(np.float32), scores, attrs)
        np.testing.assert_array_equal(sel, want)
        assert int(count) == want.shape[0] > 4 * 100
        assert took < 20, f"{took:.1f} s"
