"""fuse-rmsnorm: T5 and LLaMA RMSNorm fused; the output op follows the target and options."""

from __future__ import annotations

import numpy as np
import pytest

from trtforge.analyzer.rewrite.verify import run_model

W = "<float[8] w = {1,2,3,4,5,6,7,8}, float two = {2.0}, float eps = {1e-6}, float one = {1.0}>"


def t5(opset=17):
    axes_in = ", ax" if opset >= 18 else ""
    axes_attr = "" if opset >= 18 else "<axes=[-1]>"
    # T5LayerNorm as the TorchScript exporter emits it: rsqrt = Div(1, Sqrt(.))
    return f"""<ir_version: 9, opset_import: ["" : {opset}]>
    g (float[2,3,8] x) => (float[2,3,8] y) {W} {{
     ax = Constant<value = int64[1] {{-1}}>()
     p = Pow(x, two)
     var = ReduceMean{axes_attr}(p{axes_in})
     e = Add(var, eps)
     s = Sqrt(e)
     r = Div(one, s)
     n = Mul(x, r)
     y = Mul(w, n)
    }}"""


def llama_fp16():
    # LlamaRMSNorm in fp16: hidden.to(float32) ... weight * hidden.to(float16)
    return """<ir_version: 9, opset_import: ["" : 17]>
    g (float16[2,8] x16) => (float16[2,8] y) <float16[8] w = {1,2,3,4,5,6,7,8}, float eps = {1e-6}> {
     x = Cast<to=1>(x16)
     p = Mul(x, x)
     var = ReduceMean<axes=[-1]>(p)
     e = Add(var, eps)
     s = Sqrt(e)
     r = Reciprocal(s)
     n = Mul(x, r)
     n16 = Cast<to=10>(n)
     y = Mul(w, n16)
    }"""


def test_t5_fuses_to_plugin_when_target_lacks_rmsnormalization(rw):
    model = rw.parse(t5())
    result = rw.apply(model, "fuse-rmsnorm")
    (node,) = result.proto.graph.node
    assert (node.op_type, node.domain) == ("RMSNorm", "trtforge")
    assert list(node.input) == ["x", "w"]
    assert node.name.startswith("fuse-rmsnorm/")
    x = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32)
    ours = run_model(result.proto, {"x": x})["y"]
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * np.arange(1, 9)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    assert not rw.apply(result.proto, "fuse-rmsnorm").changed


@pytest.mark.plugins_not_built
def test_auto_fuses_nothing_an_install_without_the_plugin_cannot_build(rw):
    """--auto took fuse-rmsnorm from the performance advice and wrote trtforge::RMSNorm nodes
    on an install without the plugin's kernels: a Llama export that built became one that
    does not ("Plugin not found"). Auto now leaves such a norm decomposed and says why;
    the ONNX op, chosen explicitly, is still written."""
    model = rw.parse(t5(opset=17))
    result = rw.apply(model, "fuse-rmsnorm")
    assert not result.changed
    (skip,) = result.passes["fuse-rmsnorm"].skips
    assert "kernels are not built" in skip.reason and "--rmsnorm-impl onnx" in skip.reason
    assert rw.ops(rw.apply(model, "fuse-rmsnorm", rmsnorm_impl="onnx").proto) == {
        "RMSNormalization": 1
    }


def test_onnx_op_where_the_knowledge_base_allows(rw, no_kb_gelu):
    model = rw.parse(t5(opset=23))
    result = rw.apply(model, "fuse-rmsnorm")
    assert rw.ops(result.proto) == {"RMSNormalization": 1}
    rw.same(model, result.proto)


def test_rmsnorm_impl_onnx_converts_the_opset(rw):
    model = rw.parse(t5(opset=17))
    result = rw.apply(model, "fuse-rmsnorm", rmsnorm_impl="onnx")
    assert rw.ops(result.proto) == {"RMSNormalization": 1}
    assert {o.domain: o.version for o in result.proto.opset_import}[""] == 23
    rw.same(model, result.proto)


def test_fp16_llama_cast_island(rw):
    model = rw.parse(llama_fp16())
    result = rw.apply(model, "fuse-rmsnorm", rmsnorm_impl="plugin")
    counts = rw.ops(result.proto)
    assert counts["RMSNorm"] == 1 and counts["Cast"] == 2 and counts["Mul"] == 0
    rw.same(model, result.proto)


def test_layernorm_is_left_to_fuse_layernorm(rw):
    model = rw.parse("""<ir_version: 9, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] n) <float two = {2.0}, float eps = {1e-5}> {
     mean = ReduceMean<axes=[-1]>(x)
     d = Sub(x, mean)
     p = Pow(d, two)
     var = ReduceMean<axes=[-1]>(p)
     e = Add(var, eps)
     s = Sqrt(e)
     n = Div(d, s)
    }""")
    result = rw.apply(model, "fuse-rmsnorm")
    assert not result.changed and result.passes["fuse-rmsnorm"].applied == 0


def test_shared_intermediate_is_skipped(rw):
    text = t5().replace("=> (float[2,3,8] y)", "=> (float[2,3,8] y, float[2,3,1] r)")
    result = rw.apply(rw.parse(text), "fuse-rmsnorm")
    (skip,) = result.passes["fuse-rmsnorm"].skips
    assert "'r' is a graph output" in skip.reason
    assert not result.changed


@pytest.mark.parametrize("axes", ["<axes=[1]>"])
def test_non_trailing_axis_is_skipped(rw, axes):
    text = t5().replace("<axes=[-1]>", axes)
    assert axes in text
    result = rw.apply(rw.parse(text), "fuse-rmsnorm")
    assert "trailing" in result.passes["fuse-rmsnorm"].skips[0].reason


@pytest.mark.parametrize("constant", ["two", "eps", "one"])
def test_a_constant_that_widens_the_result_is_not_fused(rw, constant):
    # a constant shaped [1, 1, 1, 1] makes the rank-3 norm rank 4; one RMSNorm would not
    text = t5().replace(f"float {constant} =", f"float[1,1,1,1] {constant} =")
    text = text.replace("float[2,3,8] y", "float[1,2,3,8] y")
    result = rw.apply(rw.parse(text), "fuse-rmsnorm")
    assert not result.changed


def test_a_weight_of_more_dims_stays_outside(rw):
    text = (
        t5().replace("float[8] w", "float[1,1,1,8] w").replace("float[2,3,8] y", "float[1,2,3,8] y")
    )
    model = rw.parse(text)
    result = rw.apply(model, "fuse-rmsnorm")
    assert rw.ops(result.proto)["RMSNorm"] == 1 and rw.ops(result.proto)["Mul"] == 1
    rw.same(model, result.proto)
