"""One plugin lookup: trt-check, trt-build's catalog and registry check, rewrite emission and
verification answer "which plugin serves this node" with the same rule, per target."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from trtforge.analyzer.api import check
from trtforge.analyzer.plugin_lookup import find_declared, find_plugin, plugin_keys
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import run_model
from trtforge.analyzer.targets import parse_target
from trtforge.plugins import catalog, registry
from trtforge.plugins import find_plugin as find_spec

T10_0, T10_10, RTX = (parse_target(t) for t in ("trt-10.0", "trt-10.10", "rtx-1.7"))


def ln_node(**attrs) -> onnx.NodeProto:
    """A bare `trtforge::LayerNorm` node (domain only, unless attrs add more)."""
    return helper.make_node(
        "LayerNorm", ["x", "g", "b"], ["y"], name="ln", domain="trtforge", **attrs
    )


def ln_model(node: onnx.NodeProto) -> onnx.ModelProto:
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, f, s)
            for n, s in (("x", [2, 8]), ("g", [8]), ("b", [8]))
        ],
        [helper.make_tensor_value_info("y", f, [2, 8])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("trtforge", 1)]
    )
    onnx.checker.check_model(model)
    return model


def check_status(node: onnx.NodeProto, target) -> str:
    return _status(ln_model(node), target)


def _status(model: onnx.ModelProto, target) -> str:
    report = check(model, target, backend="static", advice=False)
    return report.nodes[0].status


def test_bare_domain_node_before_and_after_10_10():
    node = ln_node()
    spec = find_spec("LayerNorm")
    # TensorRT 10.0 ignores the domain: the parser looks up (LayerNorm, 1, "") only
    assert plugin_keys(node, T10_0) == [("LayerNorm", "1", "")]
    assert find_plugin(node, T10_0) is None
    assert catalog.find_for_node(node, T10_0) is None
    assert not spec.matches_node(node, T10_0)
    assert registry.plugin_nodes(ln_model(node), T10_0)[0][2] is None
    # 10.10 and every RTX retry with the domain as namespace
    for target in (T10_10, RTX):
        assert plugin_keys(node, target)[-1] == ("LayerNorm", "1", "trtforge")
        match = find_plugin(node, target)
        assert (match.name, match.namespace, match.origin) == ("LayerNorm", "trtforge", "trtforge")
        assert catalog.find_for_node(node, target) is spec
        assert spec.matches_node(node, target)
        assert registry.plugin_nodes(ln_model(node), target)[0][2] is spec


def test_check_verdicts_follow_the_target():
    node = ln_node()
    assert check_status(node, T10_0) == "unsupported"
    assert check_status(node, T10_10) == "plugin"
    # with plugin_namespace the old parser finds it too
    assert check_status(ln_node(plugin_namespace="trtforge"), T10_0) == "plugin"


@pytest.mark.parametrize("version", [1, "1", b"1"])
def test_plugin_version_int_or_string_read_alike(version):
    node = ln_node(plugin_version=version, plugin_namespace="trtforge")
    assert plugin_keys(node, T10_0) == [("LayerNorm", "1", "trtforge")]
    assert find_declared(node, T10_0) is find_spec("LayerNorm")
    assert find_plugin(node, T10_0).version == "1"


def test_other_version_is_another_plugin():
    node = ln_node(plugin_version=2)
    assert plugin_keys(node, RTX) == [("LayerNorm", "2", ""), ("LayerNorm", "2", "trtforge")]
    assert find_declared(node, RTX) is None


def test_find_missing_uses_the_targets_keys():
    class Registry:  # a registry holding only trtforge::LayerNorm v1
        def get_creator(self, name, version, namespace):
            return (
                object() if (name, version, namespace) == ("LayerNorm", "1", "trtforge") else None
            )

    model = ln_model(ln_node())
    assert registry.find_missing(Registry(), model, RTX) == []
    ((node, keys),) = registry.find_missing(Registry(), model, T10_0)
    assert keys == [("LayerNorm", "1", "")]


def _norm_model(opset: int) -> onnx.ModelProto:
    text = f"""<ir_version: 8, opset_import: ["" : {opset}]>
    g (float[2,3,8] x) => (float[2,3,8] z) {{
     mean = ReduceMean<axes=[-1]>(x)
     d = Sub(x, mean)
     p = Mul(d, d)
     var = ReduceMean<axes=[-1]>(p)
     eps = Constant<value = float {{1e-5}}>()
     e = Add(var, eps)
     s = Sqrt(e)
     z = Div(d, s)
    }}"""
    model = onnx.parser.parse_model(text)
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("target", ["trt-10.0", "trt-10.10"])
def test_emitted_plugin_node_is_found_by_that_targets_parser(target):
    """Rewrite emission writes what the target's parser needs, and check/verify find it."""
    t = parse_target(target)
    model = _norm_model(14)
    result = rewrite_model(model, ["fuse-layernorm"], RewriteOptions(t, layernorm_impl="plugin"))
    (node,) = [n for n in result.proto.graph.node if n.op_type == "LayerNorm"]
    has_ns = any(a.name == "plugin_namespace" for a in node.attribute)
    assert has_ns == (t.version < (10, 10))
    assert find_declared(node, t) is find_spec("LayerNorm")
    assert _status(result.proto, t) == "plugin"
    x = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32)
    ours = run_model(result.proto, {"x": x})["z"]
    mean = x.mean(-1, keepdims=True)
    ref = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_verification_reads_int_version_and_namespace_attr():
    node = ln_node(plugin_version=1, plugin_namespace="trtforge", epsilon=1e-5)
    rng = np.random.default_rng(1)
    feeds = {
        "x": rng.standard_normal((2, 8)).astype(np.float32),
        "g": rng.standard_normal(8).astype(np.float32),
        "b": rng.standard_normal(8).astype(np.float32),
    }
    y = run_model(ln_model(node), feeds)["y"]
    x = feeds["x"]
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref * feeds["g"] + feeds["b"], rtol=1e-4, atol=1e-4)


def test_a_call_of_a_local_function_is_no_plugin_but_its_body_may_hold_one():
    """The parser imports a node whose op_type names a model-local function as the function's
    body: trt-build refused every such model ("plugin name=F ... is not registered"). A plugin
    node inside the body is still one."""
    target = parse_target("rtx-1")
    leaky = helper.make_function(
        "local", "F", ["a"], ["b"], [helper.make_node("LeakyRelu", ["a"], ["b"], alpha=0.3)],
        [helper.make_opsetid("", 17)],
    )  # fmt: skip
    custom = helper.make_function(
        "local", "G", ["a"], ["b"], [helper.make_node("MyOp", ["a"], ["b"], domain="acme")],
        [helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)],
    )  # fmt: skip
    graph = helper.make_graph(
        [
            helper.make_node("F", ["x"], ["t"], domain="local", name="call_f"),
            helper.make_node("G", ["t"], ["y"], domain="local", name="call_g"),
        ],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1),
                       helper.make_opsetid("acme", 1)],
        functions=[leaky, custom],
    )  # fmt: skip
    found = [node.op_type for _, node, _ in registry.plugin_nodes(model, target)]
    assert found == ["MyOp"]
