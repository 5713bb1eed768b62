"""A node of very many inputs (a Concat of 12,000 tensors) is judged on each of them.

The checks of such a node read every input's facts once and compare the few distinct
types and shapes among them (`NodeContext.input_facts`, `validity.type_mismatch`): the one
input that differs is still found, and named as it was when each input was looked at.
"""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer.api import check

WIDTH = 12_000  # past TensorRT's concatenation limit (MAX_CONCAT_INPUTS): one finding always


def _wide_concat(odd_dtype: int = TensorProto.FLOAT, odd_shape=("N", 4)) -> onnx.ModelProto:
    """A Concat (axis 0) of WIDTH Relus of `x` [N, 4]; the last input is a graph input of
    `odd_dtype` and `odd_shape` instead."""
    nodes = [helper.make_node("Relu", ["x"], [f"r{i}"]) for i in range(WIDTH - 1)]
    names = [f"r{i}" for i in range(WIDTH - 1)] + ["odd"]
    nodes.append(helper.make_node("Concat", names, ["y"], name="wide", axis=0))
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("odd", odd_dtype, list(odd_shape)),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _concat_codes(model: onnx.ModelProto) -> tuple[list[str], list]:
    verdict = check(model, target="rtx-1", backend="static").nodes[-1]
    assert verdict.op_type == "Concat"
    return sorted(f.code for f in verdict.reasons), verdict.reasons


def test_inputs_alike_leave_only_the_input_count() -> None:
    codes, _ = _concat_codes(_wide_concat())
    assert codes == ["concat/input-count"]


def test_one_input_of_another_type_is_found_among_thousands() -> None:
    codes, reasons = _concat_codes(_wide_concat(odd_dtype=TensorProto.INT32))
    assert "invalid/inconsistent-types" in codes
    finding = next(f for f in reasons if f.code == "invalid/inconsistent-types")
    assert f"inputs 0 and {WIDTH - 1}" in finding.message
    assert "FLOAT and INT32" in finding.message


@pytest.mark.parametrize(
    ("odd_shape", "why"),
    [(("N", 5), "differ on axis 1 (dims [4, 5])"), (("N", 4, 1), "inputs of different ranks")],
)
def test_one_input_of_another_shape_is_found_among_thousands(odd_shape, why) -> None:
    codes, reasons = _concat_codes(_wide_concat(odd_shape=odd_shape))
    assert "concat/shapes-mismatch" in codes
    finding = next(f for f in reasons if f.code == "concat/shapes-mismatch")
    assert why in finding.message
    # every input's shape is listed, as for a narrow Concat
    assert finding.message.count("['N', 4]") == WIDTH - 1
