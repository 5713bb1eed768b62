"""The pass framework: discovery, conventions, declared options and advice, duplicates, naming,
fixed point, unchanged graphs, reports.

The convention tests iterate over the registry: a new pass file is checked without editing them.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from trtforge.analyzer.rewrite import base, manager, registry
from trtforge.analyzer.rewrite.base import Advice, Match, PassOption, RewriteOptions, RewritePass
from trtforge.analyzer.targets import parse_target

PASS_IDS = registry.all_passes()

PLAIN = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8] x) => (float[2,8] y) {
 r = Relu(x)
 y = Sigmoid(r)
}"""


def test_every_pass_module_is_discovered():
    import pkgutil

    from trtforge.analyzer.rewrite import passes

    modules = {m.name for m in pkgutil.iter_modules(passes.__path__) if not m.name.startswith("_")}
    assert {cls.__module__.rsplit(".", 1)[-1] for cls in registry.pass_classes()} == modules
    assert {"fold-constants", "fuse-layernorm", "decompose-contrib"} <= set(PASS_IDS)


def test_every_pass_follows_the_conventions():
    for cls in registry.pass_classes():
        module = __import__(cls.__module__, fromlist=["_"])
        doc = module.__doc__ or ""
        for section in ("Before", "After", "Skips"):
            assert section in doc, f"{cls.id}: module docstring lacks '{section}'"
        assert cls.summary
        assert cls.__module__.rsplit(".", 1)[-1] == cls.id.replace("-", "_")


def test_duplicate_pass_id_rejected():
    found, origin = {}, {}
    cls = registry.get_pass("fuse-gelu")
    registry.register(found, origin, cls, "a")
    with pytest.raises(registry.DuplicatePassError, match="declared twice"):
        registry.register(found, origin, cls, "b")
    with pytest.raises(TypeError):
        registry.register(found, origin, object, "c")


def test_unknown_pass_is_a_user_error(rw):
    from trtforge.analyzer.errors import UserError

    with pytest.raises(UserError, match="unknown rewrite pass"):
        rw.apply(rw.parse(PLAIN), "fuse-everything")


@pytest.mark.parametrize("pass_id", PASS_IDS)
def test_declared_options_are_well_formed_and_offered_by_the_cli(pass_id):
    from trtforge.analyzer.cli.rewrite import build_parser

    parser = build_parser()
    flags = {flag for action in parser._actions for flag in action.option_strings}
    for option in registry.get_pass(pass_id).options:
        assert option.help and option.name.islower(), option
        assert option.validate(option.default) == option.default
        assert option.flag in flags
        # not given: left out, so the API can tell a default from a choice (RewriteOptions
        # fills in the default)
        assert option.name not in parser.parse_args(["in.onnx", "-o", "out.onnx"]).__dict__
        if option.choices:
            other = next(c for c in option.choices if c != option.default)
            args = parser.parse_args(["in.onnx", "-o", "o.onnx", option.flag, str(other)])
            assert getattr(args, option.name) == other


@pytest.mark.parametrize("pass_id", PASS_IDS)
def test_advice_declarations_are_well_formed(pass_id):
    advice = registry.get_pass(pass_id).advice
    if advice is None:
        return
    assert isinstance(advice, Advice) and advice.what and advice.fused
    assert advice.needs and all(isinstance(op, str) for op in advice.needs)


def test_rewrite_options_hold_defaults_and_reject_unknown_or_disallowed_values():
    target = parse_target("trt-10")
    options = RewriteOptions(target)
    for name, option in registry.declared_options().items():
        assert getattr(options, name) == option.default
    with pytest.raises(TypeError, match="unknown rewrite option"):
        RewriteOptions(target, no_such_option=1)
    with pytest.raises(AttributeError, match="no pass declares"):
        _ = options.no_such_option
    choice = next(o for o in registry.declared_options().values() if o.choices)
    with pytest.raises(ValueError, match="use one of"):
        RewriteOptions(target, **{choice.name: "not-a-choice"})


class _WithOption(RewritePass):
    """Before: Relu. After: Relu or Sigmoid, by option. Skips: none."""

    id = "test-relu-to"
    summary = "test"
    options = (PassOption("relu_to", "Relu", "what Relu becomes", choices=("Relu", "Sigmoid")),)
    advice = Advice("replaceable Relu", "one Sigmoid", frozenset({"Relu"}))

    def find(self, ctx):
        for node in list(ctx.graph.nodes):
            if node.op == "Relu" and ctx.options.relu_to != "Relu":
                yield Match(node.name or "relu", [node])

    def rewrite(self, match, ctx):
        match.nodes[0].op = ctx.options.relu_to


@pytest.fixture
def with_test_pass(monkeypatch):
    table = dict(registry._passes_by_id())
    table["test-relu-to"] = _WithOption
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)


def test_a_declared_option_reaches_the_pass_cli_and_advice(rw, with_test_pass, tmp_path):
    from trtforge.analyzer import check
    from trtforge.analyzer.cli.rewrite import build_parser, main

    assert "--relu-to" in build_parser().format_help()
    assert rw.apply(rw.parse(PLAIN), "test-relu-to").changed is False
    result = rw.apply(rw.parse(PLAIN), "test-relu-to", relu_to="Sigmoid")
    assert rw.ops(result.proto)["Sigmoid"] == 2
    model = tmp_path / "m.onnx"
    model.write_bytes(rw.parse(PLAIN).SerializeToString())
    out = tmp_path / "o.onnx"
    assert (
        main(
            [
                str(model),
                "-o",
                str(out),
                "--test-relu-to",
                "--relu-to",
                "Sigmoid",
                "-q",
                "--no-verify",
            ]
        )
        == 0
    )
    assert rw.ops(__import__("onnx").load(str(out)))["Sigmoid"] == 2
    # advice runs the pass with its defaults: Relu stays Relu, so nothing is advised
    report = check(model, target="trt-10", backend="static")
    assert not [f for f in report.graph_findings if f.code == "advice/test-relu-to"]


def test_advice_is_read_from_the_declaration(rw, monkeypatch, tmp_path):
    class _Always(_WithOption):
        id = "test-always"
        options = ()

        def find(self, ctx):
            for node in list(ctx.graph.nodes):
                if node.op == "Relu":
                    yield Match(node.name or "relu", [node])

        def rewrite(self, match, ctx):
            match.nodes[0].op = "Sigmoid"

    from trtforge.analyzer import check

    table = dict(registry._passes_by_id())
    table["test-always"] = _Always
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    model = tmp_path / "m.onnx"
    model.write_bytes(rw.parse(PLAIN).SerializeToString())
    report = check(model, target="trt-10", backend="static")
    (finding,) = [f for f in report.graph_findings if f.code == "advice/test-always"]
    assert finding.message.startswith("1 replaceable Relu subgraph could each run as one Sigmoid")
    assert "--test-always" in finding.hint


def test_two_passes_declaring_one_option_differently_are_rejected(monkeypatch):
    class _Clash(_WithOption):
        id = "test-clash"
        options = (PassOption("relu_to", "Sigmoid", "other", choices=("Sigmoid",)),)

    table = dict(registry._passes_by_id())
    table["test-relu-to"] = _WithOption
    table["test-clash"] = _Clash
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    with pytest.raises(registry.DuplicatePassError, match="declared differently"):
        registry.declared_options()


def test_a_pass_option_can_require_a_newer_opset(rw):
    option = next(
        (cls, o)
        for cls in registry.pass_classes()
        for o in cls.options
        if o.choices and "onnx" in o.choices
    )
    cls, opt = option
    options = RewriteOptions(parse_target("trt-10"), **{opt.name: "onnx"})
    assert cls.required_opset(options) > 0
    assert cls.required_opset(RewriteOptions(parse_target("trt-10"))) == 0


@pytest.mark.parametrize("pass_id", PASS_IDS)
def test_no_match_leaves_the_model_untouched(rw, pass_id):
    model = rw.parse(PLAIN)
    before = model.SerializeToString()
    result = rw.apply(model, pass_id)
    assert not result.changed and result.proto is model
    assert model.SerializeToString() == before


class _Doubler(RewritePass):
    """Before: Relu. After: Relu twice (once per run until a marker exists). Skips: none."""

    id = "test-doubler"

    def find(self, ctx):
        for node in list(ctx.graph.nodes):
            if node.op == "Relu" and not node.name.startswith("test-doubler/"):
                yield Match(node.name or "relu", [node])

    def rewrite(self, match, ctx):
        node = match.nodes[0]
        out = node.outputs[0]
        base.detach(node)
        mid = ctx.variable("mid", dtype=out.dtype)
        ctx.node("Relu", node.inputs, [mid])
        ctx.node("Relu", [mid], [out])


def test_framework_names_new_nodes_and_reruns_to_a_fixed_point(rw, monkeypatch):
    table = dict(registry._passes_by_id())
    table["test-doubler"] = _Doubler
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    result = rw.apply(rw.parse(PLAIN), "test-doubler")
    names = [n.name for n in result.proto.graph.node]
    assert names[:2] == ["test-doubler/Relu_0", "test-doubler/Relu_1"]
    assert result.rounds == 2  # the second round finds nothing new
    assert result.passes["test-doubler"].applied == 1


class _Forever(_Doubler):
    id = "test-forever"

    def find(self, ctx):
        for node in list(ctx.graph.nodes):
            if node.op == "Relu":
                yield Match(node.name, [node])
                return


def test_a_pass_that_never_settles_is_an_internal_error(rw, monkeypatch):
    table = dict(registry._passes_by_id())
    table["test-forever"] = _Forever
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    with pytest.raises(RuntimeError, match="fixed point") as raised:
        rw.apply(rw.parse(PLAIN), "fold-constants", "test-forever")
    # the error names the pass that kept changing the graph, not only every pass run
    assert str(raised.value).endswith("(still changing the graph in the last: test-forever)")


def test_report_json_shape(rw):
    model = rw.parse("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y, float[2,1] mean) <float two = {2.0}, float eps = {1e-5}> {
     mean = ReduceMean<axes=[-1]>(x)
     d = Sub(x, mean)
     p = Pow(d, two)
     var = ReduceMean<axes=[-1]>(p)
     e = Add(var, eps)
     s = Sqrt(e)
     y = Div(d, s)
    }""")
    report = rw.apply(model, "fuse-layernorm", "fold-constants").to_json()
    assert report["changed"] is False
    assert report["passes"]["fuse-layernorm"]["applied"] == 0
    (skip,) = report["passes"]["fuse-layernorm"]["skipped"]
    assert set(skip) == {"anchor", "reason"} and "graph output" in skip["reason"]
    assert report["passes"]["fold-constants"] == {"applied": 0, "skipped": []}


def test_max_rounds_is_bounded():
    assert 2 <= manager.MAX_ROUNDS <= 16


def test_graph_outputs_keep_their_shape_through_a_rewrite():
    """A pass that makes a new tensor under an output's name (typed, not shaped) would leave
    the output without the shape onnx.checker requires: the export gives it back the shape
    the model had (a rewrite keeps what the model computes)."""
    import onnx_graphsurgeon as gs

    from trtforge.analyzer.rewrite.manager import _export

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[N, 4] x) => (float[N, 4] y) { t = Relu (x)  y = Neg (t) }"""
    )
    graph = gs.import_onnx(model)
    neg = graph.nodes[1]
    fresh = gs.Variable("y", dtype=np.float32)  # what a pass replacing the node might make
    neg.outputs = [fresh]
    graph.outputs = [fresh]
    out = _export(graph, model, {"": 17})
    assert [d.dim_param or d.dim_value for d in out.graph.output[0].type.tensor_type.shape.dim] == [
        "N",
        4,
    ]
    onnx.checker.check_model(out)


def test_a_new_output_gets_its_shape_from_inference():
    """An output the original did not have (a pass added it) and that has no shape gets the
    one shape inference finds before the model is written (`_shape_io`)."""
    from trtforge.analyzer.rewrite.api import _shape_io

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[N, 4] x) => (float y) { y = Relu (x) }"""
    )
    del model.graph.output[0].type.tensor_type.shape.dim[:]
    model.graph.output[0].type.tensor_type.ClearField("shape")
    with pytest.raises(onnx.checker.ValidationError, match="shape"):
        onnx.checker.check_model(model)
    _shape_io(model)
    dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 4]
    onnx.checker.check_model(model)


def test_a_4bit_constant_a_pass_read_is_exported_packed(rw):
    # requantize reads the INT4 table's values (graphsurgeon then holds them one to a byte);
    # when another pass changes the graph, the export wrote them unpacked and raised
    table = onnx.helper.make_tensor(
        "table", onnx.TensorProto.INT4, [16, 8], np.arange(128) % 16 - 8
    )
    scale = onnx.numpy_helper.from_array(np.full((1, 8), 0.1, np.float32), "scale")
    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node(
                "DequantizeLinear", ["table", "scale"], ["dq"], axis=0, block_size=16
            ),
            onnx.helper.make_node("Identity", ["dq"], ["copy"]),
            onnx.helper.make_node("Gather", ["copy", "ids"], ["y"], axis=0),
        ],
        "g",
        [onnx.helper.make_tensor_value_info("ids", onnx.TensorProto.INT64, [2, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3, 8])],
        [table, scale],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    result = rw.apply(model, "requantize", "fold-constants")
    assert result.changed and rw.ops(result.proto)["Identity"] == 0
    onnx.checker.check_model(result.proto, full_check=True)
    packed = next(t for t in result.proto.graph.initializer if t.name == "table")
    assert packed.data_type == onnx.TensorProto.INT4 and len(packed.raw_data) == 64
    rw.same(model, result.proto)
