"""RMSNorm: y = x / sqrt(mean(x^2) + epsilon) * gamma over dims axis..last."""

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

    x, gamma = inputs
    a, rows, cols = split(x.shape, axis)
    x2 = x.reshape(rows, cols)
    ms = (x2 * x2).mean(axis=1, keepdims=True)
    y = x2 / np.sqrt(ms + epsilon) * gamma.reshape(1, cols)
    return [y.reshape(x.shape)]


DECOMPOSITION = """
<domain: "trtforge", opset_import: ["" : 18]>
RMSNorm <epsilon: float = 0.000001, axis: int = -1> (X, gamma) => (Y)
{
    shape = Shape (X)
    x2 = Flatten <axis: int = @axis> (X)
    one = Constant <value_ints = [1]> ()
    sq = Mul (x2, x2)
    ms = ReduceMean (sq, one)
    eps = Constant <value_float: float = @epsilon> ()
    epsc = CastLike (eps, ms)
    me = Add (ms, epsc)
    rms = Sqrt (me)
    n = Div (x2, rms)
    flat = Constant <value_ints = [-1]> ()
    g = Reshape (gamma, flat)
    gx = CastLike (g, n)
    y2 = Mul (n, gx)
    Y = Reshape (y2, shape)
}
"""

SPEC = PluginSpec(
    name="RMSNorm",
    version="1",
    namespace="trtforge",
    inputs=(
        TensorSpec("X", "input of any rank; normalized over dims axis..last"),
        TensorSpec("gamma", "scale, shape X.shape[axis:]"),
    ),
    outputs=(TensorSpec("Y", "same shape and type as X"),),
    attributes=(
        AttrSpec("epsilon", "float", 1e-6, "added to the mean of squares"),
        AttrSpec("axis", "int", -1, "first normalized dimension; dims axis..last are flattened"),
    ),
    type_combinations=type_combinations(1),
    tolerances=TOLERANCES,
    reference=reference,
    doc=(
        "Root-mean-square normalization over the trailing dimensions, float32 accumulation, "
        "one read of the input.\n\ny = x / sqrt(mean(x^2) + epsilon) * gamma over dims "
        "axis..last of X (as torch.nn.functional.rms_norm and ONNX RMSNormalization-23)."
    ),
    decomposition=DECOMPOSITION,
    test_shapes=test_shapes(1),
    test_attrs={"epsilon": 1e-6, "axis": -1},
    test_inputs=test_inputs(1, epsilon=1e-3),
)
