"""Build a TensorRT engine from an ONNX model, registering the plugins it needs."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from trtforge.analyzer.cli._args import not_yet_available

    return not_yet_available("trt-build", "issue #4")


if __name__ == "__main__":
    sys.exit(main())
