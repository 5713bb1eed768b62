"""trt-rewrite: graph passes (onnx-graphsurgeon) that make a model TensorRT-friendly, verified
numerically with onnxruntime before anything is written.

    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    result = rewrite_model(proto, ["fuse-layernorm"], RewriteOptions(target))

Names are imported on first use (PEP 562), so discovering the passes (trt-rewrite's `-h`,
trt-check's "which pass removes this node") does not import the manager and its dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtforge.analyzer.lazy import lazy_exports

_EXPORTS = {
    "Match": "trtforge.analyzer.rewrite.base",
    "PassContext": "trtforge.analyzer.rewrite.base",
    "RewriteOptions": "trtforge.analyzer.rewrite.base",
    "RewritePass": "trtforge.analyzer.rewrite.base",
    "RewriteResult": "trtforge.analyzer.rewrite.manager",
    "rewrite_model": "trtforge.analyzer.rewrite.manager",
    "all_passes": "trtforge.analyzer.rewrite.registry",
    "passes_removing": "trtforge.analyzer.rewrite.registry",
}

__all__ = [
    "Match",
    "PassContext",
    "RewriteOptions",
    "RewritePass",
    "RewriteResult",
    "all_passes",
    "passes_removing",
    "rewrite_model",
]

if TYPE_CHECKING:
    from trtforge.analyzer.rewrite.base import Match, PassContext, RewriteOptions, RewritePass
    from trtforge.analyzer.rewrite.manager import RewriteResult, rewrite_model
    from trtforge.analyzer.rewrite.registry import all_passes, passes_removing

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
