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


def _positions_model() -> onnx.ModelProto:
    """x [b, s, 8] plus position embeddings looked up by a host node (`pos_embed`, as an
    onnxruntime-fused embedding runs on the host), then reshaped by a shape built from `s`.

    `s = Shape(x)[1]` feeds both the host node (through Range) and the TensorRT part (the
    Reshape's shape): it is computed before the host node, on the host."""
    rng = np.random.default_rng(0)
    i64 = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["x_shape"], name="shape"),
        helper.make_node("Gather", ["x_shape", "one"], ["s"], axis=0, name="seq_len"),
        helper.make_node("Range", ["zero", "s", "one"], ["pos"], name="positions"),
        helper.make_node("Gather", ["table", "pos"], ["pos_emb"], axis=0, name="pos_embed"),
        helper.make_node("Add", ["x", "pos_emb"], ["h"], name="add"),
        helper.make_node("Unsqueeze", ["s", "axes0"], ["s1"], name="unsqueeze"),
        helper.make_node("Concat", ["minus_one", "s1", "four"], ["shape2"], axis=0, name="cat"),
        helper.make_node("Reshape", ["h", "shape2"], ["r"], name="reshape"),
        helper.make_node("Relu", ["r"], ["r1"], name="relu"),
        helper.make_node("Neg", ["r1"], ["r2"], name="neg"),
        helper.make_node("Abs", ["r2"], ["y"], name="abs"),
    ]
    graph = helper.make_graph(
        nodes,
        "positions",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, 4])],
        [
            i64("zero", 0),
            i64("one", 1),
            i64("axes0", [0]),
            i64("minus_one", [-1]),
            i64("four", [4]),
            numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "table"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_shape_value_the_host_computes_is_computed_again_in_the_tensorrt_part(tmp_path):
    """TensorRT takes an integer scalar input read as a shape as a shape input tensor, whose
    values a profile must fix (trt-build cannot give them): the TensorRT part reads x and
    computes s itself; the host keeps its copy for the position lookup."""
    model = _positions_model()
    accepted = [node.name != "pos_embed" for node in model.graph.node]
    split = split_model(model, accepted)
    assert [s.name for s in split.stages] == ["host-pre", "tensorrt"]
    host, trt = split.stages
    assert set(trt.inputs) == {"x", "pos_emb"}
    assert trt.inputs["x"] == "input:x" and trt.inputs["pos_emb"] == "host-pre:pos_emb"
    assert {"Shape", "Gather"} <= {n.op_type for n in trt.proto.graph.node}
    assert trt.nodes == len(trt.proto.graph.node) == 9
    assert host.outputs == ["pos_emb"]  # s is no longer sent
    for stage in split.stages:
        onnx.checker.check_model(stage.proto, full_check=True)
    from trtforge.analyzer.rewrite.verify import run_model

    feeds = {"x": np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32)}
    np.testing.assert_array_equal(run_split(split, feeds)["y"], run_model(model, feeds)["y"])
    if HAS_RTX:  # the TensorRT part builds with the dims of x alone
        path = tmp_path / "trt.onnx"
        onnx.save(trt.proto, path)
        cmd = [sys.executable, "-m", "trtforge.plugins.cli.build", str(path)]
        cmd += ["-o", str(tmp_path / "e.engine"), "--compute-capability", "89"]
        cmd += ["--dims", "b=1:2:4,s=1:5:16", "--shapes", "pos_emb:1x8,5x8,16x8"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_shape_value_computed_by_a_host_node_stays_an_input():
    """Where the value itself comes from a node TensorRT does not take, there is nothing to
    compute again: the TensorRT part reads it as before."""
    model = _positions_model()
    accepted = [node.name not in ("pos_embed", "seq_len") for node in model.graph.node]
    split = split_model(model, accepted)
    trt = split.stages[-1]
    assert "s" in trt.inputs and trt.inputs["s"] == "host-pre:s"
    from trtforge.analyzer.rewrite.verify import run_model

    feeds = {"x": np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32)}
    np.testing.assert_array_equal(run_split(split, feeds)["y"], run_model(model, feeds)["y"])


def _perturbed_split(monkeypatch, factor: float) -> None:
    """run_split with its float outputs scaled by `factor` (as onnxruntime's kernels may round
    a model's fp16 arithmetic differently when it runs in parts)."""
    from trtforge.analyzer import split as split_module

    real = split_module.run_split

    def perturbed(split, feeds):
        got = real(split, feeds)
        return {k: v * factor if v.dtype.kind == "f" else v for k, v in got.items()}

    monkeypatch.setattr(split_module, "run_split", perturbed)


_FP16_INSIDE = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[4] x) => (float[4] y, int64[1, N] idx) {
      h = Cast<to=10>(x)
      r = Relu(h)
      rf = Cast<to=1>(r)
      idx = NonZero(rf)
      y = Sigmoid(rf)
    }"""


def test_the_split_is_compared_at_the_precision_the_model_computes_in(tmp_path, monkeypatch):
    """The whole-model verification compares the float outputs of a model that computes in
    fp16 at fp16's tolerance; the split's compared them at float32's (the onnxruntime-optimized
    fp16 Whisper decoder: "max |diff| 0.000185", nothing written, where `--auto` verified)."""
    from trtforge.analyzer.rewrite.api import rewrite_file
    from trtforge.plugins import catalog

    monkeypatch.setattr(catalog, "is_available", lambda spec: False)  # NonZero: host part
    _perturbed_split(monkeypatch, 1 + 5e-3)  # within fp16's tolerance, not float32's
    assert _split_file(tmp_path, "f16", onnx.parser.parse_model(_FP16_INSIDE))[1]["verified"]
    float_only = _FP16_INSIDE.replace("Cast<to=10>(x)", "Identity(x)")
    src = tmp_path / "f32.onnx"
    onnx.save(onnx.parser.parse_model(float_only), src)
    result = rewrite_file(src, tmp_path / "f32.trt.onnx", split=True, target="rtx-1")
    assert not result.written and "verification of the split failed" in result.failure


def test_a_host_part_gets_the_weights_its_bodies_read_from_the_graph():
    """A Loop (host side) whose body reads a weight of the enclosing graph, and a nested
    body reading one two levels down: onnx's Extractor follows the nodes' own inputs only, so
    the part lacked them and was no valid model."""
    vi = helper.make_tensor_value_info
    inner = helper.make_graph(
        [helper.make_node("Mul", ["a", "k2"], ["r"])],
        "inner",
        [],
        [vi("r", TensorProto.FLOAT, [4])],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["e"])], "other", [], [vi("e", TensorProto.FLOAT, [4])]
    )
    body = helper.make_graph(
        [
            helper.make_node("Cast", ["i"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["f", "k"], ["fk"]),
            helper.make_node("If", ["c"], ["b"], then_branch=inner, else_branch=other),
            helper.make_node("Add", ["b", "fk"], ["a2"]),
            helper.make_node("Identity", ["c"], ["c2"]),
        ],
        "body",
        [
            vi("i", TensorProto.INT64, []),
            vi("c", TensorProto.BOOL, []),
            vi("a", TensorProto.FLOAT, [4]),
        ],
        [vi("c2", TensorProto.BOOL, []), vi("a2", TensorProto.FLOAT, [4])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["xr"]),
            helper.make_node("Loop", ["m", "c0", "xr"], ["y"], body=body),
        ],
        "g",
        [vi("x", TensorProto.FLOAT, [4]), vi("c0", TensorProto.BOOL, [])],
        [vi("y", TensorProto.FLOAT, [4])],
        [
            numpy_helper.from_array(np.full(4, 2, np.float32), "k"),
            numpy_helper.from_array(np.full(4, 0.5, np.float32), "k2"),
            numpy_helper.from_array(np.array(3, np.int64), "m"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    split = split_model(model, [True, False])
    assert [s.name for s in split.stages] == ["tensorrt", "host-post"]
    for stage in split.stages:
        onnx.checker.check_model(stage.proto, full_check=True)
    from trtforge.analyzer.rewrite.verify import run_model

    for cond in (True, False):
        feeds = {"x": np.array([1.0, -2.0, 3.0, 0.5], np.float32), "c0": np.array(cond)}
        np.testing.assert_allclose(run_split(split, feeds)["y"], run_model(model, feeds)["y"])


def test_a_part_gets_the_functions_its_functions_call_from_their_bodies():
    """F calls G from an If branch (skl2onnx's KNNImputer): onnx's Extractor copied F only,
    and the host part did not load ("G(-1) is not a registered function/op")."""
    domain = "local"
    vi = helper.make_tensor_value_info
    g_fn = helper.make_function(
        domain, "G", ["a"], ["b"], [helper.make_node("Neg", ["a"], ["b"])],
        [helper.make_opsetid("", 18)],
    )  # fmt: skip
    then = helper.make_graph(
        [helper.make_node("G", ["a"], ["t"], domain=domain)], "then", [], [vi("t", 1, None)]
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["e"])], "else", [], [vi("e", 1, None)]
    )
    f_fn = helper.make_function(
        domain,
        "F",
        ["a"],
        ["c"],
        [
            helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0),
            helper.make_node("Constant", [], ["zero"], value_float=0.0),
            helper.make_node("Greater", ["s", "zero"], ["cond"]),
            helper.make_node("If", ["cond"], ["c"], then_branch=then, else_branch=other),
        ],
        [helper.make_opsetid("", 18), helper.make_opsetid(domain, 1)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("F", ["r"], ["y"], domain=domain),
        ],
        "g",
        [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(domain, 1)],
        functions=[g_fn, f_fn],
    )
    split = split_model(model, [True, False])
    host = split.stages[-1].proto
    assert sorted(f.name for f in host.functions) == ["F", "G"]
    from trtforge.analyzer.rewrite.verify import run_model

    feeds = {"x": np.array([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]], np.float32)}
    np.testing.assert_allclose(run_split(split, feeds)["y"], run_model(model, feeds)["y"])
