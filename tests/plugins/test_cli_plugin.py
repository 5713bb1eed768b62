"""trt-plugin and the CLIs' -h without heavy modules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _plugin_helpers import run_cli

HEAVY = ("tensorrt", "tensorrt_rtx", "cupy", "torch", "onnxruntime")


@pytest.mark.parametrize("module", ["trtforge.plugins.cli.build", "trtforge.plugins.cli.plugin"])
def test_help_works_without_heavy_modules(module):
    code = (
        "import sys, runpy\n"
        f"for m in {HEAVY!r}: sys.modules[m] = None  # import fails if attempted\n"
        f"sys.argv = ['x', '-h']\n"
        f"runpy.run_module({module!r}, run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_list_json():
    proc = run_cli("trtforge.plugins.cli.plugin", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {(r["namespace"], r["name"], r["version"]) for r in json.loads(proc.stdout)}
    assert ("trtforge", "LayerNorm", "1") in rows and ("trtforge", "RMSNorm", "1") in rows


def test_test_unknown_plugin_exit_2():
    proc = run_cli("trtforge.plugins.cli.plugin", "test", "NoSuchPlugin")
    assert proc.returncode == 2
    assert "no plugin trtforge::NoSuchPlugin" in proc.stderr and "Hint:" in proc.stderr


def test_new_rejects_bad_names(tmp_path):
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "bad-name", "--root", str(tmp_path))
    assert proc.returncode == 2 and "CamelCase" in proc.stderr
    proc = run_cli("trtforge.plugins.cli.plugin", "new", "Good", "--root", str(tmp_path))
    assert proc.returncode == 2 and "no trtforge source tree" in proc.stderr
