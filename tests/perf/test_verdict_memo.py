"""The static backend's verdict memo (`backends.static.VerdictMemo`) never changes a report.

Every model here is checked twice, with the memo and without it (each node judged on its
own), and the JSON reports must be equal; plus models built so that a wrongly shared verdict
would show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tools.model_copies import renamed_nodes
from trtforge.analyzer import graph as graph_module
from trtforge.analyzer.backends import static
from trtforge.analyzer.graph import GraphView, NodeFields
from trtforge.analyzer.kb.rule import OpRule
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.reports import render
from trtforge.analyzer.targets import parse_target

REPO = Path(__file__).resolve().parents[2]
REAL_MODELS = sorted((REPO / "tests" / "fixtures" / "hf").glob("*.onnx")) + [
    REPO / "examples" / "transformer_block.onnx"
]
TARGETS = ("rtx-1", "trt-10", "trt-11", "trt-10.0")


def _reports(model, target: str) -> tuple[str, str]:
    """JSON reports with and without the memo."""
    loaded = load_model(model)
    wanted = parse_target(target)
    shared = render(static.check_static(loaded, wanted), "json")
    alone = render(static.check_static(loaded, wanted, memo=False), "json")
    return shared, alone


def repeat_blocks(model: onnx.ModelProto, copies: int) -> onnx.ModelProto:
    """`copies` copies of a one-input, one-output model chained output to input.

    Initializers are shared; every other tensor and node name gets a per-copy prefix.
    """
    graph = model.graph
    (source,), (sink,) = [i.name for i in graph.input], [o.name for o in graph.output]
    weights = {t.name for t in graph.initializer}
    nodes, current = [], source
    for copy in range(copies):

        def rename(name: str, copy=copy, current=current) -> str:
            if not name or name in weights:
                return name
            return current if name == source else f"b{copy}/{name}"

        nodes += renamed_nodes(graph.node, f"b{copy}/", rename)
        current = rename(sink)
    out = helper.make_graph(
        nodes,
        graph.name,
        list(graph.input),
        [helper.make_value_info(current, graph.output[0].type)],
        list(graph.initializer),
    )
    chained = helper.make_model(out, opset_imports=list(model.opset_import))
    chained.ir_version = model.ir_version
    return chained


@pytest.mark.parametrize("path", REAL_MODELS, ids=lambda p: p.name)
@pytest.mark.parametrize("target", TARGETS)
def test_real_models_same_report_with_and_without_memo(path, target):
    shared, alone = _reports(path, target)
    assert shared == alone


@pytest.mark.parametrize("target", TARGETS)
def test_repeated_transformer_blocks_same_report(target):
    block = onnx.load(REPO / "examples" / "transformer_block.onnx")
    model = repeat_blocks(block, 12)
    assert len(model.graph.node) == 12 * len(block.graph.node)
    shared, alone = _reports(model, target)
    assert shared == alone
    assert '"status": "unsupported"' in shared  # the contrib op in every block stays reported


def test_oracle_cases_same_report():
    """Every rule fixture of the agreement oracle (one or a few nodes each)."""
    from tools.oracle.corpus import fixture_models

    cases = [model for name, model in fixture_models([REPO / "tests"]) if "oracle_cases" in name]
    assert len(cases) > 1000
    for model in cases:
        shared, alone = _reports(model, "rtx-1")
        assert shared == alone, model.graph.node[0].op_type


def _model(nodes, inputs, outputs, inits=(), opset=21):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


def _judged(monkeypatch, label=lambda node: node.name) -> list:
    """`label(node)` of every node the static backend judges from now on, in order."""
    judged = []
    real = static.StaticChecker._judge

    def spy(self, node, graph, *args):
        judged.append(label(node))
        return real(self, node, graph, *args)

    monkeypatch.setattr(static.StaticChecker, "_judge", spy)
    return judged


def test_constant_values_are_not_shared():
    """Two QuantizeLinear nodes alike in every tensor fact, scales 0.5 and -0.5: the rule reads
    the value, so the second is judged on its own."""
    scale = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)  # noqa: E731
    model = _model(
        [
            helper.make_node("QuantizeLinear", ["x", "s_good"], ["q0"], name="q_good"),
            helper.make_node("QuantizeLinear", ["x", "s_bad"], ["q1"], name="q_bad"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [
            helper.make_tensor_value_info("q0", TensorProto.UINT8, [4]),
            helper.make_tensor_value_info("q1", TensorProto.UINT8, [4]),
        ],
        [scale("s_good", 0.5), scale("s_bad", -0.5)],
    )
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    good, bad = report.nodes
    assert good.status == "supported" and not good.reasons
    assert bad.status == "unsupported"
    assert [r.code for r in bad.reasons] == ["quantizelinear/scale-not-positive"]


def _fake_rule(check) -> OpRule:
    return OpRule(op="Relu", source="test", check=check)


@pytest.mark.parametrize(
    ("reads", "flag"),
    [
        pytest.param(lambda ctx: ctx.input(0).name, "y1", id="tensor-name"),
        pytest.param(lambda ctx: ctx.node.name, "r2", id="node-proto"),
        pytest.param(lambda ctx: ctx.name, "r2", id="node-name"),
        pytest.param(
            lambda ctx: getattr(ctx.graph.producer(ctx.node.input[0]), "name", None),
            "r1",
            id="graph",
        ),
        pytest.param(lambda ctx: ctx.output_used(0), False, id="output-used"),
    ],
)
def test_checks_reading_outside_the_facts_are_not_shared(monkeypatch, reads, flag):
    """A check that branches on what the key leaves out (a name, the graph, whether an output
    is used) tells apart nodes that look alike (r1, r2 and r4 here); the memo must notice."""

    def check(ctx):
        if reads(ctx) == flag:
            yield ctx.finding("flagged", "flagged by the test rule")

    rule = OpRule(op="Relu", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "Relu" else real(domain, op)
    )
    model = _model(
        [
            helper.make_node("Relu", ["x"], ["y0"], name="r0"),
            helper.make_node("Relu", ["y0"], ["y1"], name="r1"),
            helper.make_node("Relu", ["y1"], ["y2"], name="r2"),
            helper.make_node("Relu", ["y2"], ["y3"], name="r3"),
            helper.make_node("Relu", ["y0"], ["y4"], name="r4"),  # y4: not used
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y3", TensorProto.FLOAT, [4])],
    )
    loaded, target = load_model(model), parse_target("rtx-1")
    alone = static.check_static(loaded, target, memo=False)
    flagged = [n.name for n in alone.nodes if n.status == "unsupported"]
    assert flagged in (["r2"], ["r4"])  # the rule does tell alike nodes apart
    shared = static.check_static(loaded, target)
    assert [n.to_json() for n in shared.nodes] == [n.to_json() for n in alone.nodes]


def test_alike_nodes_share_and_findings_stay_per_node():
    """Nodes alike in every fact share 'supported'; a node whose verdict has a finding is judged
    alone, so each finding names its own node."""
    judged = []
    real = static.StaticChecker._judge

    def spy(self, node, graph, *args):
        judged.append(node.name)
        return real(self, node, graph, *args)

    nodes = [helper.make_node("Relu", [f"x{i}"], [f"y{i}"], name=f"relu{i}") for i in range(4)]
    nodes += [helper.make_node("Relu", [f"s{i}"], [f"t{i}"], name=f"bad{i}") for i in range(2)]
    model = _model(
        nodes,
        [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [4]) for i in range(4)]
        + [helper.make_tensor_value_info(f"s{i}", TensorProto.UINT16, [4]) for i in range(2)],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [4]) for i in range(4)]
        + [helper.make_tensor_value_info(f"t{i}", TensorProto.UINT16, [4]) for i in range(2)],
    )
    checker = static.StaticChecker(load_model(model), parse_target("rtx-1"))
    checker._judge = spy.__get__(checker)
    report = checker.run()
    assert judged == ["relu0", "bad0", "bad1"]
    assert [n.status for n in report.nodes] == ["supported"] * 4 + ["unsupported"] * 2
    assert "'bad0'" in report.nodes[4].reasons[0].message
    assert "'bad1'" in report.nodes[5].reasons[0].message


def test_made_up_dims_share_by_pattern_not_spelling(monkeypatch):
    """Dims shape inference made up (`unk__<n>`) differ in every block; nodes share a verdict
    when their dims are equal in the same places, and not when the pattern differs."""

    def check(ctx):
        if ctx.input(0).shape != ctx.input(1).shape:
            yield ctx.finding("dims-differ", "inputs have different dims")

    rule = OpRule(op="Concat", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "Concat" else real(domain, op)
    )
    dims = {
        "a": "unk__1",
        "b": "unk__1",
        "c": "unk__2",
        "d": "unk__2",
        "e": "unk__3",
        "f": "unk__4",
    }
    model = _model(
        [
            helper.make_node("Concat", ["a", "b"], ["ab"], name="same_1", axis=0),
            helper.make_node("Concat", ["c", "d"], ["cd"], name="same_2", axis=0),
            helper.make_node("Concat", ["e", "f"], ["ef"], name="differ", axis=0),
        ],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [d]) for n, d in dims.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("ab", "cd", "ef")],
    )
    judged = _judged(monkeypatch)
    loaded, target = load_model(model), parse_target("rtx-1")
    report = static.check_static(loaded, target)
    assert judged == ["same_1", "differ"]  # same_2 shared same_1's verdict
    assert [n.status for n in report.nodes] == ["supported", "supported", "unsupported"]
    alone = static.check_static(loaded, target, memo=False)
    assert [n.to_json() for n in report.nodes] == [n.to_json() for n in alone.nodes]


def test_repeated_blocks_are_judged_once_per_kind(monkeypatch):
    """Work, not time: in 12 chained transformer blocks only the first block, the Reshapes
    (their check walks the graph) and the nodes with findings (the contrib FastGelu) are judged
    one by one; every other node shares a verdict."""
    block = onnx.load(REPO / "examples" / "transformer_block.onnx")
    model = repeat_blocks(block, 12)
    judged = _judged(monkeypatch, lambda node: node.op_type)
    static.check_static(load_model(model), parse_target("rtx-1"))
    per_block = len(block.graph.node)
    alone = sum(1 for n in block.graph.node if n.op_type in ("Reshape", "FastGelu"))
    assert len(judged) <= per_block + 11 * alone + 11  # +11: slack for one more kind
    assert len(judged) < len(model.graph.node) / 3


def test_types_differing_in_made_up_names_are_decoded_once_per_pattern(monkeypatch):
    """Work, not time: every block of a chained transformer gets new `unk__<n>` dim names,
    hence new types; they are keyed once per pattern of bytes (`_key_generated_alike`: a
    pattern per name length, so a few more as the numbers grow a digit), not one by one, and
    the report stays the one without the memo."""
    block = onnx.load(REPO / "examples" / "transformer_block.onnx")
    decoded = []
    real = static.VerdictMemo._new_tensor_key

    def spy(self, name):
        decoded.append(name)
        return real(self, name)

    def work(copies: int) -> tuple[int, int]:
        loaded, target = load_model(repeat_blocks(block, copies)), parse_target("rtx-1")
        checker = static.StaticChecker(loaded, target, True)
        decoded.clear()
        with monkeypatch.context() as patch:
            patch.setattr(static.VerdictMemo, "_new_tensor_key", spy)
            shared = render(checker.run(), "json")
        assert shared == render(static.check_static(loaded, target, memo=False), "json")
        made_up = {t for t in checker.types.serialized_table().values() if b"unk__" in t}
        return len(decoded), len(made_up)

    decoded_12, made_up_12 = work(12)
    decoded_24, made_up_24 = work(24)
    assert made_up_24 > 1.8 * made_up_12 > 100
    assert decoded_24 - decoded_12 < (made_up_24 - made_up_12) / 5


def test_made_up_names_in_other_fields_do_not_fool_the_pattern_key():
    """A type whose denotation holds bytes that look like a made-up dim name: its pattern's
    first type does not name the dims its bytes seem to, so those types are keyed one by
    one, and nodes whose dims differ are still judged apart."""
    values = []
    for i, (a, b) in enumerate((("unk__11", "unk__11"), ("unk__12", "unk__13"))):
        for name, dim in ((f"a{i}", a), (f"b{i}", b)):
            value = helper.make_tensor_value_info(name, TensorProto.FLOAT, [dim, 4])
            value.type.denotation = "\x12\x07unk__99"
            values.append(value)
    model = _model(
        [
            helper.make_node("Concat", ["a0", "b0"], ["c0"], name="c0", axis=0),
            helper.make_node("Concat", ["a1", "b1"], ["c1"], name="c1", axis=0),
        ],
        values,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("c0", "c1")],
    )
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone


def _common_ops_chain(blocks: int) -> onnx.ModelProto:
    """MatMul, Add, Reshape (initializer shape), ReduceMean, Sub, Pow, Erf, Relu, repeated;
    plus one Reshape whose shape is computed from a FLOAT network input (a finding)."""
    inits = [
        numpy_helper.from_array(np.ones((8, 8), np.float32), "W"),
        numpy_helper.from_array(np.ones(8, np.float32), "b"),
        numpy_helper.from_array(np.array([2, 8], np.int64), "shape"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    nodes, cur = [], "x"
    for i in range(blocks):
        for op, ins, attrs in (
            ("MatMul", [cur, "W"], {}),
            ("Add", [None, "b"], {}),
            ("Reshape", [None, "shape"], {}),
            ("ReduceMean", [None], {"axes": [-1], "keepdims": 1}),
            ("Sub", [None, "MEAN_IN"], {}),
            ("Pow", [None, "two"], {}),
            ("Erf", [None], {}),
            ("Relu", [None], {}),
        ):
            out = f"c{i}/{op}"
            ins = [cur if n is None else n for n in ins]
            if op == "Sub":
                ins = [f"c{i}/Reshape", cur]
            nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
            cur = out
    nodes.append(helper.make_node("Cast", ["s"], ["s64"], name="cast", to=TensorProto.INT64))
    nodes.append(helper.make_node("Reshape", [cur, "s64"], ["y"], name="float_shape"))
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_reshapes_with_a_constant_shape_share_their_verdict(monkeypatch):
    """A check that decides from the input's facts (the shape is an initializer) reads
    nothing else, so such Reshapes share one verdict; the one whose shape is computed from a
    float network input is still judged on its own and keeps its finding."""
    model = _common_ops_chain(40)
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    assert "float-shape-input" in shared
    judged = _judged(monkeypatch, lambda node: node.op_type)
    static.check_static(load_model(model), parse_target("rtx-1"))
    assert judged.count("Reshape") <= 3, judged
    assert len(judged) < 20


def test_layernorms_share_unless_an_extra_output_is_named(monkeypatch):
    """Whether LayerNormalization declares its Mean/InvStdDev outputs is a fact of the key
    (an empty output name or a tensor): nodes that declare none share one verdict, and each
    node that declares one is judged on its own and named in its finding."""
    scale = numpy_helper.from_array(np.ones(8, np.float32), "scale")
    nodes, current = [], "x"
    for i in range(12):
        outputs = [f"y{i}", "", f"inv{i}"] if i in (4, 9) else [f"y{i}"]
        nodes.append(
            helper.make_node("LayerNormalization", [current, "scale"], outputs, name=f"ln{i}")
        )
        current = f"y{i}"
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "norms",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
            [helper.make_tensor_value_info(current, TensorProto.FLOAT, [2, 8])],
            [scale],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    judged = _judged(monkeypatch)
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    # ln0 reads the graph input, ln11 writes the graph output: keys of their own
    assert sorted(judged) == sorted(["ln0", "ln1", "ln4", "ln9", "ln11"])  # each once
    flagged = [n.name for n in report.nodes if n.status != "supported"]
    assert flagged == ["ln4", "ln9"]
    assert "'inv4'" in report.nodes[4].reasons[0].message


def _keys(model: onnx.ModelProto, build) -> list:
    """The node keys of `model`'s top-level graph, built by `build(memo, kinds, fields)` on a
    fresh memo (keys number tensors in the order they are first read)."""
    from trtforge.analyzer.graph import GraphView
    from trtforge.analyzer.inference import infer_types

    view = GraphView(model.graph, infer_types(model))
    view.read_structure()
    memo = static.VerdictMemo(view)
    fields = view.fields
    kinds = memo.kinds(fields)
    memo._key_all()
    return build(memo, kinds, fields)


@pytest.mark.parametrize(
    "name", ["block x3 (made-up dims)", "hf fixtures", "a node with a body", "no inputs"]
)
def test_node_key_numbers_in_c_number_pythons_keys(name):
    """`_memo_keys.node_key_numbers` numbers the nodes as the Python keys (`_node_keys`)
    number them: equal keys, equal numbers, in order of first appearance, -1 where a
    verdict is never shared (a node with a body); keys renumbering made-up dims included."""
    native = pytest.importorskip("trtforge.analyzer._memo_keys", reason="not built")
    block = onnx.load(REPO / "examples" / "transformer_block.onnx")
    models = {
        "block x3 (made-up dims)": [repeat_blocks(block, 3)],
        "hf fixtures": [onnx.load(p) for p in REAL_MODELS],
        "a node with a body": [
            onnx.parser.parse_model(
                """<ir_version: 8, opset_import: ["" : 17]>
                g (float[N] x, bool c) => (float[N] y, float[M] z) {
                    a = Relu(x)
                    y = If(c) <then_branch = t () => (float[N] p) { p = Neg(a) },
                               else_branch = e () => (float[N] q) { q = Abs(a) }>
                    u = Unsqueeze(a, c)
                    z = Identity(u)
                }"""
            )
        ],
        "no inputs": [
            onnx.parser.parse_model(
                """<ir_version: 8, opset_import: ["" : 17]>
                g () => (float[2] y) { y = Constant<value = float[2] {1, 2}>() }"""
            )
        ],
    }[name]
    for model in models:
        in_c = _keys(
            model,
            lambda memo, kinds, f: native.node_key_numbers(
                kinds, f.inputs, f.outputs, memo._tensor_keys, memo._generated
            ),
        )
        keys = _keys(model, lambda memo, kinds, f: memo._node_keys(kinds, f.inputs, f.outputs))
        table: dict = {}
        assert in_c == [-1 if k is None else table.setdefault(k, len(table)) for k in keys]
    if name.startswith("block"):
        assert any(key is not None and len(key) == 2 for key in keys)  # renumbered keys
    if name == "a node with a body":
        assert -1 in in_c


def test_signatures_in_c_number_nodes_as_python_does():
    """`_memo_keys.signatures` numbers the nodes as `NodeFields._signatures_python`: random
    columns of ops, domains and attribute keys (bytes, tuples: a tensor keyed without its
    values, names not UTF-8 as bytes), input and output counts and empty input names (an
    empty bytes name is not empty), and the fields of real models."""
    native = pytest.importorskip("trtforge.analyzer._memo_keys", reason="not built")
    rng = np.random.default_rng(5)

    def pick(choices):
        return choices[int(rng.integers(len(choices)))]

    for _ in range(200):
        count = int(rng.integers(0, 60))
        ops = [pick(["Add", "Relu", b"R\xffelu", "Add"]) for _ in range(count)]
        domains = [pick(["", "", "com.microsoft", b""]) for _ in range(count)]
        inputs = [
            [pick(["a", "", "b", b"", "c"]) for _ in range(int(rng.integers(0, 4)))]
            for _ in range(count)
        ]
        outputs = [["o"] * int(rng.integers(0, 3)) for _ in range(count)]
        attributes = [
            pick([[], [b"\x01"], [b"\x01", b"\x02"], (b"\x01", (1, (2, 3), b"x")), (b"\x02",)])
            for _ in range(count)
        ]
        fields = NodeFields([], [""] * count, ops, domains, inputs, outputs, attributes)
        fields._attribute_keys = attributes  # (keys as they are: not serialized attributes)
        assert (
            native.signatures(fields.ops, fields.domains, attributes, fields.inputs, fields.outputs)
            == fields._signatures_python()
        )
    for path in [*REAL_MODELS, REPO / "examples" / "transformer_block.onnx"]:
        fields = NodeFields.read(onnx.load(path).graph)
        numbers, first = fields.signatures()
        assert (numbers, first) == fields._signatures_python()
        assert len(first) < len(numbers)


def test_generated_dims_in_c_equal_pythons():
    """`_memo_keys.generated_dims` is `_generated_dims_python` on real types and on damaged
    ones: names of every length, overlapping fields, text that is not UTF-8, truncation."""
    import random

    native = pytest.importorskip("trtforge.analyzer._memo_keys", reason="not built")
    from trtforge.analyzer.inference import infer_types

    chained = repeat_blocks(onnx.load(REPO / "examples" / "transformer_block.onnx"), 3)
    real = sorted(set(infer_types(chained)._raw.values()))
    pieces = [
        b"\x12\x07unk__12",
        b"\x12\x05unk__",
        b"\x12\x08unk__1\xff3",
        b"\x12\x7funk__x",
        b"\x12\x09unk__\x12\x07unk__1",
        b"a\x12\x06unk__1\x12\x06unk__2b",
        b"\x12\x04unk__",
        b"\x12\x80unk__1",
        b"\x12\x08unk__\xed\xa0\x80",
        b"",
    ]
    assert any(b"unk__" in t for t in real)
    rng = random.Random(0)
    for _ in range(5000):
        damaged = bytearray(rng.choice(real + pieces))
        for _ in range(rng.randint(0, 3)):
            roll = rng.random()
            if roll < 0.3 and damaged:
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            elif roll < 0.7:
                at = rng.randrange(len(damaged) + 1)
                damaged[at:at] = rng.choice(pieces)
            elif damaged:
                del damaged[rng.randrange(len(damaged)) :]
        serialized = bytes(damaged)
        assert native.generated_dims(serialized) == static._generated_dims_python(serialized)


def test_generated_patterns_in_c_group_as_python_does():
    """`_memo_keys.generated_patterns` groups types by blanked pattern as the Python loop of
    `_key_generated_alike` does: types without a made-up dim, types already keyed and types
    whose names cannot be told apart are left out; members keep their order."""
    native = pytest.importorskip("trtforge.analyzer._memo_keys", reason="not built")
    from trtforge.analyzer.inference import infer_types

    chained = repeat_blocks(onnx.load(REPO / "examples" / "transformer_block.onnx"), 4)
    types = list(dict.fromkeys(infer_types(chained)._raw.values()))
    types += [b"\x12\x09unk__\x12\x07unk__1", b"\x12\x06unk__\xff", b"plain"]
    known = {types[0]: 1, types[-4]: 2}
    expected: dict = {}
    for serialized in types:
        if b"unk__" in serialized and serialized not in known:
            split = static._generated_dims_python(serialized)
            if split is not None:
                expected.setdefault(split[0], []).append((serialized, split[1]))
    got = native.generated_patterns(types, known)
    assert got == expected and list(got) == list(expected)
    assert any(len(members) > 1 for members in got.values())


def test_type_table_passes_in_c_equal_pythons():
    """`_memo_keys.first_names` and `keyed_by_type` select, order and key the entries of a
    type table as their Python references do (inside and outside the name set)."""
    native = pytest.importorskip("trtforge.analyzer._memo_keys", reason="not built")
    from trtforge.analyzer.inference import infer_types

    chained = repeat_blocks(onnx.load(REPO / "examples" / "transformer_block.onnx"), 3)
    table = dict(infer_types(chained)._raw)
    names = set(list(table)[::3]) | {"not in the table"}
    types = list(dict.fromkeys(table.values()))
    by_type = {t: i for i, t in enumerate(types) if i % 2}
    for inside in (True, False):
        got = native.first_names(table, names, inside)
        expected = static._first_names_python(table, names, inside)
        assert got == expected and list(got) == list(expected)
        known_c, known_py = {"x": 0}, {"x": 0}
        left = native.keyed_by_type(table, by_type, names, inside, known_c)
        assert left == static._keyed_by_type_python(table, by_type, names, inside, known_py)
        assert known_c == known_py and left and len(known_c) > 1
    with pytest.raises(TypeError):
        native.first_names(table, list(names), True)


def test_verdicts_that_read_constants_are_shared_only_with_the_same_constants(monkeypatch):
    """A check that reads an input's constant value (QuantizeLinear's scale and zero point)
    shares its verdict with the nodes of its key whose inputs hold the same constants — each
    from a Constant node of its own, or the same initializer — and never with one holding
    another value: the nodes with a negative scale or a nonzero zero point keep their
    findings, and the report is the one without the memo."""
    nodes, inits, current = [], [], "x"
    special = {7: ("scale", -0.1), 13: ("zero point", 3), 21: ("scale", -0.1)}
    for i in range(30):
        kind, value = special.get(i, ("", None))
        scale = -0.1 if kind == "scale" else 0.1
        zero = value if kind == "zero point" else 0
        if i % 3 == 0:  # a shared initializer pair for every third node
            s_name, z_name = ("s_neg", "z_neg") if kind else ("s_ok", "z_ok")
        else:
            s_name, z_name = f"s{i}", f"z{i}"
            nodes.append(
                helper.make_node(
                    "Constant",
                    [],
                    [s_name],
                    value=numpy_helper.from_array(np.array(scale, np.float32)),
                )
            )
            nodes.append(
                helper.make_node(
                    "Constant", [], [z_name], value=numpy_helper.from_array(np.array(zero, np.int8))
                )
            )
        nodes.append(
            helper.make_node("QuantizeLinear", [current, s_name, z_name], [f"q{i}"], name=f"q{i}")
        )
        nodes.append(
            helper.make_node("DequantizeLinear", [f"q{i}", "s_ok", "z_ok"], [f"d{i}"], name=f"d{i}")
        )
        current = f"d{i}"
    inits = [
        numpy_helper.from_array(np.array(0.1, np.float32), "s_ok"),
        numpy_helper.from_array(np.array(0, np.int8), "z_ok"),
        numpy_helper.from_array(np.array(-0.1, np.float32), "s_neg"),
        numpy_helper.from_array(np.array(0, np.int8), "z_neg"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "qdq",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
            [helper.make_tensor_value_info(current, TensorProto.FLOAT, [2, 8])],
            inits,
        ),
        opset_imports=[helper.make_opsetid("", 19)],
    )
    shared, alone = _reports(model, "trt-10")
    assert shared == alone
    report = static.check_static(load_model(model), parse_target("trt-10"))
    flagged = {n.name for n in report.nodes if n.reasons}
    assert {"q7", "q13", "q21"} <= flagged and not {"q1", "q2", "q3", "q8"} & flagged
    judged = _judged(monkeypatch)
    static.check_static(load_model(model), parse_target("trt-10"))
    quantize = [name for name in judged if name.startswith("q")]
    # one per distinct constant pair: 0.1/0 as a Constant, as an initializer, -0.1 and a
    # nonzero zero point as Constants, -0.1 as an initializer; the ones with findings alone
    assert len(quantize) < 12, quantize


def test_reshapes_whose_shape_is_computed_share_by_what_the_walk_finds(monkeypatch):
    """Reshapes whose shape is computed (Shape → Gather → Concat in every block) read a walk
    up the producers (`NodeContext.input_derived`): they share one verdict while the walk
    answers alike, and the Reshape whose shape comes from a FLOAT network input keeps its
    finding; the report is the one without the memo."""
    text = ['<ir_version: 8, opset_import: ["" : 17]>']
    text.append("g (float[N, 6] x, float[2] f) => (float[N, 6] y, float[N, 2, 3] z) {")
    current = "x"
    for i in range(30):
        text += [
            f"s{i} = Shape({current})",
            f"zero{i} = Constant<value = int64[1] {{0}}>()",
            f"n{i} = Gather<axis = 0>(s{i}, zero{i})",
            f"tail{i} = Constant<value = int64[1] {{6}}>()",
            f"shape{i} = Concat<axis = 0>(n{i}, tail{i})",
            f"r{i} = Reshape({current}, shape{i})",
            f"a{i} = Relu(r{i})",
        ]
        current = f"a{i}"
    text += [
        "fi = Cast<to = 7>(f)",
        "n = Constant<value = int64[1] {-1}>()",
        "bad_shape = Concat<axis = 0>(n, fi)",
        "z = Reshape(x, bad_shape)",
        f"y = Identity({current})",
        "}",
    ]
    model = onnx.parser.parse_model("\n".join(text))
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    assert "float-shape-input" in shared
    judged = _judged(monkeypatch, lambda node: node.op_type)
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    assert judged.count("Reshape") <= 4, judged  # not 31
    assert [n.name or n.op_type for n in report.nodes if n.reasons] == ["Reshape"]


def test_findings_that_only_name_their_node_are_shared_renamed(monkeypatch):
    """Nodes alike whose verdict has findings that name only the node (a custom op with no
    importer) share them, each message starting with its own node's name (`<op #i>` for an
    unnamed one); a node whose finding quotes one of its tensors' names (a wrong input type)
    is judged on its own. The report is the one without the memo."""
    nodes, current = [], "x"
    for i in range(12):
        name = "" if i % 3 == 0 else f"gelu{i}"
        nodes.append(
            helper.make_node("FastGelu", [current], [f"g{i}"], name=name, domain="com.microsoft")
        )
        nodes.append(helper.make_node("Relu", [f"g{i}"], [f"r{i}"], name=f"relu{i}"))
        current = f"r{i}"
    nodes += [helper.make_node("Relu", [f"s{i}"], [f"t{i}"], name=f"bad{i}") for i in range(3)]
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])]
        + [helper.make_tensor_value_info(f"s{i}", TensorProto.UINT16, [4]) for i in range(3)],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [4])]
        + [helper.make_tensor_value_info(f"t{i}", TensorProto.UINT16, [4]) for i in range(3)],
    )
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    judged = _judged(monkeypatch, lambda node: node.name or node.op_type)
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    assert judged.count("FastGelu") + sum(j.startswith("gelu") for j in judged) <= 2
    assert sorted(j for j in judged if j.startswith("bad")) == ["bad0", "bad1", "bad2"]
    gelus = [n for n in report.nodes if n.op_type == "FastGelu"]
    for node in gelus:
        display = node.name or f"<FastGelu #{node.index}>"
        assert node.reasons and node.reasons[0].message.startswith(f"FastGelu node '{display}': ")
    assert "'s2'" in report.nodes[-1].reasons[0].message


def test_findings_holding_a_short_tensor_name_inside_a_word_are_shared(monkeypatch):
    """Tensors named as generated graphs name them (`s`, `t1`) appear inside the words of
    any finding ("is supported"): that is no mention of the tensor, and the verdict is
    shared; a finding that quotes the tensor (`'s'`) still keeps its node judged alone."""
    shift = helper.make_tensor("s", TensorProto.UINT32, [1], [1])
    nodes = [
        helper.make_node(
            "BitShift", [f"t{i}" if i else "x", "s"], [f"t{i + 1}"], name=f"n{i}", direction="LEFT"
        )
        for i in range(40)
    ]
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.UINT32, [4])],
        [helper.make_tensor_value_info("t40", TensorProto.UINT32, [4])],
    )
    model.graph.initializer.append(shift)
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    judged = _judged(monkeypatch, lambda node: node.name)
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    assert len(judged) <= 3
    assert all(n.reasons[0].message.startswith(f"BitShift node '{n.name}': ") for n in report.nodes)
    message = report.nodes[0].reasons[0].message
    assert "supported" in message and "'s'" not in message  # (inside words only)
    assert static._mentions("input 's' is FLOAT", "s")
    assert not static._mentions("is supported", "s") and not static._mentions("t12", "t1")


@pytest.mark.parametrize("name", ["bert_opset17.onnx", "llama_opset17.onnx"])
def test_holding_seen_finds_the_nodes_values_key_finds(name):
    """`VerdictMemo.holding_seen` (in bulk) names exactly the nodes whose `values_key` is
    among those seen, for keys reading constant inputs (Constant outputs, initializers and
    tensors with no constant value alike)."""
    from trtforge.analyzer.graph import GraphView
    from trtforge.analyzer.inference import infer_table

    model = onnx.load(REPO / "tests" / "fixtures" / "hf" / name)
    view = GraphView(model.graph, infer_table(model))
    view.read_structure()
    memo = static.VerdictMemo(view)
    f = view.fields
    numbers = memo.numbers(memo.kinds(f), f.inputs, f.outputs)
    firsts = memo.firsts(numbers)
    by_values: dict[int, dict[tuple, None]] = {}
    for number, first in enumerate(firsts):
        count = len(f.inputs[first])
        if count == 0:
            continue
        reads = (count - 1,) if count == 1 else (0, count - 1)
        by_values[number] = {memo.values_key(first, reads): None}
    everyone = [i for i in range(len(numbers)) if numbers[i] in by_values]
    expected = {
        i for i in everyone if any(memo.values_key(i, key[0]) in by_values[numbers[i]]
                                   for key in by_values[numbers[i]])
    }  # fmt: skip
    found = memo.holding_seen(everyone, numbers, by_values)
    assert found == expected
    assert len(found) > len(by_values)  # more than the firsts themselves
    held = {value for key in (k for seen in by_values.values() for k in seen) for value in key[1]}
    assert any(v is not None and v[0] == "Constant" for v in held)
    assert any(type(v) is str for v in held) and None in held  # an initializer: its name


@pytest.mark.parametrize("lean", [False, True], ids=["whole", "lean"])
def test_values_held_in_bulk_are_those_held_one_by_one(lean, monkeypatch, tmp_path):
    """`_HeldByValue.many` (the small initializers read together, `GraphView.constant_rows`)
    gives what `get` gives for each name: small initializers of every element type by their
    value (BFLOAT16 and those of more than HELD_BY_VALUE_UP_TO elements as one by one), a
    Constant's output by its attributes, an initializer of a name given twice by its last,
    any other tensor nothing; for a lean load too (values read from the file)."""
    from trtforge.analyzer import loading

    rng = np.random.default_rng(3)
    limit = static.HELD_BY_VALUE_UP_TO
    inits, names = [], []
    for i, (dtype, shape) in enumerate(
        [
            (np.float32, (limit,)),  # at the limit: by value
            (np.float32, (limit + 1,)),  # above: by name
            (np.float32, ()),
            (np.float16, (2, 3)),
            (np.int64, (4,)),
            (np.int8, (1, 1, 2)),
            (np.uint8, (3,)),
            (np.float64, (2,)),
            (np.bool_, (5,)),
            (np.int32, (0,)),
            (np.float32, (limit,)),
            (np.float32, (4, 8)),  # 32 elements: left without data by a lean load
        ]
    ):
        value = (rng.standard_normal(shape) * 10).astype(dtype)
        inits.append(numpy_helper.from_array(value, f"w{i}"))
        names.append(f"w{i}")
    bf16 = helper.make_tensor("bf", TensorProto.BFLOAT16, [2], [1.5, -2.0])
    twice = [numpy_helper.from_array(np.array([1, 2], np.int64), "twice")]
    twice.append(numpy_helper.from_array(np.array([3, 4], np.int64), "twice"))
    nodes = [helper.make_node("Identity", [name], [f"o{name}"]) for name in [*names, "bf"]]
    nodes.append(
        helper.make_node(
            "Constant", [], ["c"], value=numpy_helper.from_array(np.array([7.0], np.float32))
        )
    )
    nodes += [
        helper.make_node("Identity", ["twice"], ["ot"]),
        helper.make_node("Relu", ["x"], ["r"]),
    ]
    graph = helper.make_graph(
        nodes,
        "held",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])],
        [*inits, bf16, *twice],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "held.onnx"
    onnx.save(model, path)
    if lean:
        monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
    loaded = load_model(path)
    assert (loaded.lean is not None) is lean
    asked = [*names, "bf", "twice", "c", "x", "r", "nowhere", names[0], "c"]

    def held() -> static._HeldByValue:
        view = GraphView.of_loaded(loaded, {})
        view.read_structure()
        return static.VerdictMemo(view)._values_by_value()

    one_by_one = [held().get(name) for name in asked]
    assert held().many(asked) == one_by_one
    assert one_by_one[0][0] == "value" and one_by_one[1] == names[1]
    assert one_by_one[asked.index("twice")][3] == np.array([3, 4], np.int64).tobytes()
    assert one_by_one[asked.index("c")][0] == "Constant" and one_by_one[asked.index("x")] is None


def test_values_key_follows_the_last_producer():
    """A tensor a Constant writes and a later node writes again (an invalid graph) has no
    constant value for `values_key`, as `producer_index` (the last producer) has it."""
    from trtforge.analyzer.graph import GraphView

    axes = numpy_helper.from_array(np.array([0], np.int64))
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["c"], value=axes),
            helper.make_node("Identity", ["i"], ["c"]),
            helper.make_node("Constant", [], ["d"], value=axes),
            helper.make_node("Unsqueeze", ["x", "c"], ["y"]),
            helper.make_node("Unsqueeze", ["x", "d"], ["z"]),
        ],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [1]),
        ],
        [],
    )
    memo = static.VerdictMemo(GraphView(graph, {}))
    assert memo.values_key(3, (1,)) == ((1,), (None,))
    assert memo.values_key(4, (1,))[1][0][0] == "Constant"


def _many_initializers_model() -> onnx.ModelProto:
    """Initializers of every kind the memo keys: float weights of a few shapes, one per
    layer; INT64 shapes; UINT8 ones (as DequantizeLinear and Gather read them); one that is
    a graph output; one declared as a graph input too; a sparse initializer."""
    rng = np.random.default_rng(0)
    inits, nodes, current = [], [], "x"
    for layer in range(12):
        width = (4, 8)[layer % 2]
        rows = 4 if layer == 0 else (4, 8)[(layer - 1) % 2]
        weight = numpy_helper.from_array(rng.standard_normal((rows, width)).astype(np.float32))
        weight.name = f"w{layer}"
        inits.append(weight)
        inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"b{layer}"))
        nodes.append(helper.make_node("MatMul", [current, f"w{layer}"], [f"m{layer}"]))
        nodes.append(helper.make_node("Add", [f"m{layer}", f"b{layer}"], [f"a{layer}"]))
        current = f"a{layer}"
    inits.append(numpy_helper.from_array(np.array([2, 4], np.int64), "shape"))
    inits.append(numpy_helper.from_array(np.arange(16, dtype=np.uint8).reshape(4, 4), "q"))
    inits.append(numpy_helper.from_array(np.arange(16, dtype=np.uint8).reshape(4, 4), "table"))
    inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "scale"))
    inits.append(numpy_helper.from_array(np.array(3, np.uint8), "zero"))
    inits.append(numpy_helper.from_array(np.ones((4, 4), np.float32), "exported"))
    inits.append(numpy_helper.from_array(np.ones((4, 4), np.float32), "declared"))
    nodes += [
        helper.make_node("Reshape", [current, "shape"], ["r"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["dq"]),
        helper.make_node("Gather", ["table", "idx"], ["g"]),
        helper.make_node("MatMul", ["dq", "declared"], ["dd"]),
    ]
    model = _model(
        nodes,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4]),
            helper.make_tensor_value_info("idx", TensorProto.INT64, [3]),
            helper.make_tensor_value_info("declared", TensorProto.FLOAT, [4, 4]),
        ],
        [
            helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None)
            for name in ("r", "g", "dd", "exported")
        ],
        inits,
    )
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.ones(2, np.float32), "sparse"),
        numpy_helper.from_array(np.array([0, 3], np.int64), "sparse_idx"),
        [4, 4],
    )
    model.graph.sparse_initializer.append(sparse)
    model.graph.node.append(helper.make_node("MatMul", ["dd", "sparse"], ["ds"]))
    model.graph.output.append(helper.make_tensor_value_info("ds", TensorProto.UNDEFINED, None))
    return model


@pytest.mark.parametrize(
    ("sparse", "uint8"),
    [(True, True), (False, True), (False, False)],
    ids=["with-sparse", "dense", "dense-without-uint8"],
)
def test_initializers_keyed_by_kind_get_the_keys_they_get_one_by_one(monkeypatch, sparse, uint8):
    """`_key_initializers_alike` keys initializers of one element type and shape alike:
    every tensor's key groups the tensors as keying each from its facts does, whether the
    kinds come from the file's bytes (`LoadedModel.initializer_heads`; not for a graph with
    sparse initializers) or from the protos, and the reports with and without the memo stay
    equal. Without UINT8 ones (keyed one by one), every kind is keyed in bulk, those that are
    a graph output or input apart."""
    memos = []
    real_init = static.VerdictMemo.__init__

    def recording(self, graph):
        real_init(self, graph)
        memos.append(self)

    monkeypatch.setattr(static.VerdictMemo, "__init__", recording)
    model = _many_initializers_model()
    if not sparse:
        model.graph.ClearField("sparse_initializer")
        model.graph.node[-1].input[1] = "declared"
    if not uint8:
        for tensor in model.graph.initializer:
            if tensor.data_type == TensorProto.UINT8:
                tensor.data_type = TensorProto.INT8
    loaded, target = load_model(model.SerializeToString()), parse_target("rtx-1")
    assert loaded.initializer_heads is not None  # kinds read from the bytes
    view = static.GraphView(loaded.proto.graph, {}, initializer_heads=loaded.initializer_heads)
    assert (view.initializer_heads() is None) is sparse

    def groups() -> set[frozenset[str]]:
        memos.clear()
        static.check_static(loaded, target)
        (memo,) = memos
        keys = dict(memo._tensor_keys)
        by_key: dict = {}
        for name, key in keys.items():
            by_key.setdefault(key, set()).add(name)
        return {frozenset(names) for names in by_key.values()}, set(keys)

    bulk, bulk_names = groups()
    assert {"w1", "w3", "w5"} in {names & {"w1", "w3", "w5"} for names in bulk}
    heads, loaded.initializer_heads = loaded.initializer_heads, None  # read from the protos
    assert groups() == (bulk, bulk_names)
    loaded.initializer_heads = heads
    shared, alone_report = _reports(model, "rtx-1")
    assert shared == alone_report
    monkeypatch.setattr(static.VerdictMemo, "_key_initializers_alike", lambda self: None)
    alone, alone_names = groups()
    assert bulk_names == alone_names and bulk == alone


def _chain(nodes: list[onnx.NodeProto], last: str) -> onnx.ModelProto:
    """A model of `nodes` from a FLOAT [N, 8] input x to the output `last`."""
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)],
    )


def _constant_weights(count: int, bad: int | None = None, typed: bool = False) -> onnx.ModelProto:
    """`count` MatMuls, each with its own FLOAT [8, 8] weight held by a Constant node (as an
    exporter that does not fold constants writes them); weight `bad`'s raw_data is a byte
    short (`typed`: the values in float_data, as onnx.helper's make_tensor writes them, and
    weight `bad` a value short)."""
    rng = np.random.default_rng(0)
    nodes, current = [], "x"
    for i in range(count):
        values = rng.standard_normal((8, 8)).astype(np.float32)
        if typed:
            weight = helper.make_tensor(f"w{i}", TensorProto.FLOAT, [8, 8], values.ravel())
            if i == bad:
                del weight.float_data[-1]
        else:
            weight = numpy_helper.from_array(values, f"w{i}")
        if i == bad and not typed:
            weight.raw_data = weight.raw_data[:-1]
        nodes += [
            helper.make_node("Constant", [], [f"w{i}"], name=f"c{i}", value=weight),
            helper.make_node("MatMul", [current, f"w{i}"], [f"y{i}"], name=f"mm{i}"),
        ]
        current = f"y{i}"
    return _chain(nodes, current)


@pytest.mark.parametrize("typed", [False, True], ids=["raw-data", "typed-field"])
def test_constant_weights_share_a_verdict_whatever_their_values(monkeypatch, typed):
    """Constants holding weights of one type and shape are keyed without their values
    (`NodeFields.attribute_keys`), in raw_data or in their type's typed field: one is judged
    for all, the report is the one judging each gives, and a weight whose data does not fit
    its dims is still reported on its node."""
    judged = _judged(monkeypatch, lambda node: node.op_type)
    loaded, target = load_model(_constant_weights(40, typed=typed)), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    assert judged.count("Constant") == 1
    assert render(shared, "json") == render(static.check_static(loaded, target, memo=False), "json")
    fields = NodeFields.read(loaded.proto.graph)
    assert len(set(fields.signatures()[0])) == 2  # every Constant one signature, every MatMul one
    # a damaged weight among them: found on its node, by the bulk check as by the walk
    damaged = load_model(_constant_weights(40, bad=17, typed=typed))
    report = static.check_static(damaged, target)
    assert [n.name for n in report.nodes if n.status == "unsupported"] == ["c17"]
    assert ("float_data" if typed else "raw_data") in report.nodes[34].reasons[0].message
    assert render(report, "json") == render(
        static.check_static(damaged, target, memo=False), "json"
    )


def test_graph_outputs_are_keyed_by_type(monkeypatch):
    """Graph outputs the nodes compute (a model of many outputs) are keyed once per type and
    flags: computed ones, Constant ones, a UINT8 one and an output that is also a graph
    input apart; the report is the one keying each."""
    nodes, outputs = [], []
    for i in range(200):  # (groups of KEYED_ALONE_BELOW and more are keyed by type)
        nodes.append(helper.make_node("Relu", ["x"], [f"r{i}"], name=f"relu{i}"))
        outputs.append(helper.make_tensor_value_info(f"r{i}", TensorProto.FLOAT, ["N", 8]))
    for i in range(80):
        value = numpy_helper.from_array(np.full(4, i, np.int64), f"v{i}")
        nodes.append(helper.make_node("Constant", [], [f"c{i}"], name=f"const{i}", value=value))
        outputs.append(helper.make_tensor_value_info(f"c{i}", TensorProto.INT64, [4]))
    nodes.append(helper.make_node("Cast", ["x"], ["u"], name="to_uint8", to=TensorProto.UINT8))
    outputs += [
        helper.make_tensor_value_info("u", TensorProto.UINT8, ["N", 8]),
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
    ]
    model = _model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])], outputs
    )
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    keyed = []
    real = static.VerdictMemo._new_tensor_key
    monkeypatch.setattr(
        static.VerdictMemo,
        "_new_tensor_key",
        lambda self, name: keyed.append(name) or real(self, name),
    )
    static.check_static(load_model(model), parse_target("rtx-1"))
    assert sum(name.startswith("r") for name in keyed) == 1
    assert sum(name.startswith("c") for name in keyed) == 1
    assert "u" in keyed and "x" in keyed


def test_untyped_tensors_are_keyed_as_one(monkeypatch):
    """The tensors inference leaves untyped (a chain of custom ops, unnamed nodes among
    them) are keyed once, in bulk: the report is the one keying each, and the unnamed
    nodes' findings name them by their position."""
    nodes, current = [], "x"
    for i in range(120):
        name = f"custom{i}" if i % 2 else ""
        nodes.append(helper.make_node("MyOp", [current], [f"c{i}"], name=name, domain="custom"))
        current = f"c{i}"
    nodes.append(helper.make_node("Relu", [current], ["y"], name="relu"))
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
    )
    model.opset_import.append(helper.make_opsetid("custom", 1))
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    assert "MyOp node '<MyOp #4>'" in shared
    one_by_one = []  # (what a node's first read of a tensor not keyed yet keys)
    real = static.VerdictMemo._tensor_key
    monkeypatch.setattr(
        static.VerdictMemo,
        "_tensor_key",
        lambda self, name: one_by_one.append(name) or real(self, name),
    )
    static.check_static(load_model(model), parse_target("rtx-1"))
    assert not [name for name in one_by_one if name.startswith("c")]


def _named_shape_constants(count: int, bad: int | None = None) -> onnx.ModelProto:
    """`count` Reshapes, each of its own shape [-1, 4, 2] held by a Constant whose tensor is
    named and documented after it (as a model made with onnx.helper names them), every third
    shape [-1, 2, 4] instead; shape `bad`'s raw_data is a byte short."""
    nodes, current = [], "x"
    for i in range(count):
        shape = numpy_helper.from_array(
            np.array([-1, 2, 4] if i % 3 == 2 else [-1, 4, 2], np.int64), f"shape{i}"
        )
        shape.doc_string = f"the shape of layer {i}"
        if i == bad:
            shape.raw_data = shape.raw_data[:-1]
        nodes += [
            helper.make_node("Constant", [], [f"s{i}"], name=f"c{i}", value=shape),
            helper.make_node("Reshape", [current, f"s{i}"], [f"r{i}"], name=f"reshape{i}"),
            helper.make_node("Relu", [f"r{i}"], [f"y{i}"], name=f"relu{i}"),
        ]
        current = f"y{i}"
    return _chain(nodes, current)


def test_constants_of_one_value_share_whatever_their_tensors_are_named(monkeypatch):
    """A small tensor attribute with a name or a doc string is keyed without them, its values
    kept (`NodeFields.attribute_keys`): Constants of one value under many tensor names make
    one signature and share a verdict, and so do the Reshapes reading them (`values_key`);
    a shape of another value is judged apart, and a damaged one is still reported on its
    node. Each report is the one judging every node gives."""
    judged = _judged(monkeypatch, lambda node: node.op_type)
    loaded, target = load_model(_named_shape_constants(30)), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    # Reshapes: one per kind of input (the graph's, [N, 4, 2], [N, 2, 4]) and shape read
    assert judged.count("Constant") == 2 and judged.count("Reshape") == 4, judged
    assert render(shared, "json") == render(static.check_static(loaded, target, memo=False), "json")
    fields = NodeFields.read(loaded.proto.graph)
    assert len(set(fields.signatures()[0])) == 4  # 2 Constants, 1 Reshape, 1 Relu
    damaged = load_model(_named_shape_constants(30, bad=7))
    report = static.check_static(damaged, target)
    assert [n.name for n in report.nodes if n.status == "unsupported"] == ["c7"]
    assert "shape7" in report.nodes[21].reasons[0].message  # its own tensor's name
    assert render(report, "json") == render(
        static.check_static(damaged, target, memo=False), "json"
    )


def test_splits_share_a_verdict(monkeypatch):
    """Split's check compares `num_outputs` with the node's output count, which its key holds
    (`NodeContext.num_outputs`, not `ctx.node`): 40 Splits alike are judged once (and the
    first, whose input is the graph's, once more)."""
    nodes, current = [], "x"
    for i in range(40):
        outputs = [f"s{i}_{k}" for k in range(4)]
        nodes += [
            helper.make_node("Split", [current], outputs, name=f"split{i}", axis=1, num_outputs=4),
            helper.make_node("Concat", outputs, [f"c{i}"], name=f"concat{i}", axis=1),
        ]
        current = f"c{i}"
    model = _chain(nodes, current)
    judged = _judged(monkeypatch, lambda node: node.op_type)
    loaded, target = load_model(model), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    assert judged.count("Split") == 2, judged
    assert render(shared, "json") == render(static.check_static(loaded, target, memo=False), "json")


def test_a_rule_reading_a_constants_value_judges_each_alone(monkeypatch):
    """A check that reads a tensor attribute keyed without its values (`NodeContext.attrs`)
    tells Constants of one key apart; the memo must notice."""

    def check(ctx):
        if ctx.attr("value").raw_data[:4] == bytes(4):
            yield ctx.finding("zero", "starts with zero")

    rule = OpRule(op="Constant", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "Constant" else real(domain, op)
    )
    model = _constant_weights(6)
    model.graph.node[6].attribute[0].t.raw_data = bytes(8 * 8 * 4)  # c3: zeros
    loaded, target = load_model(model), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    assert [n.name for n in shared.nodes if n.status == "unsupported"] == ["c3"]
    assert render(shared, "json") == render(static.check_static(loaded, target, memo=False), "json")


def test_initializers_named_twice_are_keyed_as_the_protos_have_them():
    """Two initializers of one name (the last one counts, as in the graph view): keyed from
    the protos, not in bulk from the heads, and the reports with and without the memo are
    equal."""
    model = _constant_weights(3)
    first = numpy_helper.from_array(np.ones((8, 8), np.float32), "twice")
    second = numpy_helper.from_array(np.ones((4, 8), np.float32), "twice")
    model.graph.initializer.extend([first, second])
    model.graph.node.append(helper.make_node("MatMul", ["x", "twice"], ["t"], name="mm_twice"))
    model.graph.output.append(helper.make_tensor_value_info("t", TensorProto.FLOAT, None))
    loaded = load_model(model.SerializeToString())
    assert loaded.initializer_heads.names == ["twice", "twice"]
    target = parse_target("rtx-1")
    memo = static.VerdictMemo(
        static.GraphView(loaded.proto.graph, {}, initializer_heads=loaded.initializer_heads)
    )
    assert memo._key_initializer_heads(loaded.initializer_heads) is False
    shared = render(static.check_static(loaded, target), "json")
    assert shared == render(static.check_static(loaded, target, memo=False), "json")


def test_nodes_reading_constants_of_their_own_share_by_what_the_rule_decides(monkeypatch):
    """Quantized layers whose Q/DQ nodes each read a scale and a zero point of their own
    (initializers named per layer, as onnxruntime's quantizer writes them) share a verdict
    when the rule's answers agree (the scale positive, the zero point zero: `input_derived`),
    not only when they hold the same tensors; a layer with a negative scale or a nonzero zero
    point keeps its finding; the report is the one without the memo; and each node is looked
    up once per set of inputs its key's verdicts read (once per verdict seen made a
    100,000-node quantized model's check take minutes)."""
    layers, nodes, inits, current = 150, [], [], "x"
    negative, nonzero = {17, 90}, {41}
    for i in range(layers):
        inits += [
            numpy_helper.from_array(np.array(0.01 + i * 1e-4, np.float32) * (-1 if i in negative else 1), f"s{i}"),
            numpy_helper.from_array(np.array(3 if i in nonzero else 0, np.int8), f"z{i}"),
        ]  # fmt: skip
        nodes += [
            helper.make_node(
                "QuantizeLinear", [current, f"s{i}", f"z{i}"], [f"q{i}"], name=f"q{i}"
            ),
            helper.make_node(
                "DequantizeLinear", [f"q{i}", f"s{i}", f"z{i}"], [f"d{i}"], name=f"d{i}"
            ),
            helper.make_node("Relu", [f"d{i}"], [f"r{i}"], name=f"r{i}"),
        ]
        current = f"r{i}"
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [2, 8])],
        inits,
        opset=19,
    )
    shared, alone = _reports(model, "trt-10")
    assert shared == alone
    report = static.check_static(load_model(model), parse_target("trt-10"))
    flagged = {n.name: [r.code.split("/")[1] for r in n.reasons] for n in report.nodes if n.reasons}
    assert flagged == {
        **{f"{op}{i}": ["scale-not-positive"] for i in negative for op in "qd"},
        **{f"{op}{i}": ["nonzero-zero-point"] for i in nonzero for op in "qd"},
    }
    looked_up = []
    real = static.VerdictMemo.values_key

    def counted(self, index, reads):
        looked_up.append(index)
        return real(self, index, reads)

    monkeypatch.setattr(static.VerdictMemo, "values_key", counted)
    judged = _judged(monkeypatch)
    static.check_static(load_model(model), parse_target("trt-10"))
    quantized = [name for name in judged if name[0] in "qd"]
    assert len(quantized) < 12, quantized  # the first of each answer, and those with findings
    assert len(looked_up) <= 3 * 2 * layers, len(looked_up)


def _activations(op: str, count: int, **values) -> onnx.ModelProto:
    """A chain of `count` `op` nodes; attribute a of node i holds `values[a](i)`."""
    nodes = [
        helper.make_node(
            op,
            ["x" if i == 0 else f"y{i - 1}"],
            [f"y{i}"],
            name=f"n{i}",
            **{name: value(i) for name, value in values.items()},
        )
        for i in range(count)
    ]
    return _chain(nodes, f"y{count - 1}")


def test_nodes_differing_only_in_attribute_values_share_a_verdict(monkeypatch):
    """300 LeakyRelus, each with its own `alpha`, are 300 signatures of one form
    (`NodeFields.forms`): one key holds them all, as nothing reads alpha's value, so a node
    for each place in the chain is judged instead of every one, and the report is the one judging each gives."""
    judged = _judged(monkeypatch, lambda node: node.op_type)
    model = _activations("LeakyRelu", 300, alpha=lambda i: 0.01 + i / 1000)
    loaded, target = load_model(model), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    assert judged.count("LeakyRelu") == 3, judged  # the first, one in the chain, the last
    assert render(shared, "json") == render(static.check_static(loaded, target, memo=False), "json")
    fields = NodeFields.read(loaded.proto.graph)
    assert len(fields.signatures()[1]) == 300 and len(fields.forms()[1]) == 1
    # fewer signatures than FORMS_FROM: no forms, each judged as it always was
    assert NodeFields.read(_activations("LeakyRelu", 100, alpha=float).graph).forms() is None


def test_a_rule_reading_a_varied_attribute_shares_by_its_value(monkeypatch):
    """A rule that reads an attribute the key holds without its value (here HardSigmoid's
    `beta`, while every node has its own `alpha`) notes it (`AttributeRead`): the verdicts it
    finds clean are shared by the nodes of the same beta, the others judged one by one, and
    the report is the one judging each node gives."""

    def check(ctx):
        if ctx.attr_float("beta", 0.5) > 0.55:
            yield ctx.finding("flagged", "beta over 0.55")

    rule = OpRule(op="HardSigmoid", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "HardSigmoid" else real(domain, op)
    )
    judged = _judged(monkeypatch)
    flagged = {i for i in range(300) if i % 7 == 3}
    model = _activations(
        "HardSigmoid",
        300,
        alpha=lambda i: 0.2 + i / 1000,
        beta=lambda i: 0.6 if i in flagged else 0.5,
    )
    loaded, target = load_model(model), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    judged_shared = list(judged)
    alone = static.check_static(loaded, target, memo=False)
    assert {n.name for n in alone.nodes if n.status == "unsupported"} == {f"n{i}" for i in flagged}
    assert render(shared, "json") == render(alone, "json")
    # the flagged ones each, the clean ones once (and the first, whose input is the graph's)
    assert set(judged_shared) == {f"n{i}" for i in flagged} | {"n0", "n1", "n299"}


def test_attributes_of_another_form_are_still_found_invalid(monkeypatch):
    """Among 300 LeakyRelus of one form, an `alpha` declared INT and one holding two values
    are forms of their own: validity, which checks one signature of each form, reports them
    on their nodes, as it does checking every signature."""
    model = _activations("LeakyRelu", 300, alpha=lambda i: 0.01 + i / 1000)
    model.graph.node[100].attribute[0].type = onnx.AttributeProto.INT
    model.graph.node[200].attribute[0].i = 3
    target = parse_target("rtx-1")
    grouped = render(static.check_static(load_model(model), target), "json")
    invalid = [n["name"] for n in json.loads(grouped)["nodes"] if n["status"] != "supported"]
    assert invalid == ["n100", "n200"]
    monkeypatch.setattr(graph_module, "FORMS_FROM", 10**9)
    assert NodeFields.read(model.graph).forms() is None
    assert grouped == render(static.check_static(load_model(model), target), "json")


def test_forms_differing_in_an_attributes_type_are_kinds_apart(monkeypatch):
    """Two forms of LeakyRelu, `alpha` a FLOAT in one and an INT (which `NodeContext.attrs`
    leaves out: not the schema's type) in the other, each of many signatures: a rule asking
    whether alpha is there tells them apart, so they must not share a kind."""

    def check(ctx):
        if "alpha" not in ctx.attrs:
            yield ctx.finding("flagged", "no alpha of the schema's type")

    rule = OpRule(op="LeakyRelu", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "LeakyRelu" else real(domain, op)
    )
    model = _activations("LeakyRelu", 300, alpha=lambda i: 0.01 + i / 1000)
    for node in model.graph.node[2::2]:  # (the first of the chain's middle: a FLOAT)
        node.attribute[0].CopyFrom(helper.make_attribute("alpha", 100 + int(node.name[1:])))
    loaded, target = load_model(model), parse_target("rtx-1")
    assert len(NodeFields.read(loaded.proto.graph).forms()[1]) == 2
    shared = static.check_static(loaded, target)
    alone = static.check_static(loaded, target, memo=False)
    flagged = [n.name for n in alone.nodes if "leakyrelu/flagged" in [r.code for r in n.reasons]]
    assert flagged == [f"n{i}" for i in range(2, 300, 2)]
    assert render(shared, "json") == render(alone, "json")


def _if_around_relus(count: int) -> onnx.ModelProto:
    """An If whose branches each hold a chain of `count` Relus (t0.., e0..) reading x."""

    def branch(side: str) -> onnx.GraphProto:
        nodes = [
            helper.make_node("Relu", [f"{side}{i - 1}" if i else "x"], [f"{side}{i}"], f"{side}{i}")
            for i in range(count)
        ]
        out = helper.make_tensor_value_info(f"{side}{count - 1}", TensorProto.FLOAT, None)
        return helper.make_graph(nodes, side, [], [out])

    node = helper.make_node(
        "If", ["c"], ["y"], "if", then_branch=branch("t"), else_branch=branch("e")
    )
    return _model(
        [node],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )


def test_alike_nodes_in_a_body_share_a_verdict(monkeypatch):
    """A body of many nodes (a scripted model's If around the network) has its alike nodes
    judged once (`StaticChecker._body_verdicts`): 2 × 200 Relus, a few judged; the report is
    the one judging each body node gives."""
    judged = _judged(monkeypatch)
    loaded, target = load_model(_if_around_relus(200)), parse_target("rtx-1")
    shared = render(static.check_static(loaded, target), "json")
    assert 2 <= len([n for n in judged if n != "if"]) <= 6, judged
    monkeypatch.setattr(static, "BODY_MEMO_FROM", 10**9)
    judged.clear()
    assert shared == render(static.check_static(loaded, target), "json")
    assert len(judged) == 401


def _ifs_model(nodes: list, last: str, width: int) -> onnx.ModelProto:
    """A graph of `nodes` (Ifs on a condition `c`) over x [N, `width`], `last` its output."""
    return _model(
        nodes,
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)],
    )


def _ifs_of_small_branches(ifs: int, per_branch: int, bad: tuple[int, int] | None = None):
    """`ifs` Ifs in a chain, each branch `per_branch` Relus; `bad`: (If, node) whose Relu
    reads a UINT16 value instead (a node of another verdict, deep in one branch)."""
    nodes, current = [], "x"
    for k in range(ifs):

        def branch(side: str, k=k, current=current) -> onnx.GraphProto:
            body = []
            for i in range(per_branch):
                source = f"{side}{k}_{i - 1}" if i else current
                if bad == (k, i) and side == "t":
                    body.append(
                        helper.make_node("Cast", [source], [f"u{k}"], to=TensorProto.UINT16)
                    )
                    source = f"u{k}"
                body.append(
                    helper.make_node("Relu", [source], [f"{side}{k}_{i}"], f"{side}{k}_{i}")
                )
            out = helper.make_tensor_value_info(
                f"{side}{k}_{per_branch - 1}", TensorProto.FLOAT, None
            )
            return helper.make_graph(body, side, [], [out])

        nodes.append(
            helper.make_node("If", ["c"], [f"y{k}"], f"if{k}", then_branch=branch("t"),
                             else_branch=branch("e"))
        )  # fmt: skip
        current = f"y{k}"
    return _ifs_model(nodes, current, 8)


def test_alike_nodes_of_many_small_bodies_share_a_verdict(monkeypatch):
    """Once the model's bodies have held 4 × BODY_MEMO_FROM nodes, every body shares
    "supported, no finding" with alike nodes of any body (`_body_verdicts`): 100 Ifs of
    2 × 10 Relus are judged a few times, not 2,000; a Relu of a UINT16 value deep in one
    branch still makes its If unsupported; the reports are those judging each node gives."""
    judged = _judged(monkeypatch)
    target = parse_target("rtx-1")
    for bad in (None, (63, 7)):
        loaded = load_model(_ifs_of_small_branches(100, 10, bad))
        judged.clear()
        shared = render(static.check_static(loaded, target), "json")
        relus = [n for n in judged if not n.startswith("if")]
        assert len(relus) < 4 * static.BODY_MEMO_FROM + 20, len(relus)
        monkeypatch.setattr(static, "BODY_MEMO_FROM", 10**9)
        judged.clear()
        assert shared == render(static.check_static(loaded, target), "json")
        assert len([n for n in judged if not n.startswith("if")]) >= 2000
        monkeypatch.setattr(static, "BODY_MEMO_FROM", 64)
        if bad is not None:
            assert '"if63"' in shared and "unsupported" in shared.split('"if63"')[1][:200]


def test_a_body_s_values_keyed_by_type_in_bulk_are_keyed_as_one_by_one():
    """`_BodyKeys.key_alike` keys the values a body computes by type in bulk: every name of
    a body holding Relus, Constants, a QuantizeLinear's UINT8 output and what reads it, Casts
    and its outputs gets the key keying it alone gives."""
    nodes, current = [], "x"
    for i in range(60):
        nodes.append(helper.make_node("Relu", [current], [f"r{i}"]))
        nodes.append(helper.make_node("Cast", [f"r{i}"], [f"h{i}"], to=TensorProto.FLOAT16))
        current = f"r{i}"
    nodes += [
        helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.float32(0.5))),
        helper.make_node("QuantizeLinear", [current, "s"], ["q"]),
        helper.make_node("Identity", ["q"], ["q2"]),
        helper.make_node("DequantizeLinear", ["q2", "s"], ["d"]),
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("d", "r3")]
    body = helper.make_graph(nodes, "then", [], outputs)
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], [o]) for o in ("e0", "e1")], "else", [],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("e0", "e1")],
    )  # fmt: skip
    model = _model(
        [helper.make_node("If", ["c"], ["y", "z"], then_branch=body, else_branch=other)],
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in ("y", "z")],
    )
    loaded = load_model(model)
    checker = static.StaticChecker(loaded, parse_target("rtx-1"))
    checker.run()
    top = GraphView(loaded.proto.graph, checker.types)
    (then,) = [a.g for a in loaded.proto.graph.node[0].attribute if a.name == "then_branch"]
    view = GraphView(then, checker.types, outer=top)
    bulk = static._BodyKeys(view)
    bulk.key_alike()
    names = [n for node in nodes for n in (*node.input, *node.output)]
    assert len(bulk._keys) > 100  # keyed before any lookup
    assert [bulk.of([n]) for n in names] == [static._BodyKeys(view).of([n]) for n in names]
    assert view.body_values_typed_alike() >= {"r0", "h0"}
    assert not view.body_values_typed_alike() & {"s", "d", "r3", "x"}


@pytest.mark.parametrize(
    "reads",
    [
        pytest.param(lambda ctx: ctx.name == "t157", id="node-name"),
        pytest.param(lambda ctx: ctx.input(0).name == "t156", id="tensor-name"),
    ],
)
def test_a_body_node_whose_check_reads_outside_its_key_is_judged_alone(monkeypatch, reads):
    """A check in a body that reads what the key leaves out (a name) tells alike nodes
    apart: the If is unsupported through exactly that body node, as judging each finds."""

    def check(ctx):
        if reads(ctx):
            yield ctx.finding("flagged", "flagged by the test rule")

    rule = OpRule(op="Relu", source="test", check=check)
    real = static.find_rule
    monkeypatch.setattr(
        static, "find_rule", lambda domain, op: rule if op == "Relu" else real(domain, op)
    )
    loaded, target = load_model(_if_around_relus(200)), parse_target("rtx-1")
    shared = static.check_static(loaded, target)
    (verdict,) = shared.nodes
    assert verdict.status == "unsupported" and "t157" in verdict.reasons[0].message
    monkeypatch.setattr(static, "BODY_MEMO_FROM", 10**9)
    assert render(shared, "json") == render(static.check_static(loaded, target), "json")


def _ifs_of_quantizers(ifs: int, bad: int | None = None, local: bool = False) -> onnx.ModelProto:
    """`ifs` Ifs in a chain whose then branch quantizes and dequantizes its input (the scale a
    Constant of the branch; `local`: an initializer of the branch, named `s` in every one),
    and whose else branch doubles it along axis 1: every If's output gets a dim shape
    inference makes up anew, so the branches of each If read names of their own. `bad`: the
    If whose scale is negative (which the parser refuses)."""
    nodes, current = [], "x"
    for k in range(ifs):
        scale = numpy_helper.from_array(np.array(-0.5 if k == bad else 0.5, np.float32))
        s = "s" if local else f"s{k}"
        then = helper.make_graph(
            [] if local else [helper.make_node("Constant", [], [s], value=scale)],
            "then", [], [helper.make_tensor_value_info(f"t{k}", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(numpy_helper.to_array(scale), s)] if local else [],
        )  # fmt: skip
        then.node.extend(
            [
                helper.make_node("QuantizeLinear", [current, s], [f"q{k}"], f"q{k}"),
                helper.make_node("DequantizeLinear", [f"q{k}", s], [f"t{k}"], f"d{k}"),
            ]
        )
        other = helper.make_graph(
            [helper.make_node("Concat", [current, current], [f"e{k}"], f"c{k}", axis=1)],
            "else", [], [helper.make_tensor_value_info(f"e{k}", TensorProto.FLOAT, None)],
        )  # fmt: skip
        nodes.append(
            helper.make_node("If", ["c"], [f"y{k}"], f"if{k}", then_branch=then, else_branch=other)
        )
        current = f"y{k}"
    return _ifs_model(nodes, current, 4)


@pytest.mark.parametrize("local", [False, True], ids=["constants", "same-named-initializers"])
def test_body_nodes_alike_but_for_made_up_dims_and_constants_share_a_verdict(local, monkeypatch):
    """Bodies' nodes share "supported, no finding" though each copy's dims are names shape
    inference made up anew (keyed by their order of appearance, as top-level nodes are) and
    their checks read constants of their own body (keyed by value, as `values_key` keys
    them): of 300 Ifs' QuantizeLinears, those met before the memo starts (4 × BODY_MEMO_FROM
    body nodes) and a few more are judged, not 300; one of a negative
    scale still gets its own verdict; the reports are those judging each node gives. Scales
    that are initializers of their branch, named alike in all, are not taken for one value
    by their name: the negative one still gets its verdict."""
    judged = _judged(monkeypatch)
    target = parse_target("rtx-1")
    for bad in (None, 263):
        loaded = load_model(_ifs_of_quantizers(300, bad, local))
        judged.clear()
        shared = render(static.check_static(loaded, target), "json")
        quantizers = [n for n in judged if n.startswith("q")]
        per_if = 3 if local else 4  # body nodes: the memo starts after 4 × BODY_MEMO_FROM
        assert len(quantizers) <= 4 * static.BODY_MEMO_FROM / per_if + 6, len(quantizers)
        monkeypatch.setattr(static, "BODY_MEMO_FROM", 10**9)
        judged.clear()
        assert shared == render(static.check_static(loaded, target), "json")
        assert len([n for n in judged if n.startswith("q")]) == 300
        monkeypatch.setattr(static, "BODY_MEMO_FROM", 64)
        if bad is not None:
            assert "unsupported" in shared.split('"if263"')[1][:200]


def _unsqueezed_chain(axes: list[int]) -> onnx.ModelProto:
    """x [2, 3], relu'd, through an Unsqueeze and a Squeeze for each of `axes`, each node
    with its own axes initializer (as an exporter names one for every node)."""
    nodes, inits, current = [helper.make_node("Relu", ["x"], ["r"], name="relu")], [], "r"
    for i, axis in enumerate(axes):
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), f"u{i}"))
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), f"s{i}"))
        nodes.append(helper.make_node("Unsqueeze", [current, f"u{i}"], [f"t{i}"], name=f"u{i}"))
        nodes.append(helper.make_node("Squeeze", [f"t{i}", f"s{i}"], [f"y{i}"], name=f"s{i}"))
        current = f"y{i}"
    return _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [2, 3])],
        inits,
    )


def test_small_initializers_stand_for_their_values(monkeypatch):
    """Nodes of one key whose checks read an initializer's value share a verdict seen clean
    where their initializers hold equal values under other names (`_HeldByValue`): 40
    Unsqueezes with axes [0] or [1], each its own initializer, are judged once per value, and
    the report is the one without the memo. Above HELD_BY_VALUE_UP_TO elements an
    initializer stands for its value by its name: each node is judged."""
    model = _unsqueezed_chain([0, 0, 1, 0, 1] * 8)
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    judged = _judged(monkeypatch, lambda node: node.op_type)
    static.check_static(load_model(model), parse_target("rtx-1"))
    assert judged.count("Unsqueeze") == 2, judged
    del judged[:]
    monkeypatch.setattr(static, "HELD_BY_VALUE_UP_TO", 0)
    static.check_static(load_model(model), parse_target("rtx-1"))
    assert judged.count("Unsqueeze") == 40


def test_weights_behind_constant_nodes_are_an_analysis_shared_by_its_answer(monkeypatch):
    """Whether an input is weights (`_compute.is_weights`, `resolves_to_weights`) is read as
    an analysis of the tensor (`NodeContext.input_derived`), not off the graph: ten
    ReduceSums whose axes each come from a Constant node of their own (as onnxruntime-genai's
    builder writes an LLM's) share one verdict; one whose axes a Cast of a Constant gives is
    supported too, and one whose axes a Concat computes keeps its finding; the report is the
    one without the memo."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu")]
    outputs = []
    for i in range(12):
        value = numpy_helper.from_array(np.array([1], np.int64))
        nodes.append(helper.make_node("Constant", [], [f"axes{i}"], value=value, name=f"c{i}"))
        axes = f"axes{i}"
        if i == 10:  # through a Cast: still weights for the Reduce importer
            nodes.append(helper.make_node("Cast", [axes], [f"cast{i}"], to=TensorProto.INT64))
            axes = f"cast{i}"
        if i == 11:  # computed: not weights
            nodes.append(helper.make_node("Concat", [axes], [f"cat{i}"], axis=0))
            axes = f"cat{i}"
        nodes.append(helper.make_node("ReduceSum", ["r", axes], [f"s{i}"], name=f"sum{i}"))
        outputs.append(helper.make_tensor_value_info(f"s{i}", TensorProto.FLOAT, None))
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])], outputs)
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    report = static.check_static(load_model(model), parse_target("rtx-1"))
    flagged = {n.name: [r.code for r in n.reasons] for n in report.nodes if n.reasons}
    assert flagged == {"sum11": ["input-not-constant"]}, flagged
    judged = _judged(monkeypatch)
    static.check_static(load_model(model), parse_target("rtx-1"))
    sums = [name for name in judged if name.startswith("sum")]
    assert sums[0] == "sum0" and not {f"sum{i}" for i in range(1, 10)} & set(sums), sums


def test_what_a_small_initializer_stands_for():
    """`_HeldByValue`: equal small values under two names stand for one thing; the same
    bytes of another element type, another shape, a value over HELD_BY_VALUE_UP_TO elements
    and strings (whose array bytes would be addresses) stand for themselves by name; a
    Constant's output keeps its attributes."""
    from trtforge.analyzer.graph import GraphView

    arrays = {
        "a": np.array([0, 1], np.int64),
        "b": np.array([0, 1], np.int64),
        "c": np.array([0, 1], np.uint64),
        "d": np.array([[0, 1]], np.int64),
        "big": np.zeros(static.HELD_BY_VALUE_UP_TO + 1, np.float32),
        "big2": np.zeros(static.HELD_BY_VALUE_UP_TO + 1, np.float32),
        "s": np.array(["x", "y"], object),
        "t": np.array(["x", "z"], object),
    }
    inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    nodes = [
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(arrays["a"])),
        helper.make_node("Identity", ["k"], ["y"]),
    ]
    model = _model(nodes, [], [helper.make_tensor_value_info("y", TensorProto.INT64, [2])], inits)
    view = GraphView(model.graph, None)
    memo = static.VerdictMemo(view)
    held = memo._values_by_value()
    assert held.get("a") == held.get("b") != held.get("c")
    assert held.get("a") != held.get("d")
    assert (held.get("big"), held.get("big2")) == ("big", "big2")
    assert (held.get("s"), held.get("t")) == ("s", "t")
    assert held.get("k")[0] == "Constant" and held.get("y") is None


def test_graph_inputs_keyed_by_declared_type_share_as_keyed_one_by_one():
    """Many graph inputs are keyed by declared type (and being a graph output too), one of
    each keyed from its facts (`VerdictMemo._key_all`): the report equals the memo-less
    one, and each input's own graph findings name it. A UINT8 input (keyed from its own
    facts), an input that is also an output and inputs of other types are among them."""
    from onnx import TensorProto, helper

    types = [TensorProto.FLOAT] * 70 + [TensorProto.INT32, TensorProto.UINT8, TensorProto.DOUBLE]
    shapes = [["N", 4]] * 70 + [["N", 4], [2, 4], ["M", 4]]
    inputs = [
        helper.make_tensor_value_info(f"i{k}", t, s)
        for k, (t, s) in enumerate(zip(types, shapes, strict=True))
    ]
    nodes = [helper.make_node("Relu", [f"i{k}"], [f"r{k}"]) for k in range(len(types))]
    outputs = [helper.make_tensor_value_info(f"r{k}", t, None) for k, t in enumerate(types)]
    outputs.append(helper.make_tensor_value_info("i3", TensorProto.FLOAT, ["N", 4]))
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    shared, alone = _reports(model, "rtx-1")
    assert shared == alone
    report = json.loads(shared)
    findings = report["graph"]["reasons"]
    dynamic = [f["message"] for f in findings if f["code"] == "graph/dynamic-input"]
    assert len(dynamic) == 72  # every input but the static UINT8 one, each named
    assert dynamic[0].startswith("graph input 'i0': has dynamic dims (N)")
    assert any(m.startswith("graph input 'i72': has dynamic dims (M)") for m in dynamic)
    assert [f["code"] for f in findings].count("graph/input-double") == 1
