"""Fixtures for the plugin tests: GPU/CuPy/extension availability, RTX availability."""

from __future__ import annotations

import importlib.util

import pytest


def _has(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def gpu_available() -> bool:
    if not _has("cupy"):
        return False
    try:
        import cupy as cp

        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def gpu():
    """Skip unless CuPy sees a GPU and trtforge._C was built."""
    if not gpu_available():
        pytest.skip("needs a CUDA GPU and CuPy")
    from trtforge.plugins import catalog

    if catalog.extension_path() is None:
        pytest.skip("trtforge._C was not built (no nvcc at install time)")
    return True


@pytest.fixture(scope="session")
def rtx():
    """Skip unless tensorrt_rtx is installed."""
    if not _has("tensorrt_rtx"):
        pytest.skip("needs tensorrt_rtx (pip install tensorrt-rtx)")
    return True


@pytest.fixture(scope="session")
def native_lib():
    from trtforge.plugins import catalog

    p = catalog.native_library_path()
    if p is None:
        pytest.skip("libtrtforge_plugins.so was not built")
    return p
