"""SkipLayerNorm / SkipRMSNorm: a residual add fused with the normalization that follows it.

onnxruntime's com.microsoft SkipLayerNormalization and SkipSimplifiedLayerNormalization: the sum
``s = input + skip (+ bias)`` is written out (the residual stream a pre-norm transformer keeps)
and ``y = LayerNorm(s)`` / ``RMSNorm(s)`` over the last dimension. One kernel reads input and
skip once and writes y and s once — against an Add then a norm, which write s, read it back and
write y (five tensor passes instead of four).

The plugins take every input (trt-rewrite fills an absent beta or bias with zeros, a
hidden-sized constant) and always write both outputs. ``skip`` may be broadcast over leading
dims as onnxruntime allows: shape (batch, seq, hidden), (1, seq, hidden) or (seq, hidden) —
X's trailing dims, with leading dims absent or 1. ``S`` is the sum rounded once to the I/O
type; ``Y`` normalizes the float32 sum (rows wider than 256 16-byte vectors: the rounded sum,
as onnxruntime's CUDA kernels do — hence a little more tolerance for 16-bit types).
"""

from __future__ import annotations

from trtforge.plugins.decls._norm_common import FLOATS, TOLERANCES
from trtforge.plugins.spec import AttrSpec, PluginSpec, TensorSpec, Tolerance

#: onnxruntime's default epsilon for both ops (contrib schema: kDefaultSkipLayerNormEpsilon)
DEFAULT_EPSILON = 1e-12


def _summed(x, skip, bias):
    """X + skip + bias as (rows, hidden); skip broadcasts to X as ONNX Add broadcasts it."""
    import numpy as np

    hidden = x.shape[-1]
    s = x + np.broadcast_to(skip, x.shape) + bias.reshape(hidden)
    return s.reshape(-1, hidden)


def reference_layer(inputs, epsilon: float):
    import numpy as np

    x, skip, gamma, beta, bias = inputs
    s = _summed(x, skip, bias)
    mean = s.mean(axis=1, keepdims=True)
    var = ((s - mean) ** 2).mean(axis=1, keepdims=True)
    y = (s - mean) / np.sqrt(var + epsilon) * gamma.reshape(1, -1) + beta.reshape(1, -1)
    return [y.reshape(x.shape), s.reshape(x.shape)]


def reference_rms(inputs, epsilon: float):
    import numpy as np

    x, skip, gamma, bias = inputs
    s = _summed(x, skip, bias)
    ms = (s * s).mean(axis=1, keepdims=True)
    y = s / np.sqrt(ms + epsilon) * gamma.reshape(1, -1)
    return [y.reshape(x.shape), s.reshape(x.shape)]


# The ONNX decompositions: the sum (skip broadcast over the leading rows, as Add broadcasts a
# (seq, hidden) or (1, seq, hidden) skip), then the norm over the last axis.
DECOMPOSITION_LAYER = """
<domain: "trtforge", opset_import: ["" : 18]>
SkipLayerNorm <epsilon: float = 0.000000000001> (X, skip, gamma, beta, bias) => (Y, S)
{
    xs = Add (X, skip)
    flat = Constant <value_ints = [-1]> ()
    bv = Reshape (bias, flat)
    S = Add (xs, bv)
    last = Constant <value_ints = [-1]> ()
    mean = ReduceMean (S, last)
    d = Sub (S, mean)
    sq = Mul (d, d)
    var = ReduceMean (sq, last)
    eps = Constant <value_float: float = @epsilon> ()
    epsc = CastLike (eps, var)
    ve = Add (var, epsc)
    std = Sqrt (ve)
    n = Div (d, std)
    g = Reshape (gamma, flat)
    b = Reshape (beta, flat)
    gx = CastLike (g, n)
    bx = CastLike (b, n)
    sc = Mul (n, gx)
    Y = Add (sc, bx)
}
"""

DECOMPOSITION_RMS = """
<domain: "trtforge", opset_import: ["" : 18]>
SkipRMSNorm <epsilon: float = 0.000000000001> (X, skip, gamma, bias) => (Y, S)
{
    xs = Add (X, skip)
    flat = Constant <value_ints = [-1]> ()
    bv = Reshape (bias, flat)
    S = Add (xs, bv)
    last = Constant <value_ints = [-1]> ()
    sq = Mul (S, S)
    ms = ReduceMean (sq, last)
    eps = Constant <value_float: float = @epsilon> ()
    epsc = CastLike (eps, ms)
    me = Add (ms, epsc)
    rms = Sqrt (me)
    n = Div (S, rms)
    g = Reshape (gamma, flat)
    gx = CastLike (g, n)
    Y = Mul (n, gx)
}
"""


#: The plain norms' tolerances, plus one rounding of the sum (half an ulp of |S| <= ~10) carried
#: through the normalization (times rstd * |gamma|) for the 16-bit types.
SKIP_TOLERANCES = {
    "float32": TOLERANCES["float32"],
    "float16": Tolerance(rtol=2e-3, atol=8e-3),
    "bfloat16": Tolerance(rtol=1e-2, atol=6e-2),
}


def _combos(n_weights: int) -> tuple[tuple[str, ...], ...]:
    """input, skip, weights..., bias, Y, S: the I/O type everywhere, or float32 weights."""
    out = []
    for t in FLOATS:
        out.append((t, t) + (t,) * n_weights + (t, t, t))
        if t != "float32":
            out.append((t, t) + ("float32",) * n_weights + (t, t, t))
    return tuple(out)


def _shapes(n_weights: int):
    def shapes(rows: int, hidden: int) -> list[tuple[int, ...]]:
        return [(rows, hidden), (rows, hidden)] + [(hidden,)] * (n_weights + 1)

    return shapes


_EPS = AttrSpec("epsilon", "float", DEFAULT_EPSILON, "added to the variance (mean of squares)")
_X = TensorSpec("X", "input (..., hidden); normalized over the last dim")
_SKIP = TensorSpec(
    "skip", "residual, shape of X or (seq, hidden) / (1, seq, hidden): broadcast over rows"
)
_BIAS = TensorSpec("bias", "added to the sum, shape (hidden,) (zeros when the node has none)")
_OUTS = (
    TensorSpec("Y", "the normalized sum, shape and type of X"),
    TensorSpec("S", "X + skip + bias, shape and type of X (onnxruntime's input_skip_bias_sum)"),
)

SKIP_LAYER_NORM = PluginSpec(
    name="SkipLayerNorm",
    version="1",
    namespace="trtforge",
    inputs=(
        _X,
        _SKIP,
        TensorSpec("gamma", "scale, shape (hidden,)"),
        TensorSpec("beta", "shift, shape (hidden,) (zeros when the node has none)"),
        _BIAS,
    ),
    outputs=_OUTS,
    attributes=(_EPS,),
    type_combinations=_combos(2),
    tolerances=SKIP_TOLERANCES,
    reference=reference_layer,
    doc=(
        "Residual add + layer normalization in one pass (onnxruntime SkipLayerNormalization).\n\n"
        "S = X + skip + bias; Y = (S - mean) / sqrt(var + epsilon) * gamma + beta over the "
        "last dim; float32 statistics; X and skip read once, Y and S written once."
    ),
    decomposition=DECOMPOSITION_LAYER,
    test_shapes=_shapes(2),
    test_attrs={"epsilon": 1e-5},
)

SKIP_RMS_NORM = PluginSpec(
    name="SkipRMSNorm",
    version="1",
    namespace="trtforge",
    inputs=(_X, _SKIP, TensorSpec("gamma", "scale, shape (hidden,)"), _BIAS),
    outputs=_OUTS,
    attributes=(_EPS,),
    type_combinations=_combos(1),
    tolerances=SKIP_TOLERANCES,
    reference=reference_rms,
    doc=(
        "Residual add + RMS normalization in one pass (onnxruntime "
        "SkipSimplifiedLayerNormalization).\n\nS = X + skip + bias; Y = S / sqrt(mean(S^2) + "
        "epsilon) * gamma over the last dim; float32 statistics; X and skip read once, Y and S "
        "written once."
    ),
    decomposition=DECOMPOSITION_RMS,
    test_shapes=_shapes(1),
    test_attrs={"epsilon": 1e-6},
)

SPECS = (SKIP_LAYER_NORM, SKIP_RMS_NORM)
