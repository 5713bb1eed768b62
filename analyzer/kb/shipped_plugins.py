"""Plugins that ship with TensorRT itself (libnvinfer_plugin), by (name, version).

The ONNX parser finds these by op_type like any registered plugin. TensorRT-RTX ships no plugin
library, so none of them resolves there.

Source: TensorRT OSS `plugin/` README (plugin table) and the TensorRT release notes.
"""

from __future__ import annotations

from trtforge.analyzer.kb.rule import Since

#: (plugin name, version) -> releases that ship it.
SHIPPED: dict[tuple[str, str], Since] = {}
