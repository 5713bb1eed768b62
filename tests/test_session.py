"""One model session per command: shape inference runs once per version of a model, the
graphsurgeon graph is imported once per version, and advice exports nothing.

Counted by wrapping `inference_guard.infer_model` (every inference of a ModelProto this process
asks for; ONNX runs it in a child) and onnx-graphsurgeon's `import_onnx`/`export_onnx` in this
process (the parser backend's worker is another process).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import onnx
import onnx_graphsurgeon as gs
import pytest

from trtforge.analyzer import inference_guard
from trtforge.analyzer.api import check, parser_available
from trtforge.analyzer.cli import check as check_cli
from trtforge.analyzer.cli import rewrite as rewrite_cli
from trtforge.analyzer.session import ModelSession

#: a real exported block: two decomposed LayerNorms (fuse-layernorm) and a contrib FastGelu
#: (decompose-contrib, which trt-10 needs), so `--auto` runs several passes that change it
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transformer_block.onnx"


@pytest.fixture
def calls(monkeypatch) -> Counter:
    counts: Counter = Counter()

    def counted(name, real):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        inference_guard, "infer_model", counted("infer_shapes", inference_guard.infer_model)
    )
    monkeypatch.setattr(gs, "import_onnx", counted("import_onnx", gs.import_onnx))
    monkeypatch.setattr(gs, "export_onnx", counted("export_onnx", gs.export_onnx))
    return counts


def _check(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "report.json"
    code = check_cli.main([str(EXAMPLE), "--format", "json", "-o", str(out), *args])
    assert code in (0, 1)
    return json.loads(out.read_text())


def _advice(report: dict) -> list[str]:
    return [r["code"] for r in report["graph"]["reasons"] if r["code"].startswith("advice/")]


def test_trt_check_static_infers_once_and_advice_exports_nothing(tmp_path, calls):
    report = _check(tmp_path, "--backend", "static", "--target", "trt-10")
    assert _advice(report) == ["advice/fuse-layernorm"]  # advice ran, on the session's graph
    assert calls["infer_shapes"] == 1
    assert calls["import_onnx"] == 1
    assert calls["export_onnx"] == 0


@pytest.mark.skipif(not parser_available(), reason="needs tensorrt or tensorrt_rtx")
def test_trt_check_with_the_parser_infers_once(tmp_path, calls):
    """The parser backend borrows the knowledge base's hints for the nodes it rejects from
    the session (no second whole static check), and its validity gate shares the run."""
    report = _check(tmp_path)  # auto: the installed parser
    assert report["backend"] == "parser"
    assert calls["infer_shapes"] == 1
    assert calls["export_onnx"] == 0
    rejected = {n["index"]: n for n in report["nodes"] if n["status"] == "unsupported"}
    assert rejected  # FastGelu: its hint comes from the knowledge base
    static = check(EXAMPLE, target=report["target"], backend="static", advice=False)
    for index, node in rejected.items():
        known = [f.hint for f in static.nodes[index].reasons if f.is_error]
        assert known and node["reasons"][0]["hint"] == known[0]


def test_rewrite_auto_infers_each_version_once(tmp_path, calls):
    out, report_path = tmp_path / "block.trt.onnx", tmp_path / "r.json"
    code = rewrite_cli.main(
        [str(EXAMPLE), "-o", str(out), "--auto", "--target", "trt-10", "--report", str(report_path)]
    )
    assert code == 0
    report = json.loads(report_path.read_text())
    changed_by = [pid for pid, stats in report["passes"].items() if stats["applied"]]
    assert len(changed_by) >= 2, changed_by  # several passes changed the graph
    assert report["verification"]["ok"] and report["auto"]["unsupported_after"] == 0
    assert "converted the model" not in " ".join(report["notes"])
    # two versions: the input (validity gate, trt-check, advice, the passes, verification)
    # and the written output (the check after the rewrite, and its advice)
    assert calls["infer_shapes"] == 2
    assert calls["import_onnx"] <= 2
    assert calls["export_onnx"] == 1


def test_a_session_infers_once_and_forgets_a_taken_graph(calls):
    session = ModelSession.of(EXAMPLE)
    assert session.types() is session.types()
    assert session.problems() == session.problems() == []
    graph = session.graph()
    assert session.graph() is graph and session.take_graph() is graph
    assert calls["infer_shapes"] == 1 and calls["import_onnx"] == 1
    assert session.graph() is not graph  # imported again: the taken one may have changed
    assert calls["import_onnx"] == 2 and calls["infer_shapes"] == 1
    derived = session.derive(onnx.load(EXAMPLE))
    derived.types()
    assert calls["infer_shapes"] == 2  # a new version is inferred once more


def test_rewrite_split_infers_each_version_once(tmp_path, calls):
    """--split: trt-check of the rewritten model and the cut share one type table."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Relu", ["x"], ["h"], name="relu"),
        helper.make_node("MatMul", ["h", "W"], ["scores"], name="proj"),
        helper.make_node("ArgMax", ["scores"], ["cls"], axis=1, keepdims=0, name="argmax"),
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
    weights = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    graph = helper.make_graph(
        nodes,
        "pipe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("label", TensorProto.STRING, [2])],
        [numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 8
    path, out = tmp_path / "pipe.onnx", tmp_path / "pipe.trt.onnx"
    onnx.save(model, str(path))
    code = rewrite_cli.main([str(path), "-o", str(out), "--split", "--target", "rtx-1", "-q"])
    assert code == 0
    manifest = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert [s["name"] for s in manifest["stages"]] == ["tensorrt", "host-post"]
    # the input (validity gate, trt-check) and the rewritten version (its check and the cut)
    assert calls["infer_shapes"] <= 2


def test_a_sessions_graph_keeps_the_weights_its_inference_ran_without():
    """Inference runs without the weights (`inference._weightless`: initializers made
    inputs, Constant nodes' weights without data); the graph a session imports for the
    rewrites has every one back, with its values."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(3)]
    nodes, current = [], "x"
    for i, weight in enumerate(weights):
        nodes += [
            helper.make_node("Constant", [], [f"w{i}"], value=numpy_helper.from_array(weight)),
            helper.make_node("MatMul", [current, f"w{i}"], [f"y{i}"]),
        ]
        current = f"y{i}"
    bias = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "bias")
    nodes.append(helper.make_node("Add", [current, "bias"], ["out"]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [bias],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    from trtforge.analyzer.inference import _weightless

    assert not _weightless(model).graph.node[0].attribute[0].t.raw_data  # ran without them
    imported = ModelSession.of(model).graph()
    held = [n.attrs["value"].values for n in imported.nodes if n.op == "Constant"]
    assert len(held) == 3
    for got, want in zip(held, weights, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(imported.tensors()["bias"].values, numpy_helper.to_array(bias))
    assert [i.name for i in imported.inputs] == ["x"]


def test_a_tiny_external_constant_is_read_from_a_regular_file_only(tmp_path):
    """`tiny_external_copy` reads a constant of a few values from its external file (a trip
    count saved with size_threshold=0); a FIFO put in the file's place after the model was
    loaded is not waited on, and a larger tensor is not read."""
    import os

    import numpy as np
    import onnx

    from trtforge.analyzer.loading import tiny_external_copy

    def external(name: str, values) -> onnx.TensorProto:
        tensor = onnx.numpy_helper.from_array(np.asarray(values), name)
        data = tensor.raw_data
        (tmp_path / f"{name}.bin").write_bytes(data)
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (
            ("location", f"{name}.bin"),
            ("offset", "0"),
            ("length", str(len(data))),
        ):
            tensor.external_data.add(key=key, value=value)
        return tensor

    trips = external("m", np.array(2**63 - 1, np.int64))
    copy = tiny_external_copy(trips, tmp_path)
    assert copy is not None and int(onnx.numpy_helper.to_array(copy)) == 2**63 - 1
    assert tiny_external_copy(external("w", np.zeros(64, np.float32)), tmp_path) is None
    os.remove(tmp_path / "m.bin")
    os.mkfifo(tmp_path / "m.bin")
    assert tiny_external_copy(trips, tmp_path) is None
