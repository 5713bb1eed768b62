"""trt-plugin new: a scaffolded plugin builds (native library + extension) and its tests pass.

Copies the source tree's CMake/csrc/plugins into a temporary directory, scaffolds a plugin
there, compiles csrc/ for one architecture (TRTFORGE_CUDA_ARCHITECTURES, default 89-real), and
runs the generated test file against that build. Needs nvcc and cmake (skipped otherwise).
TensorRT headers come from TensorRT_ROOT, an importable kernel-lens, or the wheel CMake
downloads; without any, only the extension is built and the native-library tests skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _plugin_helpers import REPO, run_cli


def _trt_headers() -> str | None:
    root = os.environ.get("TensorRT_ROOT")
    if root and (Path(root) / "include" / "NvInferRuntime.h").is_file():
        return str(Path(root) / "include")
    spec = importlib.util.find_spec("kernel_lens")
    if spec and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "include" / "tensorrt"
        if (p / "NvInferRuntime.h").is_file():
            return str(p)
    return os.environ.get("TRTFORGE_TRT_INCLUDE_DIR")


def test_scaffolded_plugin_builds_and_passes(tmp_path):
    if not (shutil.which("nvcc") and shutil.which("cmake")):
        pytest.skip("needs nvcc and cmake")
    headers = _trt_headers()
    root = tmp_path / "src"
    root.mkdir()
    for item in ("CMakeLists.txt", "pyproject.toml", "csrc", "plugins"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / item)
    (root / "tests" / "plugins").mkdir(parents=True)
    for f in ("conftest.py", "_plugin_helpers.py"):
        shutil.copy(REPO / "tests" / "plugins" / f, root / "tests" / "plugins" / f)

    proc = run_cli("trtforge.plugins.cli.plugin", "new", "ScaffoldProbe", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert (root / "csrc" / "scaffold_probe" / "scaffold_probe_kernel.cu").is_file()

    build = root / "build"
    archs = os.environ.get("TRTFORGE_CUDA_ARCHITECTURES", "89-real")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    for cmd in (
        [
            "cmake",
            "-S",
            str(root),
            "-B",
            str(build),
            *gen,
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DTRTFORGE_CUDA_ARCHITECTURES={archs}",
            f"-DPython_EXECUTABLE={sys.executable}",
            *([f"-DTRTFORGE_TRT_INCLUDE_DIR={headers}"] if headers else []),
        ],
        ["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)],
        ["cmake", "--install", str(build), "--prefix", str(root / ".dev")],
    ):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    shim = root / ".dev" / "trtforge"
    (shim / "plugins").symlink_to(root / "plugins", target_is_directory=True)
    # the plugin CLIs share the analyzer's CLI helpers; the scaffold does not change them
    if not (shim / "analyzer").exists():
        (shim / "analyzer").symlink_to(REPO / "analyzer", target_is_directory=True)
    if (shim / "lib" / "plugins.txt").is_file():  # the native library was built
        assert "trtforge ScaffoldProbe 1" in (shim / "lib" / "plugins.txt").read_text()
    assert list(shim.glob("_C.*")), "the extension was not built"

    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(root / ".dev"), os.environ.get("PYTHONPATH", "")]),
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(root / "tests" / "plugins" / "test_scaffold_probe.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "failed" not in r.stdout
    if not (shim / "lib" / "plugins.txt").is_file():
        return
    # the plugin host drives the scaffolded plugin through the IPluginV3 lifecycle, as TensorRT
    # would, from the native library just built (it skips without a GPU)
    shutil.copy(REPO / "tests" / "plugins" / "test_plugin_host.py", root / "tests" / "plugins")
    shutil.copytree(REPO / "tests" / "plugins" / "host", root / "tests" / "plugins" / "host")
    if headers:
        env["TRTFORGE_TRT_INCLUDE_DIR"] = headers
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            "-k",
            "ScaffoldProbe",
            str(root / "tests" / "plugins" / "test_plugin_host.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    print(r.stdout[-2000:])
