"""NonZero: the indices of the non-zero elements, under the name TensorRT-RTX's importer asks for.

TensorRT-RTX's ONNX parser imports the standard ``NonZero`` op by creating the IPluginV3 plugin
``NonZero``, version ``"1"``, empty namespace, with no fields and the op's one input; it uses the
plugin's first output as the node's output, an INT64 tensor ``[rank, count]`` (observed with
TensorRT-RTX 1.7.1: "NonZero plugin creator version 1 was not found in plugin registry" without
one; with a creator registered under that key the unchanged node imports — see
tests/plugins/test_rtx_importer_plugins.py). RTX ships no such plugin; this is it. ``count`` is
data-dependent: the second output is its size tensor, bounded by the input's element count.
"""

from __future__ import annotations

from trtforge.plugins.spec import PluginSpec, TensorSpec, Tolerance

INPUT_TYPES = ("float32", "float16", "bfloat16", "int32", "int64", "int8", "uint8", "bool")


def reference(inputs):
    import numpy as np

    (x,) = inputs
    idx = np.stack(np.nonzero(np.asarray(x) != 0)) if x.ndim else np.zeros((0, int(x != 0)))
    return [idx.astype(np.int64), np.array(idx.shape[1], dtype=np.int64)]


def output_shapes(in_shapes, attrs, dims):
    (shape,) = in_shapes
    total = dims.const(1)
    for d in shape:
        total = total * d
    return [[dims.const(len(shape)), dims.size(1, total)], []]


def test_inputs(rng):
    import numpy as np

    cases = []
    for t in INPUT_TYPES:
        dtype = np.bool_ if t == "bool" else t
        if t == "bfloat16":
            import ml_dtypes

            dtype = ml_dtypes.bfloat16
        for shape in ((37,), (5, 7, 3), (2, 3, 4, 5)):
            x = (rng.random(shape) < 0.3) * rng.integers(1, 5, size=shape)
            cases.append(([x.astype(dtype)], {}))
    cases.append(([np.zeros((4, 6), np.float32)], {}))  # nothing non-zero: count 0
    cases.append(([np.ones((1000, 3), np.float32)], {}))  # everything: count = size
    return cases


SPEC = PluginSpec(
    name="NonZero",
    version="1",
    namespace="",
    inputs=(TensorSpec("X", "tensor of any rank"),),
    outputs=(
        TensorSpec("Y", "int64 [rank(X), count]: the indices of X's non-zero elements"),
        TensorSpec("count", "int64 scalar: the number of non-zero elements", size_tensor=True),
    ),
    attributes=(),
    type_combinations=tuple((t, "int64", "int64") for t in INPUT_TYPES),
    tolerances={"int64": Tolerance(rtol=0, atol=0)},
    reference=reference,
    doc=(
        "ONNX NonZero for TensorRT-RTX, whose parser imports NonZero through this plugin.\n\n"
        "Y[:, k] is the index of the k-th non-zero element of X in row-major order; the "
        "second output holds count, a data-dependent extent (size tensor, at most X's size)."
    ),
    output_shapes=output_shapes,
    test_inputs=test_inputs,
)
