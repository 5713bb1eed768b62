"""`kb/ops/_shape_values.reshape_dims`: a Reshape's -1 computed among symbolic dims, as
TensorRT computes it, where ONNX's inference leaves it unknown."""

from __future__ import annotations

import onnx.parser
import pytest

from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.inference import infer_types
from trtforge.analyzer.kb.ops._shape_values import reshape_dims


def _dims(body: str, inputs: str = "float[N,16,32] x", extra: str = "") -> tuple | None:
    model = onnx.parser.parse_model(
        f"""<ir_version: 8, opset_import: ["": 17]>
        g ({inputs}) => (float y)
          <int64 zero = {{0}}, int64[1] ax = {{0}}, int64[1] one = {{1}}, int64[1] big = {{9}}{extra}>
        {{ t = Transpose<perm=[0,2,1]>(x)
          s = Shape(t)
          {body}
          y = Reshape(t, shape) }}"""
    )
    graph = GraphView(model.graph, infer_types(model))
    return reshape_dims(graph, "y")


@pytest.mark.parametrize(
    ("body", "extra", "want"),
    [
        # Concat(Shape(t)[0], [-1, 4, 4]): the batch cancels, 32·16/16 = 32
        (
            "b = Gather<axis=0>(s, zero)\n b1 = Unsqueeze(b, ax)\n"
            " shape = Concat<axis=0>(b1, rest)",
            ", int64[3] rest = {-1,4,4}",
            ("N", 32, 4, 4),
        ),
        # 0 copies the input's dim; a Slice of the shape
        ("b1 = Slice(s, zero1, one)\n shape = Concat<axis=0>(b1, rest)",
         ", int64[1] zero1 = {0}, int64[3] rest = {-1,4,4}", ("N", 32, 4, 4)),
        ("shape = Identity(rest)", ", int64[4] rest = {0,-1,4,4}", ("N", 32, 4, 4)),
    ],
)  # fmt: skip
def test_resolved(body, extra, want):
    assert _dims(body, extra=extra) == want


def test_a_minus_one_of_symbols_that_do_not_cancel_stays_unknown():
    body = "b = Gather<axis=0>(s, zero)\n b1 = Unsqueeze(b, ax)\n shape = Concat<axis=0>(b1, rest)"
    assert _dims(body, "float[N,S,32] x", ", int64[3] rest = {-1,4,4}") is None


def test_a_minus_one_that_does_not_divide_stays_unknown():
    body = "b = Gather<axis=0>(s, zero)\n b1 = Unsqueeze(b, ax)\n shape = Concat<axis=0>(b1, rest)"
    assert _dims(body, extra=", int64[3] rest = {-1,5,5}") is None


def test_a_value_it_cannot_follow_resolves_nothing():
    """An entry computed from tensor data (ReduceMax of the input) may be anything."""
    body = (
        "m = ReduceMax<keepdims=0>(x)\n c = Cast<to=7>(m)\n c1 = Unsqueeze(c, ax)\n"
        " shape = Concat<axis=0>(c1, rest)"
    )
    assert _dims(body, extra=", int64[3] rest = {-1,4,4}") is None
