"""Rewrite an ONNX model so TensorRT accepts it (graph passes, verified with onnxruntime)."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from trtforge.analyzer.cli._args import not_yet_available

    return not_yet_available("trt-rewrite", "issue #3")


if __name__ == "__main__":
    sys.exit(main())
