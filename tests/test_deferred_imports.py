"""protobuf's text and JSON formats, which `import onnx` loads and a check never uses, load
only when first used (`lazy.defer_imports`): ~35 ms of every trt-check's start-up. Deferred,
they must still work wherever onnx or anyone else uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("google.protobuf.text_format", "google.protobuf.json_format")


def _run(script: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def test_deferred_formats_load_when_used():
    script = (
        "import sys\n"
        "from trtforge.analyzer.lazy import defer_imports\n"
        "defer_imports()\n"
        "import onnx\n"
        f"print(*[type(sys.modules[m]).__name__ for m in {FORMATS!r}])\n"
        "model = onnx.helper.make_model(onnx.helper.make_graph([], 'named', [], []))\n"
        "import google.protobuf.json_format, google.protobuf.text_format\n"
        "from google.protobuf import json_format\n"
        "print('json' if 'named' in json_format.MessageToJson(model) else 'no-json')\n"
        "text = google.protobuf.text_format.MessageToString(model)\n"
        "print('text' if 'named' in text else 'no-text')\n"
        "copy = onnx.ModelProto()\n"
        "google.protobuf.text_format.Parse(text, copy)\n"
        "print('parsed' if copy == model else 'differs')\n"
    )
    assert _run(script) == ["_Deferred", "_Deferred", "json", "text", "parsed"]


def test_an_already_imported_or_missing_module_is_left_alone():
    script = (
        "import sys, google.protobuf.json_format as loaded\n"
        "from trtforge.analyzer.lazy import defer_imports\n"
        "defer_imports(('google.protobuf.json_format', 'no_such_module.at_all'))\n"
        "print(sys.modules['google.protobuf.json_format'] is loaded)\n"
        "print('no_such_module.at_all' in sys.modules)\n"
    )
    assert _run(script) == ["True", "False"]


def test_trt_check_does_not_load_them():
    """The command checks a model without ever using them (its exit is replaced here by a
    print of what the modules are at that point)."""
    model = REPO / "examples" / "transformer_block.onnx"
    script = (
        "import os, sys\n"
        "from trtforge.analyzer.cli import check\n"
        "def exit_now(code):\n"
        f"    print(code, *[type(sys.modules[m]).__name__ for m in {FORMATS!r}], flush=True)\n"
        "    os._exit(0)\n"
        "check.exit_now = exit_now\n"
        f"sys.argv = ['trt-check', {str(model)!r}, '--backend', 'static', '-o', os.devnull]\n"
        "check.console_main()\n"
    )
    assert _run(script)[1:] == ["_Deferred", "_Deferred"]
