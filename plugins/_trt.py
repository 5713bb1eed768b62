"""TensorRT access for the plugin SDK: a thin view of ``trtforge.analyzer.trt``.

``trtforge.analyzer.trt`` is the one adapter over ``tensorrt`` / ``tensorrt_rtx`` (module
choice, ``TRTFORGE_TRT_FLAVOUR``, and the TensorRT-RTX library-name fix: a private folder
holding ``libtensorrt_rtx.so`` and a re-exec with it on ``LD_LIBRARY_PATH``; see its
docstring and docs/plugins.md). This module only renames what the plugin code needs:

* :func:`flavour` — the module name, ``"tensorrt"`` or ``"tensorrt_rtx"`` (or ``None``), as
  recorded in ``trt-build``'s sidecar;
* :func:`import_trt`, :func:`version`, :func:`ensure_rtx_loadable`, :func:`rtx_fix_needed`,
  :class:`RtxLibraryError` — as in the adapter.
"""

from __future__ import annotations

import importlib

from trtforge.analyzer import trt as _adapter

RtxLibraryError = _adapter.RtxLibraryError
ensure_rtx_loadable = _adapter.ensure_rtx_loadable
rtx_fix_needed = _adapter.rtx_fix_needed
rtx_lib_dir = _adapter.rtx_lib_dir
choose = _adapter.choose
reexec_process = _adapter.reexec_process


def flavour() -> str | None:
    """``"tensorrt"``, ``"tensorrt_rtx"`` or ``None``: the module in use, not imported."""
    return _adapter.module_name()


def import_trt(name: str | None = None):
    """The TensorRT module in use (or ``name``, which must be installed)."""
    if name is None or name == _adapter.module_name():
        return _adapter.import_trt()
    return importlib.import_module(name)


def version() -> str | None:
    """The installed version of the module in use."""
    return _adapter.version()
