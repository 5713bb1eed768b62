"""Each normalization plugin's (X, weights..., axis) NumPy reference against its ONNX
decomposition run by onnxruntime (the fused residual ones: tests/plugins/test_skipnorm.py)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from trtforge.plugins import all_plugins

SPECS = [
    s for s in all_plugins() if s.decomposition and any(a.name == "axis" for a in s.attributes)
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize(
    "shape,axis",
    [((4, 768), -1), ((2, 3, 127), -1), ((2, 3, 4, 5), 1), ((6, 1), 1), ((3, 8, 16), -2)],
)
def test_reference_matches_decomposition(spec, shape, axis):
    import onnxruntime as ort

    rank = len(shape)
    a = axis + rank if axis < 0 else axis
    wshape = shape[a:]
    node = spec.make_node([t.name for t in spec.inputs], ["Y"], epsilon=1e-3, axis=axis)
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, shape)] + [
        helper.make_tensor_value_info(t.name, TensorProto.FLOAT, wshape) for t in spec.inputs[1:]
    ]
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, shape)]
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(spec.namespace, 1)],
        functions=[spec.function_proto()],
        ir_version=9,  # onnx 1.23 writes IR 14 by default; older onnxruntime refuse it
    )
    rng = np.random.default_rng(sum(shape) + a)
    feeds = {"X": rng.normal(3, 2, shape).astype(np.float32)}
    for t in spec.inputs[1:]:
        feeds[t.name] = rng.normal(1, 0.5, wshape).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, feeds)
    (ref,) = spec.reference([v.astype(np.float64) for v in feeds.values()], epsilon=1e-3, axis=axis)
    tol = spec.tolerances["float32"]
    np.testing.assert_allclose(got, ref, rtol=tol.rtol, atol=tol.atol)
