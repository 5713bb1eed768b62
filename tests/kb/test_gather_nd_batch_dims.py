"""GatherND's batch_dims must lie in [0, min(rank(data), rank(indices))): outside it the parser
refuses the node (batch_dims=-100 makes it compute a 102-dim output) and ONNX's own inference
crashes, so validity alone cannot tell. Cases as TensorRT-RTX 1.7.1's parser judged them."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import check


@pytest.mark.parametrize(
    "batch_dims, indices_shape, supported",
    [
        (0, (2, 1), True),
        (1, (3, 1), True),
        (2, (3, 4, 1), True),
        (-1, (2, 1), False),
        (-100, (2, 1), False),
        (3, (3, 4, 1), False),  # = min(rank 3, rank 3)
        (3, (3, 4, 5, 1), False),  # = rank(data)
    ],
)
def test_batch_dims_range(batch_dims, indices_shape, supported):
    indices = numpy_helper.from_array(np.zeros(indices_shape, np.int64), "i")
    node = helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=batch_dims, name="g")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [indices],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for target in ("rtx-1", "trt-10"):
        report = check(model, target=target, backend="static")
        codes = {r.code for n in report.nodes for r in n.reasons}
        assert report.supported == supported, codes
        assert ("gathernd/batch-dims" in codes) == (not supported)
