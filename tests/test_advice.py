"""Performance advice: trt-check names the fusions trt-rewrite would make, and --auto makes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import onnx

from trtforge.analyzer import check
from trtforge.analyzer.schemas import check_schema

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transformer_block.onnx"


def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300
    )


def _advice(report) -> dict[str, str]:
    return {f.code: f.message for f in report.graph_findings if f.code.startswith("advice/")}


def test_decomposed_layernorms_are_advised_with_their_count() -> None:
    report = check(EXAMPLE, target="trt-10", backend="static")
    advice = _advice(report)
    assert list(advice) == ["advice/fuse-layernorm"]
    assert advice["advice/fuse-layernorm"].startswith("2 decomposed LayerNorm subgraphs")
    finding = next(f for f in report.graph_findings if f.code == "advice/fuse-layernorm")
    assert not finding.is_error and [x.name for x in finding.fixes] == ["fuse-layernorm"]
    jsonschema.validate(report.to_json(), check_schema())


def test_advice_can_be_turned_off_and_never_changes_the_verdict() -> None:
    with_advice = check(EXAMPLE, target="trt-10", backend="static")
    without = check(EXAMPLE, target="trt-10", backend="static", advice=False)
    assert not _advice(without)
    assert with_advice.supported == without.supported
    assert with_advice.summary == without.summary


def test_auto_rewrite_realises_the_advice(tmp_path) -> None:
    out = tmp_path / "block.trt.onnx"
    proc = run_cli(
        "trtforge.analyzer.cli.rewrite",
        str(EXAMPLE),
        "-o",
        str(out),
        "--auto",
        "--target",
        "trt-10",
    )
    assert proc.returncode == 0, proc.stderr
    after = check(out, target="trt-10", backend="static")
    assert after.supported and not _advice(after)
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("LayerNormalization") == 2 and "FastGelu" not in ops
    proc = run_cli(
        "trtforge.analyzer.cli.check",
        str(EXAMPLE),
        "--backend",
        "static",
        "--target",
        "trt-10",
        "--no-advice",
        "--format",
        "json",
    )
    assert not any(
        r["code"].startswith("advice/") for r in json.loads(proc.stdout)["graph"]["reasons"]
    )


def test_json_on_stdout_stays_json_for_bfloat16_models(tmp_path) -> None:
    """The advice runs the rewrite passes through onnx-graphsurgeon, which prints warnings with
    print() (e.g. "Could not convert: BFLOAT16 ...") — never onto trt-check's stdout."""
    from onnx import TensorProto, helper

    scale = helper.make_tensor("g", TensorProto.BFLOAT16, [8], [1.0] * 8)
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Mul", ["d", "g"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "bf16",
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [4, 8])],
        [scale],
    )
    path = tmp_path / "bf16.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    done = run_cli(
        "trtforge.analyzer.cli.check", str(path), "--backend", "static", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["supported"] is True
    assert "[W]" not in done.stdout + done.stderr


def _if_around(count: int) -> onnx.ModelProto:
    """An If whose branches each hold a chain of `count` Relus (a scripted model's `if`
    around the whole network): one top-level node."""
    from onnx import TensorProto, helper

    def branch(name: str) -> onnx.GraphProto:
        nodes = [
            helper.make_node("Relu", [f"{name}{i - 1}" if i else "x"], [f"{name}{i}"])
            for i in range(count)
        ]
        out = helper.make_tensor_value_info(f"{name}{count - 1}", TensorProto.FLOAT, None)
        return helper.make_graph(nodes, name, [], [out])

    node = helper.make_node("If", ["cond"], ["y"], then_branch=branch("t"), else_branch=branch("e"))
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_advice_counts_the_nodes_of_bodies_too(monkeypatch) -> None:
    """A graph past MAX_NODES is not imported into graphsurgeon to be matched, whether its
    nodes are top-level or inside one If's branches (100,000 of them: ~5 s)."""
    from trtforge.analyzer import advice
    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.session import ModelSession
    from trtforge.analyzer.targets import parse_target

    imported = []
    real = ModelSession.graph
    monkeypatch.setattr(ModelSession, "graph", lambda self: imported.append(1) or real(self))
    loaded, target = load_model(_if_around(30)), parse_target("trt-10")
    monkeypatch.setattr(advice, "MAX_NODES", 100)
    assert advice.fusion_advice(loaded, target) == [] and imported  # 61 nodes: matched
    imported.clear()
    monkeypatch.setattr(advice, "MAX_NODES", 50)
    assert advice.fusion_advice(load_model(_if_around(30)), target) == [] and not imported


def _ifs_side_by_side(count: int) -> onnx.ModelProto:
    """`count` Ifs of one-node branches, each reading the graph's input and writing an
    output of its own (a scripted model's many small `if`s)."""
    from onnx import TensorProto, helper

    def branch(name: str, op: str) -> onnx.GraphProto:
        out = helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
        return helper.make_graph([helper.make_node(op, ["x"], [name])], name, [], [out])

    nodes = [
        helper.make_node(
            "If",
            ["cond"],
            [f"y{i}"],
            then_branch=branch(f"t{i}", "Relu"),
            else_branch=branch(f"e{i}", "Sigmoid"),
        )
        for i in range(count)
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(count)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_advice_is_skipped_where_graphsurgeon_would_copy_many_scopes(monkeypatch) -> None:
    """graphsurgeon's import copies the enclosing graphs' names into every body: a graph of
    many Ifs is not imported to be matched past MAX_SCOPE_COPIES (3,000 Ifs of one-node
    branches: ~6 s), however few nodes it has; under it, it is."""
    from trtforge.analyzer import advice
    from trtforge.analyzer.loading import load_model
    from trtforge.analyzer.session import ModelSession
    from trtforge.analyzer.targets import parse_target

    imported = []
    real = ModelSession.graph
    monkeypatch.setattr(ModelSession, "graph", lambda self: imported.append(1) or real(self))
    model, target = _ifs_side_by_side(20), parse_target("trt-10")
    # each of the 40 branches gets the graph's 2 inputs and 20 outputs: 880 names
    assert advice.scope_copies(model.graph) == 40 * 22
    monkeypatch.setattr(advice, "MAX_SCOPE_COPIES", 880)
    assert advice.fusion_advice(load_model(model), target) == [] and imported
    imported.clear()
    monkeypatch.setattr(advice, "MAX_SCOPE_COPIES", 879)
    assert advice.fusion_advice(load_model(model), target) == [] and not imported
    # bodies inside bodies get the names of every graph around them
    nested = _if_around(3)
    inner = nested.graph.node[0].attribute[0].g
    inner.node.append(_ifs_side_by_side(1).graph.node[0])
    # each branch gets x, cond and y (3); the inner If's two branches get those, the
    # branch's three Relu outputs and the inner If's output (7)
    assert advice.scope_copies(nested.graph) == 3 + 3 + 2 * 7
    # counted without recursion, and only until past a bound
    deep = _if_around(1)
    body = deep.graph.node[0].attribute[0].g
    for _ in range(3000):
        body.node.append(_if_around(1).graph.node[0])
        body = body.node[-1].attribute[0].g  # (the copy appended)
    assert advice.scope_copies(deep.graph) > 3000
    assert advice.scope_copies(deep.graph, 100) < advice.scope_copies(deep.graph)
