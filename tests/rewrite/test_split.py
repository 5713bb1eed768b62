"""trt-rewrite --split: the largest TensorRT part and host parts, verified as a composition."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.split import _largest_convex, run_split, sample_feeds, split_model

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


def _pipeline() -> onnx.ModelProto:
    """Strings → ids (ai.onnx.ml LabelEncoder), an embedding classifier, ids → label strings."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node(
            "LabelEncoder",
            ["text"],
            ["ids"],
            domain="ai.onnx.ml",
            name="vocab",
            keys_strings=["a", "b", "c", "d"],
            values_int64s=[1, 2, 3, 4],
            default_int64=0,
        ),
        helper.make_node("Gather", ["E", "ids"], ["emb"], name="embed"),
        helper.make_node("MatMul", ["emb", "W"], ["logits0"], name="proj"),
        helper.make_node("Relu", ["logits0"], ["logits"], name="relu"),
        helper.make_node("ArgMax", ["logits"], ["cls"], axis=1, keepdims=0, name="argmax"),
        helper.make_node(
            "LabelEncoder",
            ["cls"],
            ["label"],
            domain="ai.onnx.ml",
            name="labels",
            keys_int64s=[0, 1, 2],
            values_strings=["neg", "neu", "pos"],
            default_string="?",
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "pipe",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [4])],
        [
            helper.make_tensor_value_info("label", TensorProto.STRING, [4]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [4, 3]),
        ],
        [
            numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "E"),
            numpy_helper.from_array(rng.standard_normal((8, 3)).astype(np.float32), "W"),
        ],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )


def _accepted(model):
    return [n.domain != "ai.onnx.ml" for n in model.graph.node]


def test_pipeline_splits_into_three_verified_stages():
    model = _pipeline()
    split = split_model(model, _accepted(model))
    assert [s.name for s in split.stages] == ["host-pre", "tensorrt", "host-post"]
    trt = split.stages[1]
    assert [n.op_type for n in trt.proto.graph.node] == ["Gather", "MatMul", "Relu", "ArgMax"]
    assert trt.inputs == {"ids": "host-pre:ids"}
    assert split.outputs == {"label": "host-post:label", "logits": "tensorrt:logits"}
    for stage in split.stages:
        onnx.checker.check_model(stage.proto, full_check=True)
    from trtforge.analyzer.rewrite.verify import run_model

    feeds = sample_feeds(model, 1)
    want, got = run_model(model, feeds), run_split(split, feeds)
    assert list(got["label"]) == list(want["label"])
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-6)


def test_region_is_convex():
    """a → u (host) → b, and a → b: a and b cannot be one engine with u between them."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node("Neg", ["a"], ["u"], name="u"),
        helper.make_node("Add", ["a", "u"], ["b"], name="b"),
        helper.make_node("Abs", ["b"], ["y"], name="c"),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]))
    ok = [True, False, True, True]
    region = _largest_convex(list(model.graph.node), ok)
    assert region == {2, 3}  # the larger convex part (not {0})
    split = split_model(model, ok)
    feeds = {"x": np.array([1.0, -2.0], np.float32)}
    from trtforge.analyzer.rewrite.verify import run_model

    np.testing.assert_array_equal(run_split(split, feeds)["y"], run_model(model, feeds)["y"])


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "trtforge.analyzer.cli.rewrite", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_writes_stages_and_manifest(tmp_path):
    src = tmp_path / "pipe.onnx"
    onnx.save(_pipeline(), src)
    out = tmp_path / "pipe.trt.onnx"
    proc = _cli(src, "-o", out, "--split", "--target", "rtx-1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "pipe.trt.split.json").read_text())
    assert manifest["schema"] == "trtforge.split/1" and manifest["verified"] is True
    for stage in manifest["stages"]:
        assert (tmp_path / stage["model"]).is_file()
    if HAS_RTX:
        from trtforge.analyzer.api import check

        assert check(str(out), "rtx-1", "parser", advice=False).supported


def test_nothing_to_split_is_a_usage_error(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])],
            "g",
            [x],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        )
    )
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    proc = _cli(src, "-o", tmp_path / "o.onnx", "--split", "--target", "rtx-1")
    assert proc.returncode == 2 and "nothing to split" in proc.stderr
    assert not (tmp_path / "o.onnx").exists()


def test_a_boundary_type_without_rank_gets_one_from_a_run():
    """The type table knows a boundary tensor's element type but not its rank (ops shape
    inference cannot see through): the cut takes its rank from one onnxruntime run, so every
    stage declares shaped inputs and outputs, as onnx.checker requires."""
    model = _pipeline()
    table = {"ids": helper.make_tensor_type_proto(TensorProto.INT64, None)}
    split = split_model(model, _accepted(model), table)
    stages = {s.name: s.proto for s in split.stages}
    for proto in stages.values():
        onnx.checker.check_model(proto)
    (ids,) = [v for v in stages["tensorrt"].graph.input if v.name == "ids"]
    assert ids.type.tensor_type.elem_type == TensorProto.INT64
    assert len(ids.type.tensor_type.shape.dim) == 1  # the rank, from the run


def _split_file(tmp_path, stem: str, model: onnx.ModelProto):
    """`rewrite_file(..., split=True)` for rtx-1 on `model` saved as STEM.onnx: the TensorRT
    part's path and the manifest, once it was written."""
    from trtforge.analyzer.rewrite.api import rewrite_file

    src, out = tmp_path / f"{stem}.onnx", tmp_path / f"{stem}.trt.onnx"
    onnx.save(model, src)
    result = rewrite_file(src, out, split=True, target="rtx-1")
    assert result.written, result.failure
    return out, json.loads((tmp_path / f"{stem}.trt.split.json").read_text())


def test_a_node_whose_plugin_is_not_built_goes_to_the_host_part(tmp_path, monkeypatch):
    """A NonZero runs on TensorRT-RTX only through the ::NonZero plugin; where its kernels
    are not built trt-check rejects the model, but --split called every node supported
    ("nothing to split", exit 2; Longformer and LED exports)."""
    from trtforge.plugins import catalog

    monkeypatch.setattr(catalog, "is_available", lambda spec: False)
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[4] x) => (float[4] y, int64[1, N] idx) {
          r = Relu(x)
          idx = NonZero(r)
          y = Sigmoid(r)
        }"""
    )
    out, manifest = _split_file(tmp_path, "nz", model)
    hosts = [stage for stage in manifest["stages"] if stage["name"] != "tensorrt"]
    assert hosts and manifest["verified"] is True
    tensorrt = onnx.load(out)
    assert "NonZero" not in {n.op_type for n in tensorrt.graph.node}


def test_the_split_is_verified_on_inputs_the_model_runs_with(tmp_path, monkeypatch):
    """A model onnxruntime runs only when its dynamic length is a multiple of 4 (Longformer's
    and LED's TorchScript exports, attention_window=4): the split was verified on the first
    generated input set alone (length 1) and refused ("cannot run the model for
    verification"); it now takes the first set the model runs with, as whole-model
    verification does."""
    from trtforge.plugins import catalog

    monkeypatch.setattr(catalog, "is_available", lambda spec: False)  # NonZero: host part
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[1, seq] x) => (float[1, n, 4] y, int64[3, k] nz) <int64[3] s = {1, -1, 4}> {
          r = Reshape(x, s)
          y = Relu(r)
          nz = NonZero(y)
        }"""
    )
    assert _split_file(tmp_path, "r4", model)[1]["verified"] is True
