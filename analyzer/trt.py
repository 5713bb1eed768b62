"""The one adapter over the installed TensorRT: `tensorrt` or `tensorrt_rtx`.

Everything in trtforge that needs TensorRT goes through here, so the choice of module (TensorRT
is preferred when both are installed) and the TensorRT-RTX library fix live in one place.

API:
    `flavour()`      "trt", "rtx" or None, without importing anything heavy.
    `import_trt()`   the imported module (raises UserError when none is installed).
    `version()`      the installed version string, e.g. "1.7.1.116".
    `target()`       the `Target` of the installed TensorRT (e.g. rtx-1.7).
    `parser_name()`  a label for reports, e.g. "TensorRT-RTX 1.7.1 ONNX parser".
    `logger()`       a TensorRT logger (one per process).
    `rtx_lib_dir()`  a private folder holding `libtensorrt_rtx.so` (see below), or None.
    `child_env()`    the environment a subprocess that imports TensorRT must start with.
    `rtx_fix_needed()` True when loading a plugin would abort this process (fix not in place).
    `ensure_rtx_loadable(reexec)` for programs that own their process: re-execute with the
                     fix, or raise `RtxLibraryError` (a UserError) naming the line to run.

`TRTFORGE_TRT_FLAVOUR` (`trt`/`tensorrt` or `rtx`/`tensorrt_rtx`) picks one when both are
installed.

The TensorRT-RTX fix: the `tensorrt-rtx` wheel ships `libtensorrt_rtx.so.1` but not the
unversioned `libtensorrt_rtx.so`, which its ONNX parser `dlopen`s when it imports a plugin;
without it the process aborts ("terminate called without an active exception"). Preloading
the library with ctypes does not help: the dynamic loader reads `LD_LIBRARY_PATH` only when a
process starts. So `rtx_lib_dir()` makes a symlink `libtensorrt_rtx.so -> <wheel>/
libtensorrt_rtx.so.1` in a private cache folder (never in site-packages), and `child_env()`
puts that folder first on `LD_LIBRARY_PATH` for the subprocesses that run the parser.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import NoReturn

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.targets import NEWEST_MINOR, Target

log = logging.getLogger("trtforge.trt")

_MODULES = (
    ("trt", "tensorrt", ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11")),
    ("rtx", "tensorrt_rtx", ("tensorrt-rtx", "tensorrt_rtx", "tensorrt-rtx-cu13")),
)
RTX_SONAME = "libtensorrt_rtx.so.1"
RTX_LINK = "libtensorrt_rtx.so"


_REEXEC_MARK = "TRTFORGE_RTX_REEXEC"


class RtxLibraryError(UserError):
    """TensorRT-RTX would abort this process when it loads a plugin (`libtensorrt_rtx.so`)."""


#: the module a command chose for its process (`choose`), over TRTFORGE_TRT_FLAVOUR.
_chosen = ""


def choose(name: str) -> None:
    """Uses TensorRT flavour `name` (`trt`/`tensorrt` or `rtx`/`tensorrt_rtx`) for the rest of
    this process, whatever TRTFORGE_TRT_FLAVOUR says: a command's own flag (`trt-build
    --flavour`), passed by call rather than through the environment. A re-executed command
    parses its flags, and chooses, again."""
    global _chosen
    _chosen = name
    _found.cache_clear()


@cache
def _found() -> tuple[str, str] | None:
    wanted = _chosen or os.environ.get("TRTFORGE_TRT_FLAVOUR", "")
    for family, module, _ in _MODULES:
        if wanted and wanted not in (family, module):
            continue
        if importlib.util.find_spec(module) is not None:
            return family, module
    return None


def flavour() -> str | None:
    """`"trt"` when `tensorrt` is importable, else `"rtx"` for `tensorrt_rtx`, else None."""
    found = _found()
    return found[0] if found else None


def module_name() -> str | None:
    """The import name of the TensorRT module in use (`tensorrt` or `tensorrt_rtx`)."""
    found = _found()
    return found[1] if found else None


def import_trt():
    """Imports and returns the TensorRT module in use.

    Raises:
        UserError: neither `tensorrt` nor `tensorrt_rtx` is installed.
    """
    name = module_name()
    if name is None:
        raise UserError(
            "the parser backend needs TensorRT, and neither tensorrt nor tensorrt_rtx is installed",
            "pip install tensorrt-rtx (its parser runs on CPU), or use --backend static",
        )
    import importlib

    return importlib.import_module(name)


@cache
def version() -> str | None:
    """The installed version (e.g. "1.7.1.116"), read from package metadata if possible."""
    found = _found()
    if found is None:
        return None
    _, module = found
    for _, mod, dists in _MODULES:
        if mod != module:
            continue
        for dist in dists:
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return getattr(import_trt(), "__version__", None)


def target() -> Target | None:
    """The target of the installed TensorRT, e.g. `rtx-1.7` (minor clamped to the KB's newest)."""
    family, text = flavour(), version()
    if family is None or not text:
        return None
    parts = [int(p) for p in re.findall(r"\d+", text)[:2]] + [0]
    line = f"{family}-{parts[0]}"
    if line not in NEWEST_MINOR:
        return None
    return Target(family, parts[0], min(parts[1], NEWEST_MINOR[line]))


def parser_name() -> str:
    """A label naming the parser in reports, e.g. "TensorRT-RTX 1.7.1 ONNX parser"."""
    family, text = flavour(), version() or "?"
    short = ".".join(text.split(".")[:3])
    product = "TensorRT-RTX" if family == "rtx" else "TensorRT"
    return f"{product} {short} ONNX parser"


@cache
def logger():
    """The process's TensorRT logger (errors only; parser errors are read through its API)."""
    trt = import_trt()
    return trt.Logger(trt.Logger.ERROR)


def _rtx_wheel_lib() -> Path | None:
    spec = importlib.util.find_spec("tensorrt_rtx")
    if spec is None or spec.origin is None:
        return None
    libs = Path(spec.origin).parent.parent / "tensorrt_rtx_libs"
    so = libs / RTX_SONAME
    return so if so.exists() else None


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trtforge"


@cache
def rtx_lib_dir() -> Path | None:
    """A private folder holding `libtensorrt_rtx.so`, for `LD_LIBRARY_PATH`; None if not needed.

    Not needed when `tensorrt_rtx` is not the module in use, or when the wheel already ships
    the unversioned name. The folder is `$XDG_CACHE_HOME/trtforge/rtx-libs-<version>` (falling
    back to a temporary folder when the cache is not writable); site-packages is never touched.
    """
    if flavour() != "rtx":
        return None
    so = _rtx_wheel_lib()
    if so is None:
        log.debug("tensorrt_rtx_libs/%s not found; leaving the loader path alone", RTX_SONAME)
        return None
    if (so.parent / RTX_LINK).exists():
        return None
    name = f"rtx-libs-{version() or 'unknown'}"
    for root in (_cache_root(), Path(tempfile.gettempdir()) / f"trtforge-{os.getuid()}"):
        folder = root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / RTX_LINK
            if link.is_symlink() and Path(os.readlink(link)) == so:
                return folder
            tmp = folder / f".{RTX_LINK}.{os.getpid()}"
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(so)
            os.replace(tmp, link)  # atomic: concurrent processes never see a half-made link
            return folder
        except OSError as err:
            log.debug("cannot make %s in %s: %s", RTX_LINK, root, err)
    return None


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a subprocess that imports TensorRT (with the RTX fix applied)."""
    env = dict(os.environ if base is None else base)
    folder = rtx_lib_dir()
    if folder is not None:
        parts = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
        if str(folder) not in parts:
            env["LD_LIBRARY_PATH"] = os.pathsep.join([str(folder), *parts])
    return env


def _on_loader_path(name: str) -> bool:
    return any(
        d and (Path(d) / name).exists()
        for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
    )


def rtx_fix_needed() -> bool:
    """True when TensorRT-RTX is in use and this process cannot `dlopen` `libtensorrt_rtx.so`."""
    if flavour() != "rtx":
        return False
    so = _rtx_wheel_lib()
    if so is None or (so.parent / RTX_LINK).exists():
        return False
    return not _on_loader_path(RTX_LINK)


def reexec_process(env: dict[str, str]) -> NoReturn:
    """Replaces this process with a fresh run of the same command line (CLIs only)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def ensure_rtx_loadable(reexec: bool = False) -> None:
    """Makes sure TensorRT-RTX can load plugins in this process; call before importing it.

    Args:
        reexec: re-execute the process (`sys.orig_argv`) with the fix on `LD_LIBRARY_PATH`;
            only for programs that own their process (CLIs).

    Raises:
        RtxLibraryError: the fix is needed and `reexec` is False (or re-executing did not help).
    """

    if not rtx_fix_needed():
        return
    folder = rtx_lib_dir()
    if folder is not None and reexec and not os.environ.get(_REEXEC_MARK):
        env = child_env()
        env[_REEXEC_MARK] = "1"
        reexec_process(env)
    raise RtxLibraryError(
        "TensorRT-RTX would abort this process when it loads a plugin: its wheel lacks "
        f"{RTX_LINK} (only {RTX_SONAME} is installed)",
        f"start Python with the fix on the loader path: export LD_LIBRARY_PATH={folder}"
        ":$LD_LIBRARY_PATH",
    )


def parser_error(error) -> dict:
    """One of the ONNX parser's errors (`parser.get_error(i)`) as plain data: code, desc,
    node, node_name, op, file, func, line, stack. An accessor an older binding lacks gives
    its default; text the bindings cannot decode (a model's names and op types need not be
    UTF-8) gives "(not UTF-8)"."""

    def call(name, default=None):
        try:
            return getattr(error, name)()
        except UnicodeDecodeError:
            return "(not UTF-8)"
        except Exception:  # noqa: BLE001 - older bindings lack some accessors
            return default

    stack = call("local_function_stack", []) or []
    code = call("code")
    return {
        "code": getattr(code, "name", str(code)),
        "desc": call("desc", ""),
        "node": call("node", -1),
        "node_name": call("node_name", ""),
        "op": call("node_operator", ""),
        "file": call("file", ""),
        "func": call("func", ""),
        "line": call("line", -1),
        "stack": list(stack) if isinstance(stack, (list, tuple)) else [],
    }
