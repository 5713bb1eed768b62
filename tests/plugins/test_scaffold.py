"""trt-plugin new: a scaffolded plugin builds (native library + extension) and passes its own
tests and the whole generic plugin suite.

Copies the source tree's CMake/csrc/plugins into a temporary directory, scaffolds a plugin
there, compiles csrc/ for one architecture (TRTFORGE_CUDA_ARCHITECTURES, default 89-real), and
runs, against that build, the generated test file and every test module of tests/plugins that
runs over all declarations (those calling `all_plugins()`): the scaffold is tested on its own
declared data like every shipped plugin. Needs nvcc and cmake (skipped otherwise).
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

#: the generic plugin tests: every module that runs over all declared plugins.
GENERIC = sorted(
    p.name
    for p in (REPO / "tests" / "plugins").glob("test_*.py")
    if "all_plugins(" in p.read_text(encoding="utf-8") and p.name != Path(__file__).name
)


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
    for f in ("conftest.py", "_plugin_helpers.py", *GENERIC):
        shutil.copy(REPO / "tests" / "plugins" / f, root / "tests" / "plugins" / f)
    shutil.copytree(REPO / "tests" / "plugins" / "host", root / "tests" / "plugins" / "host")

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
    # (the build installed the analyzer's native modules there: its sources join them)
    shutil.copytree(
        REPO / "analyzer",
        shim / "analyzer",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    if (shim / "lib" / "plugins.txt").is_file():  # the native library was built
        assert "trtforge ScaffoldProbe 1" in (shim / "lib" / "plugins.txt").read_text()
    assert list(shim.glob("_C.*")), "the extension was not built"

    # trtforge in the test processes and their children = this build (an installed trtforge,
    # editable or not, must not answer for it): a sitecustomize maps the imports onto
    # .dev/trtforge with the tree's own codegen finder
    site = root / ".dev" / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import importlib.util, pathlib\n"
        f"root = pathlib.Path({str(root)!r})\n"
        "spec = importlib.util.spec_from_file_location('_codegen', root / 'plugins' / '_codegen.py')\n"
        "codegen = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(codegen)\n"
        "codegen.use_tree(root / '.dev' / 'trtforge')\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env.pop("TRTFORGE_PLUGIN_LIBRARY", None)  # this build's library, not one named outside
    if headers:  # the plugin host (a generic module) compiles against the same headers
        env["TRTFORGE_TRT_INCLUDE_DIR"] = headers
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(root / "tests" / "plugins"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "failed" not in r.stdout
    # the generic modules ran on the scaffold too, not only on the shipped plugins
    assert "test_reference_matches_decomposition[ScaffoldProbe]" in r.stdout, r.stdout[-3000:]
