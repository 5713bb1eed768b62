"""fuse-gelu: erf and tanh GELU → Gelu where the opset and the target allow it."""

from __future__ import annotations

import pytest

ERF = """
     c = Constant<value = float {1.4142135}>()
     q = Div(x, c)
     e = Erf(q)
     a = Add(e, one)
     m = Mul(x, a)
     y = Mul(m, half)
"""
ERF_MUL_FIRST = """
     c = Constant<value = float {0.70710678}>()
     q = Mul(x, c)
     e = Erf(q)
     a = Add(one, e)
     hx = Mul(half, x)
     y = Mul(hx, a)
"""
TANH = """
     three = Constant<value = float {3.0}>()
     x3 = Pow(x, three)
     k = Constant<value = float {0.044715}>()
     p = Mul(k, x3)
     s = Add(x, p)
     r = Constant<value = float {0.7978845608}>()
     u = Mul(s, r)
     th = Tanh(u)
     a = Add(th, one)
     hx = Mul(x, half)
     y = Mul(hx, a)
"""
TANH_CUBE_MUL = """
     x2 = Mul(x, x)
     x3 = Mul(x2, x)
     k = Constant<value = float {0.044715}>()
     p = Mul(x3, k)
     s = Add(p, x)
     r = Constant<value = float {0.7978845608}>()
     u = Mul(r, s)
     th = Tanh(u)
     a = Add(th, one)
     m = Mul(a, x)
     y = Mul(m, half)
"""


def model(body, opset=20, outputs=""):
    return f"""<ir_version: 9, opset_import: ["" : {opset}]>
    g (float[2,8] x) => (float[2,8] y{outputs}) <float one = {{1.0}}, float half = {{0.5}}> {{
     {body}
    }}"""


@pytest.mark.parametrize(
    "body,approximate",
    [(ERF, "none"), (ERF_MUL_FIRST, "none"), (TANH, "tanh"), (TANH_CUBE_MUL, "tanh")],
    ids=["erf-div", "erf-mul", "tanh-pow", "tanh-cube-mul"],
)
def test_fuses_where_supported(rw, no_kb_gelu, body, approximate):
    original = rw.parse(model(body))
    result = rw.apply(original, "fuse-gelu")
    (node,) = result.proto.graph.node
    assert node.op_type == "Gelu" and node.name.startswith("fuse-gelu/")
    assert {a.name: a.s.decode() for a in node.attribute}["approximate"] == approximate
    rw.same(original, result.proto)
    assert not rw.apply(result.proto, "fuse-gelu").changed


def test_left_as_is_below_opset_20(rw, no_kb_gelu):
    original = rw.parse(model(ERF, opset=17))
    result = rw.apply(original, "fuse-gelu")
    assert result.proto is original
    assert "opset 20" in result.passes["fuse-gelu"].skips[0].reason


def test_left_as_is_when_target_parser_lacks_gelu(rw, monkeypatch):
    from trtforge.analyzer.rewrite import emit

    monkeypatch.setattr(emit, "op_supported", lambda op, target: False)
    result = rw.apply(rw.parse(model(ERF)), "fuse-gelu")
    assert not result.changed
    assert "does not import Gelu" in result.passes["fuse-gelu"].skips[0].reason


def test_intermediate_used_elsewhere(rw, no_kb_gelu):
    result = rw.apply(rw.parse(model(ERF, outputs=", float[2,8] e")), "fuse-gelu")
    assert not result.changed
    assert "'e' is a graph output" in result.passes["fuse-gelu"].skips[0].reason


@pytest.mark.parametrize("constant", ["one", "half", "c"])
def test_a_constant_that_widens_the_result_is_not_fused(rw, no_kb_gelu, constant):
    # a constant shaped [1, 1, 1] makes the rank-2 GELU rank 3; one Gelu node would not
    body = ERF
    inits = "<float one = {{1.0}}, float half = {{0.5}}>"
    if constant == "c":
        body = ERF.replace("float {1.4142135}", "float[1,1,1] {1.4142135}")
    else:
        inits = inits.replace(f"float {constant}", f"float[1,1,1] {constant}")
    text = model(body).replace("float[2,8] y", "float[1,2,8] y")
    text = text.replace("<float one = {1.0}, float half = {0.5}>", inits.format())
    result = rw.apply(rw.parse(text), "fuse-gelu")
    assert not result.changed


@pytest.mark.parametrize(
    "old,new",
    [("half = {0.5}", "half = {0.501}"), ("one = {1.0}", "one = {1.001}")],
    ids=["half", "one"],
)
def test_a_factor_that_is_not_exactly_the_constant_is_not_fused(rw, no_kb_gelu, old, new):
    # 0.5 and 1 scale the output directly: 0.501 is not a GELU (it was fused within 1e-3)
    text = model(ERF_MUL_FIRST).replace(old, new)
    assert new in text
    assert not rw.apply(rw.parse(text), "fuse-gelu").changed


def test_constants_printed_to_five_digits_are_fused(rw, no_kb_gelu):
    # 1/sqrt(2) as 0.70711 (what the docstring shows exporters write): within tolerance
    text = model(ERF_MUL_FIRST.replace("0.70710678", "0.70711"))
    original = rw.parse(text)
    result = rw.apply(original, "fuse-gelu")
    assert [n.op_type for n in result.proto.graph.node] == ["Gelu"]
    rw.same(original, result.proto)
