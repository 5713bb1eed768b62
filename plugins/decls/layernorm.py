"""LayerNorm: y = (x - mean) / sqrt(var + epsilon) * gamma + beta over dims axis..last."""

from __future__ import annotations

from trtforge.plugins.decls._norm_common import (
    TOLERANCES,
    split,
    test_inputs,
    test_shapes,
    type_combinations,
)
from trtforge.plugins.spec import AttrSpec, PluginSpec, TensorSpec


def reference(inputs, epsilon: float, axis: int):
    import numpy as np

    x, gamma, beta = inputs
    a, rows, cols = split(x.shape, axis)
    x2 = x.reshape(rows, cols)
    mean = x2.mean(axis=1, keepdims=True)
    var = ((x2 - mean) ** 2).mean(axis=1, keepdims=True)
    y = (x2 - mean) / np.sqrt(var + epsilon) * gamma.reshape(1, cols) + beta.reshape(1, cols)
    return [y.reshape(x.shape)]


DECOMPOSITION = """
<domain: "trtforge", opset_import: ["" : 18]>
LayerNorm <epsilon: float = 0.00001, axis: int = -1> (X, gamma, beta) => (Y)
{
    shape = Shape (X)
    x2 = Flatten <axis: int = @axis> (X)
    one = Constant <value_ints = [1]> ()
    mean = ReduceMean (x2, one)
    d = Sub (x2, mean)
    sq = Mul (d, d)
    var = ReduceMean (sq, one)
    eps = Constant <value_float: float = @epsilon> ()
    epsc = CastLike (eps, var)
    ve = Add (var, epsc)
    std = Sqrt (ve)
    n = Div (d, std)
    flat = Constant <value_ints = [-1]> ()
    g = Reshape (gamma, flat)
    b = Reshape (beta, flat)
    gx = CastLike (g, n)
    bx = CastLike (b, n)
    s = Mul (n, gx)
    y2 = Add (s, bx)
    Y = Reshape (y2, shape)
}
"""

SPEC = PluginSpec(
    name="LayerNorm",
    version="1",
    namespace="trtforge",
    inputs=(
        TensorSpec("X", "input of any rank; normalized over dims axis..last"),
        TensorSpec("gamma", "scale, shape X.shape[axis:]"),
        TensorSpec("beta", "shift, shape X.shape[axis:]"),
    ),
    outputs=(TensorSpec("Y", "same shape and type as X"),),
    attributes=(
        AttrSpec("epsilon", "float", 1e-5, "added to the variance"),
        AttrSpec("axis", "int", -1, "first normalized dimension; dims axis..last are flattened"),
    ),
    type_combinations=type_combinations(2),
    tolerances=TOLERANCES,
    reference=reference,
    doc=(
        "Layer normalization over the trailing dimensions, float32 accumulation, one read of "
        "the input.\n\ny = (x - mean) / sqrt(var + epsilon) * gamma + beta, with mean and "
        "(biased) var taken over dims axis..last of X. Same as ONNX LayerNormalization with "
        "stash_type=1 and its default outputs."
    ),
    decomposition=DECOMPOSITION,
    test_shapes=test_shapes(2),
    test_attrs={"epsilon": 1e-5, "axis": -1},
    test_inputs=test_inputs(2, epsilon=1e-3),
)
