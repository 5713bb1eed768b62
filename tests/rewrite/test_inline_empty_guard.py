"""inline-empty-guard: an If on "x has no elements" whose general branch computes data-dependent
shapes is replaced by that branch when onnxruntime shows it gives the If's result on empty and
non-empty x; any other If is left, with the reason."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from trtforge.analyzer.rewrite.registry import advised_passes

HEAD = """<ir_version: 8, opset_import: ["" : {opset}]>
g (float[N] x, float[N] s) => ({out} y) <int64 zero = {{0}}, float thr = {{0.0}},
    int64[1] ax = {{0}}, int64[1] minus = {{-1}}> {{
  {cond}
  y = If(c) <then_branch = t () => ({out} ty) {{ {then} }},
             else_branch = e () => ({out} ey) {{ {other} }}>
}}"""

EQUAL = "n = Size(x)\n  c = Equal(n, zero)"
#: the index list of the positive entries: NonZero of nothing is nothing
INDICES = "p = Greater(x, thr)\n nz = NonZero(p)\n ey = Squeeze(nz, ax)"
EMPTY_I64 = "ty = Constant <value = int64[0] {}> ()"


def model(cond=EQUAL, then=EMPTY_I64, other=INDICES, out="int64[?]", swap=False, opset=17):
    if swap:
        then, other = other.replace("ey", "ty"), then.replace("ty", "ey")
    text = HEAD.format(cond=cond, then=then, other=other, out=out, opset=opset)
    proto = onnx.parser.parse_model(text)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run(proto, x, s=None):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    s = np.zeros_like(x) if s is None else s
    return sess.run(None, {"x": x, "s": s})[0]


def assert_same_everywhere(original, rewritten):
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal(7), np.zeros(0), -np.ones(3), rng.standard_normal(1)):
        x = x.astype(np.float32)
        s = rng.standard_normal(x.shape).astype(np.float32)
        want, got = run(original, x, s), run(rewritten, x, s)
        assert want.dtype == got.dtype and want.shape == got.shape, (x, want, got)
        np.testing.assert_array_equal(want, got)


@pytest.mark.parametrize(
    "cond,swap",
    [
        (EQUAL, False),
        (
            "sh = Shape(x)\n  n = ReduceProd<keepdims=0>(sh)\n  e = Equal(zero, n)\n"
            "  c = Cast<to=9>(e)",
            False,
        ),
        ("sh = Shape(x)\n  d = Gather(sh, zero)\n  c = Equal(d, zero)", False),
        ("sh = Shape(x)\n  n = ReduceProd<keepdims=0>(sh, ax)\n  c = Equal(n, zero)", False),
        ("n = Size(x)\n  c = Greater(n, zero)", True),
        ("n = Size(x)\n  e = Equal(n, zero)\n  c = Not(e)", True),
    ],
    ids=[
        "size-equal",
        "reduceprod-shape-cast",
        "dim-equal",
        "reduceprod-axes-input",
        "greater",
        "not-equal",
    ],
)
def test_guard_forms_are_inlined(rw, cond, swap):
    original = model(cond=cond, swap=swap, opset=18 if "sh, ax" in cond else 17)
    result = rw.apply(original, "inline-empty-guard")
    assert result.passes["inline-empty-guard"].applied == 1
    ops = rw.ops(result.proto)
    assert "If" not in ops and ops["NonZero"] == 1
    onnx.checker.check_model(result.proto, full_check=True)
    assert_same_everywhere(original, result.proto)


def test_captured_tensors_of_the_same_length_are_emptied_in_the_proof(rw):
    """The branch reads x and s (same length): the proof empties both, as at run time."""
    other = INDICES.replace("ey = Squeeze(nz, ax)", "i = Squeeze(nz, ax)\n ey = Gather(s, i)")
    original = model(then="ty = Constant <value = float[0] {}> ()", other=other, out="float[?]")
    result = rw.apply(original, "inline-empty-guard")
    assert result.passes["inline-empty-guard"].applied == 1
    assert_same_everywhere(original, result.proto)


def test_branch_that_differs_on_empty_input_is_refused(rw):
    """On empty x the general branch returns [-1], not the guard's empty result."""
    other = INDICES.replace(
        "ey = Squeeze(nz, ax)", "i = Squeeze(nz, ax)\n ey = Concat<axis=0>(i, minus)"
    )
    result = rw.apply(model(other=other), "inline-empty-guard")
    stats = result.passes["inline-empty-guard"]
    assert stats.applied == 0 and not result.changed
    assert "on empty 'x' the branch differs" in stats.skips[0].reason


def test_branch_that_fails_on_empty_input_is_refused(rw):
    """Reshape to a fixed 2 elements runs on every non-empty sample but not on empty x."""
    other = "two = Constant <value = int64[1] {2}> ()\n r = Reshape(x, two)\n" + INDICES.replace(
        "ey = Squeeze(nz, ax)", "q = Squeeze(nz, ax)\n ey = Cast<to=7>(r)"
    )
    original = model(other=other, out="int64[?]")
    result = rw.apply(original, "inline-empty-guard")
    assert result.passes["inline-empty-guard"].applied == 0


def test_if_without_data_dependent_shapes_is_left(rw):
    result = rw.apply(model(other="ey = Cast<to=7>(x)"), "inline-empty-guard")
    stats = result.passes["inline-empty-guard"]
    assert stats.applied == 0 and "no data-dependent shape" in stats.skips[0].reason


def test_condition_that_is_not_an_emptiness_test_is_not_matched(rw):
    result = rw.apply(model(cond="n = Size(x)\n  c = Equal(n, n)"), "inline-empty-guard")
    assert result.passes["inline-empty-guard"].applied == 0
    assert not result.passes["inline-empty-guard"].skips


def test_advised_by_trt_check(tmp_path):
    from trtforge.analyzer.api import check

    assert "inline-empty-guard" in advised_passes()
    path = tmp_path / "m.onnx"
    onnx.save(model(), str(path))
    report = check(str(path), "rtx-1", backend="static")
    codes = {f.code for f in report.graph_findings}
    assert "advice/inline-empty-guard" in codes


def test_two_outputs(rw):
    """Both outputs of the If are taken over by the inlined nodes."""
    text = """<ir_version: 8, opset_import: ["" : 17]>
    g (float[N] x, float[N] s) => (int64[?] y, float[?] z) <int64 zero = {0}, float thr = {0.0},
        int64[1] ax = {0}> {
      n = Size(x)
      c = Equal(n, zero)
      y, z = If(c) <
        then_branch = t () => (int64[?] ty, float[?] tz) {
          ty = Constant <value = int64[0] {}> ()
          tz = Constant <value = float[0] {}> ()
        },
        else_branch = e () => (int64[?] ey, float[?] es) {
          p = Greater(x, thr)
          nz = NonZero(p)
          ey = Squeeze(nz, ax)
          es = Gather(s, ey)
        }>
    }"""
    original = onnx.parser.parse_model(text)
    onnx.checker.check_model(original, full_check=True)
    result = rw.apply(original, "inline-empty-guard")
    assert result.passes["inline-empty-guard"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    sess = [
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        for m in (original, result.proto)
    ]
    for n in (0, 5):
        feeds = {"x": np.linspace(-1, 1, n, dtype=np.float32), "s": np.ones(n, np.float32)}
        want, got = (s.run(None, feeds) for s in sess)
        for a, b in zip(want, got, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
