"""In CI, where nvcc is installed, the plugins must actually be built.

Without this, a build that quietly lost the native library (e.g. no TensorRT headers) would
turn every native-library test into a skip and CI would stay green.
"""

from __future__ import annotations

import os
import shutil

import pytest

from trtforge.plugins.catalog import all_plugins, is_available


@pytest.mark.skipif(
    not (os.environ.get("CI") and shutil.which("nvcc")), reason="only in CI with nvcc installed"
)
def test_every_plugin_was_built_in_ci() -> None:
    missing = [p.qualified_name for p in all_plugins() if not is_available(p)]
    assert not missing, f"plugins not built although nvcc is installed: {missing}"
