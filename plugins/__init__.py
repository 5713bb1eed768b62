"""trtforge.plugins: declare CUDA plugins once, register them with TensorRT, build engines.

Light to import: nothing here imports TensorRT, CuPy, torch or onnxruntime at module level.
"""

from __future__ import annotations

from trtforge.plugins.catalog import all_plugins, find_plugin, is_available
from trtforge.plugins.spec import AttrSpec, PluginSpec, TensorSpec, Tolerance

__all__ = [
    "AttrSpec",
    "PluginSpec",
    "TensorSpec",
    "Tolerance",
    "all_plugins",
    "find_plugin",
    "is_available",
    "register",
]


def register(*args, **kwargs):
    """Register plugins with TensorRT's plugin registry.

    See :func:`trtforge.plugins.registry.register`.
    """
    from trtforge.plugins.registry import register as _register

    return _register(*args, **kwargs)
