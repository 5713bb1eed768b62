"""How the ONNX parser resolves an op it has no importer for: as a plugin.

Rules (TensorRT 10.x/11.x open-source parser, DESIGN.md "Facts"): the plugin is looked up by
`(op_type, plugin_version attribute or "1", plugin_namespace attribute or "")`; since TensorRT
10.10 (and in every TensorRT-RTX release), if that fails, again with the node's domain as the
namespace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import onnx

from trtforge.analyzer.kb.shipped_plugins import SHIPPED
from trtforge.analyzer.targets import Target

log = logging.getLogger("trtforge.plugin_lookup")


@dataclass(frozen=True)
class PluginMatch:
    name: str
    version: str
    namespace: str
    available: bool
    origin: str  # "trtforge" or "tensorrt"


def _string_attr(node: onnx.NodeProto, name: str) -> str | None:
    for attr in node.attribute:
        if attr.name == name:
            if attr.type == onnx.AttributeProto.STRING:
                return attr.s.decode("utf-8", "replace")
            if attr.type == onnx.AttributeProto.INT:
                return str(attr.i)
    return None


def lookup_keys(node: onnx.NodeProto, target: Target) -> list[tuple[str, str, str]]:
    """The (name, version, namespace) keys the parser tries, in order."""
    version = _string_attr(node, "plugin_version") or "1"
    namespace = _string_attr(node, "plugin_namespace") or ""
    keys = [(node.op_type, version, namespace)]
    domain = "" if node.domain in ("", "ai.onnx") else node.domain
    retries_domain = target.is_rtx or target.version >= (10, 10)
    if retries_domain and domain and domain != namespace:
        keys.append((node.op_type, version, domain))
    return keys


@cache
def _trtforge_catalog():
    """trtforge's plugin catalog, or None without the plugin SDK (looked up once: a failed
    import per node costs ~0.1 ms, seconds on a 100k-node model)."""
    try:
        from trtforge.plugins import catalog
    except ImportError:  # the plugin SDK is optional for the analyzer
        return None
    return catalog


def find_plugin(node: onnx.NodeProto, target: Target) -> PluginMatch | None:
    """The plugin the parser would create for `node` on `target`, if any is known."""
    catalog = _trtforge_catalog()
    for name, version, namespace in lookup_keys(node, target):
        if catalog is not None:
            spec = catalog.find_plugin(name, version, namespace)
            if spec is not None:
                return PluginMatch(name, version, namespace, catalog.is_available(spec), "trtforge")
        shipped = SHIPPED.get((name, version))
        if shipped is not None and namespace == "" and shipped.available(target):
            return PluginMatch(name, version, namespace, True, "tensorrt")
    return None
