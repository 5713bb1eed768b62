"""Fixes offered by trt-check name passes that exist, and those passes remove the finding."""

from __future__ import annotations

import onnx
import onnx.parser
import pytest

from trtforge.analyzer import check
from trtforge.analyzer.kb import all_rules
from trtforge.analyzer.rewrite.registry import all_passes

SIMPLIFIED_LN = """
<ir_version: 9, opset_import: ["" : 17]>
agraph (float[2, 8] x) => (float[2, 8] y) <float[8] g = {1., 1., 1., 1., 1., 1., 1., 1.}> {
    y = SimplifiedLayerNormalization <axis = -1, epsilon = 0.00001> (x, g)
}
"""


def test_static_fixes_name_existing_passes() -> None:
    passes = set(all_passes())
    for rule in all_rules():
        named = list(rule.fixes) + [f for limit in rule.attrs for f in limit.fixes]
        for fix in named:
            if fix.kind == "rewrite":
                assert fix.name in passes, f"{rule.op}: fix names unknown pass {fix.name}"


@pytest.mark.parametrize("target", ["trt-10", "trt-11"])
def test_op_without_importer_on_target_gets_the_removing_pass(target: str) -> None:
    """A default-domain contrib op with no importer on TensorRT gets decompose-contrib."""
    model = onnx.parser.parse_model(SIMPLIFIED_LN)
    node = check(model, target=target, backend="static").nodes[0]
    assert node.status == "unsupported"
    assert ("rewrite", "decompose-contrib") in {(f.kind, f.name) for f in node.fixes}
