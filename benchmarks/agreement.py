"""Agreement of the static knowledge base with the installed TensorRT ONNX parser.

Prints recall and precision of unsupported nodes and whole-model verdict agreement, then
every disagreement, and writes them to a JSON file (default: agreement.json). Needs
tensorrt-rtx (`pip install tensorrt-rtx`); the parser's verdicts are cached by model sha256.

    python benchmarks/agreement.py [--json FILE] [--fresh] [--out DIR] [--only TEXT]

Same as `python -m trtforge.analyzer.oracle --json agreement.json` (see its --help).
"""

from __future__ import annotations

import sys

from trtforge.analyzer.oracle.__main__ import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--json" not in args:
        args = ["--json", "agreement.json", *args]
    sys.exit(main(args))
