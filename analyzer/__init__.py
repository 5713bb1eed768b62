"""trtforge.analyzer: will this ONNX model build with TensorRT, and if not, what do I change?

The public API is small:

    from trtforge.analyzer import check
    report = check("model.onnx", target="trt-10", backend="static")
    print(report.supported, report.summary)

    result = rewrite_file("model.onnx", "fixed.onnx", auto=True, target="trt-10")
    print(result.written, result.report["auto"])

Names are imported on first use (PEP 562), so `import trtforge.analyzer.cli…` — and every
CLI's `-h` — does not pay for importing onnx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtforge.analyzer.lazy import lazy_exports

_EXPORTS = {
    "LoadedModel": "trtforge.analyzer.loading",
    "ModelSession": "trtforge.analyzer.session",
    "NodeVerdict": "trtforge.analyzer.report",
    "Report": "trtforge.analyzer.report",
    "Target": "trtforge.analyzer.targets",
    "UserError": "trtforge.analyzer.errors",
    "check": "trtforge.analyzer.api",
    "default_target": "trtforge.analyzer.targets",
    "load_model": "trtforge.analyzer.loading",
    "parse_target": "trtforge.analyzer.targets",
    "rewrite_file": "trtforge.analyzer.rewrite.api",
}

__all__ = [
    "LoadedModel",
    "ModelSession",
    "NodeVerdict",
    "Report",
    "Target",
    "UserError",
    "check",
    "default_target",
    "load_model",
    "parse_target",
    "rewrite_file",
]

if TYPE_CHECKING:
    from trtforge.analyzer.api import check
    from trtforge.analyzer.errors import UserError
    from trtforge.analyzer.loading import LoadedModel, load_model
    from trtforge.analyzer.report import NodeVerdict, Report
    from trtforge.analyzer.rewrite.api import rewrite_file
    from trtforge.analyzer.session import ModelSession
    from trtforge.analyzer.targets import Target, default_target, parse_target

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
