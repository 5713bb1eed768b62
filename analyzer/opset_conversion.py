"""ONNX's opset version converter, with the semantics it loses put back.

`onnx.version_converter` maps `Upsample` (opsets 7-9) and `Resize` (opset 10) to the Resize
of opset 11 and later without the attributes that keep their meaning: Resize-11 and later
default to `coordinate_transformation_mode="half_pixel"` and `nearest_mode=
"round_prefer_floor"`, where the older ops sample at asymmetric coordinates and take the
floor (onnxruntime computes both forms so: a linear upsample off by up to 1.9, a nearest one
at a non-integer scale picking other pixels). A converted model then computes something
else — trt-quantize wrote such models with exit 0 (its accuracy report compared against the
converted float model), and `--upgrade-opset` failed its verification.

`convert_version` gives every Resize of a model converted from below opset 11 those two
attributes (the converted nodes are the only Resizes such a model has), in its graph and in
its bodies; the result equals the original's outputs (tests/test_opset_conversion.py).
"""

from __future__ import annotations

import onnx

from trtforge.analyzer.loading import iter_nodes

#: the first opset whose Resize has coordinate_transformation_mode and nearest_mode.
RESIZE_MODES_SINCE = 11


def convert_version(model: onnx.ModelProto, target: int) -> onnx.ModelProto:
    """`onnx.version_converter.convert_version(model, target)`, its Resize nodes made to
    compute what the model's Upsample/Resize computed (module docstring).

    Raises:
        What the converter raises.
    """
    from onnx import version_converter

    source = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    converted = version_converter.convert_version(model, target)
    if source < RESIZE_MODES_SINCE <= target:
        for node in iter_nodes(converted.graph.node):
            if node.op_type == "Resize" and node.domain in ("", "ai.onnx"):
                _asymmetric_floor(node)
    return converted


def _asymmetric_floor(node: onnx.NodeProto) -> None:
    """Sets the old ops' sampling on a converted Resize (where the converter set none)."""
    present = {a.name for a in node.attribute}
    if "coordinate_transformation_mode" not in present:
        node.attribute.append(
            onnx.helper.make_attribute("coordinate_transformation_mode", "asymmetric")
        )
    if "nearest_mode" not in present:
        node.attribute.append(onnx.helper.make_attribute("nearest_mode", "floor"))
