"""Agreement of the static knowledge base with the installed TensorRT ONNX parser.

Prints recall and precision of unsupported nodes and whole-model verdict agreement, then
every disagreement, for the acceptance corpus (onnx wheel models, onnx node test cases, the
project's fixtures) and writes them to `agreement.json`. With `--heldout` it then does the
same for the held-out variants (const, dynamic, fp16, opset, and torch exports with torch)
and writes `agreement-heldout.json`. Needs tensorrt-rtx; the parser's verdicts are cached.

    python benchmarks/agreement.py [--heldout] [--fresh] [--out-dir DIR]

The same as `python -m tools.oracle --json FILE [--sources ...]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tools/
from tools.oracle.__main__ import main  # noqa: E402


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true", help="also score the held-out variants")
    parser.add_argument("--fresh", action="store_true", help="recompute the parser's verdicts")
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where the JSON goes")
    args = parser.parse_args()
    common = ["--fresh"] if args.fresh else []
    status = main(["--json", str(args.out_dir / "agreement.json"), *common])
    if args.heldout:
        sources = "const,dynamic,fp16,opset" + (
            ",torch" if importlib.util.find_spec("torch") else ""
        )
        print()
        held = main(
            ["--json", str(args.out_dir / "agreement-heldout.json"), "--sources", sources, *common]
        )
        print(f"\nheld-out variants: {'PASS' if held == 0 else 'below threshold'}")
    return status


if __name__ == "__main__":
    sys.exit(run())
