"""The one place that imports TensorRT (``tensorrt``) or TensorRT-RTX (``tensorrt_rtx``).

Temporary home: the analyzer owners are writing ``trtforge.analyzer.trt`` with the same job;
this module will be merged into it. Kept small on purpose:

* :func:`flavour` — ``"tensorrt"``, ``"tensorrt_rtx"`` or ``None`` (what is installed; the
  environment variable ``TRTFORGE_TRT_FLAVOUR`` picks one when both are), without importing it;
* :func:`import_trt` — the module;
* :func:`version` — its version string;
* :func:`ensure_rtx_loadable` — the TensorRT-RTX library-name fix.

The TensorRT-RTX library-name problem (DESIGN.md): the PyPI wheel ships
``tensorrt_rtx_libs/libtensorrt_rtx.so.1`` but not ``libtensorrt_rtx.so``, which the RTX ONNX
parser ``dlopen``\\ s as soon as it imports any plugin; without it the process aborts
("terminate called without an active exception"). Preloading with ctypes does not help, and
the dynamic loader reads ``LD_LIBRARY_PATH`` only at process start. So trtforge never touches
the installed wheel; it makes a private directory (``$XDG_CACHE_HOME/trtforge/rtx-libs-<ver>``,
else ``~/.cache/...``) holding the symlink ``libtensorrt_rtx.so -> .../libtensorrt_rtx.so.1``
and then either

* re-executes the current process with that directory first on ``LD_LIBRARY_PATH``
  (what the CLIs do: ``trt-build`` users never see the abort), or
* where re-executing is not allowed (a library call inside someone's process), raises
  :class:`RtxLibraryError` naming the ``export LD_LIBRARY_PATH=...`` line to run first.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

FLAVOURS = ("tensorrt", "tensorrt_rtx")
_REEXEC_MARK = "TRTFORGE_RTX_REEXEC"


class RtxLibraryError(RuntimeError):
    """TensorRT-RTX cannot load plugins in this process (missing ``libtensorrt_rtx.so``)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message = message
        self.hint = hint


def flavour() -> str | None:
    """Which TensorRT Python package is installed (not imported), or ``None``."""
    wanted = os.environ.get("TRTFORGE_TRT_FLAVOUR")
    if wanted in FLAVOURS:
        return wanted if importlib.util.find_spec(wanted) is not None else None
    for name in FLAVOURS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def import_trt(name: str | None = None):
    """Import and return ``tensorrt`` or ``tensorrt_rtx`` (``name`` or :func:`flavour`)."""
    name = name or flavour()
    if name is None:
        raise ImportError("neither tensorrt nor tensorrt_rtx is installed")
    return importlib.import_module(name)


def version(name: str | None = None) -> str | None:
    """The installed version of the flavour, without importing it."""
    from importlib import metadata

    name = name or flavour()
    if name is None:
        return None
    for dist in (name.replace("_", "-"), name.replace("_", "-") + "-cu13", name.replace("_", "-") + "-cu12"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return getattr(import_trt(name), "__version__", None)


def _rtx_libs_dir() -> Path | None:
    spec = importlib.util.find_spec("tensorrt_rtx_libs")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _on_loader_path(libname: str) -> bool:
    for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if d and (Path(d) / libname).exists():
            return True
    return False


def rtx_fix_needed() -> bool:
    """True when TensorRT-RTX's plugin loading would abort this process."""
    libs = _rtx_libs_dir()
    if libs is None:
        return False
    if (libs / "libtensorrt_rtx.so").exists() or _on_loader_path("libtensorrt_rtx.so"):
        return False
    return any(libs.glob("libtensorrt_rtx.so.*"))


def rtx_fix_dir() -> Path:
    """Create (once) and return the private directory holding ``libtensorrt_rtx.so``."""
    libs = _rtx_libs_dir()
    if libs is None:
        raise RtxLibraryError("tensorrt_rtx_libs is not installed", "pip install tensorrt-rtx")
    target = sorted(libs.glob("libtensorrt_rtx.so.*"))[0]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    d = cache / "trtforge" / f"rtx-libs-{version('tensorrt_rtx') or 'unknown'}"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        import tempfile

        d = Path(tempfile.gettempdir()) / f"trtforge-rtx-libs-{os.getuid()}"
        d.mkdir(parents=True, exist_ok=True)
    link = d / "libtensorrt_rtx.so"
    if not link.exists() or link.resolve() != target.resolve():
        tmp = d / f".libtensorrt_rtx.so.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)
    return d


def ensure_rtx_loadable(reexec: bool = False) -> None:
    """Make TensorRT-RTX able to load plugins, before it is imported.

    Args:
        reexec: re-execute the process (``sys.orig_argv``) with the fix on
            ``LD_LIBRARY_PATH``; only for programs that own their process (the CLIs).

    Raises:
        RtxLibraryError: the fix is needed and ``reexec`` is False (or re-executing already
            happened and did not help).
    """
    if flavour() != "tensorrt_rtx" or not rtx_fix_needed():
        return
    d = rtx_fix_dir()
    if reexec and not os.environ.get(_REEXEC_MARK):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(d), env.get("LD_LIBRARY_PATH", "")) if p
        )
        env[_REEXEC_MARK] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)
    raise RtxLibraryError(
        "TensorRT-RTX would abort this process when it loads a plugin: its wheel lacks "
        "libtensorrt_rtx.so (only libtensorrt_rtx.so.1 is installed)",
        f"start Python with the fix on the loader path: export LD_LIBRARY_PATH={d}:$LD_LIBRARY_PATH "
        "(trt-build does this by itself)",
    )
