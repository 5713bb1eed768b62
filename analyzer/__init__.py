"""trtforge.analyzer: will this ONNX model build with TensorRT, and if not, what do I change?

The public API is small:

    from trtforge.analyzer import check
    report = check("model.onnx", target="trt-10", backend="static")
    print(report.supported, report.summary)
"""

from __future__ import annotations

from trtforge.analyzer.api import check
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import LoadedModel, load_model
from trtforge.analyzer.report import NodeVerdict, Report
from trtforge.analyzer.targets import Target, default_target, parse_target

__all__ = [
    "LoadedModel",
    "NodeVerdict",
    "Report",
    "Target",
    "UserError",
    "check",
    "default_target",
    "load_model",
    "parse_target",
]
