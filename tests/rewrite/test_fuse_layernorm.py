"""fuse-layernorm: every exporter variant fused, unsafe matches skipped with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from trtforge.analyzer.rewrite.verify import run_model

HEAD = '<ir_version: 8, opset_import: ["" : {opset}]>'
AFFINE = "<float[8] gamma = {1,2,3,4,5,6,7,8}, float[8] beta = {0,0,0,1,1,1,2,2}>"


def ln_model(
    square="p = Pow(d, two)",
    inv="n = Div(d, s)",
    opset=17,
    affine=True,
    eps="eps = Constant<value = float {1e-5}>()",
    axes="<axes=[-1]>",
    axes_in="",
    extra_out="",
    extra="",
    add="e = Add(var, eps)",
):
    tail = "y = Mul(n, gamma)\n z = Add(y, beta)" if affine else "z = Identity(n)"
    return f"""{HEAD.format(opset=opset)}
    g (float[2,3,8] x) => (float[2,3,8] z{extra_out}) {AFFINE} {{
     {axes_in}
     mean = ReduceMean{axes}(x{", ax" if axes_in else ""})
     d = Sub(x, mean)
     two = Constant<value = float {{2.0}}>()
     {square}
     var = ReduceMean{axes}(p{", ax" if axes_in else ""})
     {eps}
     {add}
     s = Sqrt(e)
     {inv}
     {tail}
     {extra}
    }}"""


VARIANTS = {
    "pow-div": {},
    "mul-square": {"square": "p = Mul(d, d)"},
    "reciprocal": {"inv": "r = Reciprocal(s)\n n = Mul(d, r)"},
    "eps-first": {"add": "e = Add(eps, var)"},
    "gamma-first": {"inv": "n = Div(d, s)\n y = Mul(gamma, n)", "affine": False},
    "twin-sub": {"inv": "d2 = Sub(x, mean)\n n = Div(d2, s)"},
    "no-affine": {"affine": False},
    "opset18-axes-input": {
        "opset": 18,
        "axes": "",
        "axes_in": "ax = Constant<value = int64[1] {-1}>()",
    },
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_fuse_to_layernormalization(rw, variant):
    model = rw.parse(ln_model(**VARIANTS[variant]))
    result = rw.apply(model, "fuse-layernorm")
    assert result.passes["fuse-layernorm"].applied == 1
    counts = rw.ops(result.proto)
    assert counts["LayerNormalization"] == 1
    assert counts["ReduceMean"] == 0 and counts["Sqrt"] == 0
    node = next(n for n in result.proto.graph.node if n.op_type == "LayerNormalization")
    assert node.name.startswith("fuse-layernorm/")
    if VARIANTS[variant].get("affine", True):
        assert list(node.input[1:]) == ["gamma", "beta"]
        assert counts["Mul"] == 0 and counts["Add"] == 0
    rw.same(model, result.proto)
    again = rw.apply(result.proto, "fuse-layernorm")
    assert not again.changed and again.proto is result.proto


def test_epsilon_from_initializer_and_rsqrt_pow(rw):
    text = ln_model(inv="r = Pow(e, mhalf)\n n = Mul(r, d)", eps="")
    text = text.replace("s = Sqrt(e)", "").replace(
        "float[8] beta = {0,0,0,1,1,1,2,2}>",
        "float[8] beta = {0,0,0,1,1,1,2,2}, float eps = {1e-3}, float mhalf = {-0.5}>",
    )
    model = rw.parse(text)
    result = rw.apply(model, "fuse-layernorm")
    node = next(n for n in result.proto.graph.node if n.op_type == "LayerNormalization")
    eps = next(a.f for a in node.attribute if a.name == "epsilon")
    assert eps == pytest.approx(1e-3)
    rw.same(model, result.proto)


def test_multiple_trailing_axes(rw):
    model = rw.parse(ln_model(axes="<axes=[-2,-1]>", affine=False))
    result = rw.apply(model, "fuse-layernorm")
    node = next(n for n in result.proto.graph.node if n.op_type == "LayerNormalization")
    assert next(a.i for a in node.attribute if a.name == "axis") == -2
    scale = next(t for t in result.proto.graph.initializer if t.name == node.input[1])
    assert list(scale.dims) == [3, 8]
    rw.same(model, result.proto)


def test_non_trailing_axes_skipped_with_reason(rw):
    model = rw.parse(
        ln_model(axes="<axes=[1]>", affine=False).replace("float[2,3,8] x", "float[2,3,8] x")
    )
    result = rw.apply(model, "fuse-layernorm")
    assert result.passes["fuse-layernorm"].applied == 0
    assert not result.changed and result.proto is model
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "not the trailing axes" in skip.reason


def test_intermediate_consumed_elsewhere_is_not_fused(rw):
    model = rw.parse(ln_model(extra_out=", float[2,3,1] w", extra="w = Mul(var, var)"))
    result = rw.apply(model, "fuse-layernorm")
    assert result.passes["fuse-layernorm"].applied == 0
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "'var'" in skip.reason and "consumed" in skip.reason
    assert result.proto is model


def test_intermediate_graph_output_is_not_fused(rw):
    model = rw.parse(ln_model(extra_out=", float[2,3,1] mean"))
    result = rw.apply(model, "fuse-layernorm")
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "'mean' is a graph output" in skip.reason
    assert not result.changed


def test_fp16_cast_island(rw):
    text = f"""{HEAD.format(opset=17)}
    g (float16[2,8] x16) => (float16[2,8] z) <float16[8] gamma = {{1,2,3,4,5,6,7,8}}, float16[8] beta = {{0,0,0,1,1,1,2,2}}> {{
     x = Cast<to=1>(x16)
     mean = ReduceMean<axes=[-1]>(x)
     d = Sub(x, mean)
     two = Constant<value = float {{2.0}}>()
     p = Pow(d, two)
     var = ReduceMean<axes=[-1]>(p)
     eps = Constant<value = float {{1e-5}}>()
     e = Add(var, eps)
     s = Sqrt(e)
     n = Div(d, s)
     n16 = Cast<to=10>(n)
     y = Mul(n16, gamma)
     z = Add(y, beta)
    }}"""
    model = rw.parse(text)
    result = rw.apply(model, "fuse-layernorm")
    counts = rw.ops(result.proto)
    assert counts["LayerNormalization"] == 1 and counts["Cast"] == 2
    assert counts["Mul"] == 0 and counts["Add"] == 0
    ln = next(n for n in result.proto.graph.node if n.op_type == "LayerNormalization")
    scale = next(t for t in result.proto.graph.initializer if t.name == ln.input[1])
    assert scale.data_type == 1  # computed in float32, as the island was
    rw.same(model, result.proto)


def test_plugin_below_opset_17(rw):
    model = rw.parse(ln_model(opset=14))
    result = rw.apply(model, "fuse-layernorm")
    (node,) = [n for n in result.proto.graph.node]
    assert (node.op_type, node.domain) == ("LayerNorm", "trtforge")
    attrs = {a.name: a for a in node.attribute}
    assert attrs["epsilon"].f == pytest.approx(1e-5) and attrs["axis"].i == -1
    assert {o.domain: o.version for o in result.proto.opset_import}["trtforge"] == 1
    x = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32)
    ours = run_model(result.proto, {"x": x})["z"]
    mean = x.mean(-1, keepdims=True)
    ref = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5)
    ref = ref * np.arange(1, 9) + np.array([0, 0, 0, 1, 1, 1, 2, 2])
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_plugin_on_request_and_onnx_with_conversion(rw):
    model = rw.parse(ln_model(opset=17))
    plugin = rw.apply(model, "fuse-layernorm", layernorm_impl="plugin")
    assert rw.ops(plugin.proto)["LayerNorm"] == 1
    old = rw.parse(ln_model(opset=14))
    converted = rw.apply(old, "fuse-layernorm", layernorm_impl="onnx")
    assert rw.ops(converted.proto)["LayerNormalization"] == 1
    assert {o.domain: o.version for o in converted.proto.opset_import}[""] == 17
    assert any("opset 14 to 17" in n for n in converted.notes)
    rw.same(old, converted.proto)


@pytest.mark.plugins_not_built
def test_auto_below_opset_17_fuses_nothing_without_the_plugin_s_kernels(rw):
    """Below opset 17 auto writes the trtforge LayerNorm plugin, which an install without its
    kernels cannot build: the norm stays decomposed (with the reason), as it builds."""
    old = rw.parse(ln_model(opset=14))
    result = rw.apply(old, "fuse-layernorm")
    assert not result.changed
    (skip,) = result.passes["fuse-layernorm"].skips
    assert "kernels are not built" in skip.reason and "--layernorm-impl onnx" in skip.reason
    assert rw.ops(rw.apply(old, "fuse-layernorm").proto) == rw.ops(old)
    assert rw.ops(rw.apply(rw.parse(ln_model()), "fuse-layernorm").proto) == {
        "LayerNormalization": 1
    }


def test_affine_that_does_not_fit_stays_outside(rw):
    # gamma of shape [3, 8] broadcasts over more than the normalized dim: not absorbed
    text = ln_model().replace(
        "float[8] gamma = {1,2,3,4,5,6,7,8}",
        "float[3,8] gamma = {" + ",".join(str(i % 7 + 1) for i in range(24)) + "}",
    )
    model = rw.parse(text)
    result = rw.apply(model, "fuse-layernorm")
    counts = rw.ops(result.proto)
    assert counts["LayerNormalization"] == 1 and counts["Mul"] == 1 and counts["Add"] == 1
    rw.same(model, result.proto)
    assert not rw.apply(result.proto, "fuse-layernorm").changed


#: constants of the pattern shaped [1, 1, 1, 1]: each broadcasts the rank-3 norm to rank 4
WIDENING = {
    "epsilon": ("float {1e-5}", "float[1,1,1,1] {1e-5}"),
    "exponent": ("float {2.0}", "float[1,1,1,1] {2.0}"),
}


@pytest.mark.parametrize("which", sorted(WIDENING))
def test_a_constant_that_widens_the_result_is_not_fused(rw, which):
    # one LayerNormalization keeps its input's rank: fusing would drop the broadcast
    old, new = WIDENING[which]
    text = ln_model().replace(old, new).replace("float[2,3,8] z", "float[1,2,3,8] z")
    model = rw.parse(text)
    result = rw.apply(model, "fuse-layernorm")
    assert not result.changed
    assert rw.ops(result.proto)["LayerNormalization"] == 0


def test_an_affine_parameter_of_more_dims_stays_outside(rw):
    # gamma [1, 1, 1, 8] on a rank-3 input: the norm is fused, the widening Mul/Add are not
    text = (
        ln_model()
        .replace("float[8] gamma", "float[1,1,1,8] gamma")
        .replace("float[2,3,8] z", "float[1,2,3,8] z")
    )
    model = rw.parse(text)
    result = rw.apply(model, "fuse-layernorm")
    counts = rw.ops(result.proto)
    assert counts["LayerNormalization"] == 1 and counts["Mul"] == 1 and counts["Add"] == 1
    rw.same(model, result.proto)
