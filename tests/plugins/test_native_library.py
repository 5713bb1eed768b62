"""The native plugin library: exports getCreators/setLoggerFinder, not linked to TensorRT."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from trtforge.plugins import all_plugins, catalog, is_available


def test_exports_only_the_plugin_entry_points(native_lib):
    if shutil.which("nm") is None:
        pytest.skip("nm not installed")
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(native_lib)], capture_output=True, text=True
    ).stdout
    names = {line.split()[-1] for line in out.splitlines() if " T " in line}
    assert {"getCreators", "setLoggerFinder"} <= names
    assert not [
        n for n in names if n not in ("getCreators", "setLoggerFinder") and not n.startswith("_")
    ]


def test_not_linked_against_tensorrt(native_lib):
    if shutil.which("ldd") is None:
        pytest.skip("ldd not installed")
    out = subprocess.run(["ldd", str(native_lib)], capture_output=True, text=True).stdout
    assert "nvinfer" not in out and "tensorrt" not in out
    assert "libcudart" not in out  # CUDA runtime linked statically


def test_manifest_and_is_available(native_lib):
    """Every declaration has a kernel folder, so the library holds every declared plugin."""
    built = (native_lib.parent / "plugins.txt").read_text().split("\n")
    for spec in all_plugins():
        namespace = spec.namespace or '""'
        assert f"{namespace} {spec.name} {spec.version}" in built, spec.key
        assert is_available(spec)


def test_rtx_loads_library_in_subprocess(rtx, native_lib):
    """load_library, creators visible (in a child: the RTX fix needs a fresh loader path)."""
    import sys

    code = (
        "from trtforge.plugins import _trt\n"
        "_trt.ensure_rtx_loadable(reexec=True)\n"
        "trt = _trt.import_trt('tensorrt_rtx')\n"
        "from trtforge.plugins import register\n"
        "r = register(backend='native', trt=trt)\n"
        "reg = trt.get_plugin_registry()\n"
        "mine = [c for c in reg.all_creators if c.plugin_namespace == 'trtforge']\n"
        "print(sorted((c.name, c.plugin_version, c.plugin_namespace) for c in mine))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for spec in all_plugins():
        if spec.namespace == "trtforge":
            assert repr(spec.key) in proc.stdout, spec.key


def test_extension_lists_the_same_plugins():
    if catalog.extension_path() is None:
        pytest.skip("trtforge._C was not built")
    from trtforge import _C

    declared = {f"{s.namespace}::{s.name}/{s.version}" for s in all_plugins()}
    assert declared <= set(_C.plugins())
