"""trt-rewrite: graph passes (onnx-graphsurgeon) that make a model TensorRT-friendly, verified
numerically with onnxruntime before anything is written.

    from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
    result = rewrite_model(proto, ["fuse-layernorm"], RewriteOptions(target))
"""

from __future__ import annotations

from trtforge.analyzer.rewrite.base import Match, PassContext, RewriteOptions, RewritePass
from trtforge.analyzer.rewrite.manager import RewriteResult, rewrite_model
from trtforge.analyzer.rewrite.registry import all_passes, passes_removing

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
