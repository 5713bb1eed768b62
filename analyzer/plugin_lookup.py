"""Which plugin serves an ONNX node: the parser's lookup rule, written once.

The TensorRT ONNX parser resolves an op it has no importer for as a plugin (open-source parser,
10.x/11.x; observed with TensorRT-RTX 1.7, see docs/plugins.md "How the parser finds a
plugin"):

1. ``(op_type, plugin_version, plugin_namespace)``: the ``plugin_version`` attribute or ``"1"``
   when absent, the ``plugin_namespace`` attribute or ``""`` when absent. Both attributes are
   read as text whether the exporter wrote them as STRING or INT (``plugin_version=1``).
2. Since TensorRT 10.10, and in every TensorRT-RTX release, when that finds no creator: again
   with the node's domain as the namespace.

Every part of trtforge that asks the question calls this module, with the target as a
parameter: trt-check (:func:`find_plugin`), trt-build (:func:`plugin_keys` against the real
registry, :func:`find_declared`), rewrite emission (:func:`namespace_attr_needed`) and
verification (:func:`find_declared`). Nothing here imports onnx or TensorRT at module level.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from trtforge.analyzer.targets import Target

if TYPE_CHECKING:  # pragma: no cover
    import onnx

    from trtforge.plugins.spec import PluginSpec

log = logging.getLogger("trtforge.plugin_lookup")

Key = tuple[str, str, str]  # (name, version, namespace)

#: Domains the parser treats as "no domain" for the namespace retry.
_STANDARD_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class PluginMatch:
    name: str
    version: str
    namespace: str
    available: bool
    origin: str  # "trtforge" or "tensorrt"


def _text_attr(node: onnx.NodeProto, name: str) -> str | None:
    """A STRING or INT attribute as text (the parser reads both the same way), else None."""
    for attr in node.attribute:
        if attr.name == name:
            if attr.type == 3:  # AttributeProto.STRING
                return attr.s.decode("utf-8", "replace")
            if attr.type == 2:  # AttributeProto.INT
                return str(attr.i)
    return None


def retries_domain(target: Target | None) -> bool:
    """True when `target`'s parser retries a failed lookup with the node's domain as namespace.

    ``None`` stands for the newest parsers (TensorRT ≥ 10.10, TensorRT-RTX), which do.
    """
    return target is None or target.is_rtx or target.version >= (10, 10)


#: Standard ops whose importer creates a plugin by a fixed key, and on which targets (None:
#: all). RoiAlign: onnxOpImporters.cpp importRoiAlign creates ROIAlign_TRT v2 (every TensorRT;
#: observed with TensorRT-RTX 1.7.1). NonZero: TensorRT-RTX's importer asks for an IPluginV3
#: `NonZero` v1 ("NonZero plugin creator version 1 was not found in plugin registry", observed
#: 1.7.1); TensorRT builds INonZeroLayer instead.
IMPORTER_PLUGINS: dict[str, tuple[Key, str | None]] = {
    "RoiAlign": (("ROIAlign_TRT", "2", ""), None),
    "NonZero": (("NonZero", "1", ""), "rtx"),
}


def importer_plugin(node: onnx.NodeProto, target: Target | None) -> Key | None:
    """The plugin key a standard op's importer creates on `target` (``None``: TensorRT-RTX,
    the newest parser), or None when its importer builds layers."""
    if node.domain not in _STANDARD_DOMAINS:
        return None
    found = IMPORTER_PLUGINS.get(node.op_type)
    if found is None:
        return None
    key, family = found
    on = "rtx" if target is None else target.family
    return key if family is None or family == on else None


def plugin_keys(node: onnx.NodeProto, target: Target | None = None) -> list[Key]:
    """The (name, version, namespace) keys the parser of `target` tries for `node`, in order:
    the fixed key of an importer that creates a plugin, else the generic lookup."""
    if node.domain in _STANDARD_DOMAINS and node.op_type in IMPORTER_PLUGINS:
        fixed = importer_plugin(node, target)
        return [fixed] if fixed is not None else []  # [] : this target's importer builds layers
    version = _text_attr(node, "plugin_version")
    version = "1" if version is None else version
    namespace = _text_attr(node, "plugin_namespace") or ""
    keys = [(node.op_type, version, namespace)]
    domain = "" if node.domain in _STANDARD_DOMAINS else node.domain
    if retries_domain(target) and domain and domain != namespace:
        keys.append((node.op_type, version, domain))
    return keys


def namespace_attr_needed(namespace: str, target: Target | None) -> bool:
    """True when a node with ``domain = namespace`` must also carry ``plugin_namespace`` for
    `target`'s parser to find the plugin (parsers before 10.10 ignore the domain)."""
    return bool(namespace) and not retries_domain(target)


@cache
def _trtforge_catalog():
    """trtforge's plugin catalog, or None without the plugin SDK (looked up once: a failed
    import per node costs ~0.1 ms, seconds on a 100k-node model)."""
    try:
        from trtforge.plugins import catalog
    except ImportError:  # the plugin SDK is optional for the analyzer
        return None
    return catalog


@cache
def _shipped():
    """The plugins shipped with TensorRT (`kb.shipped_plugins.SHIPPED`), imported once (on
    first use: the knowledge base imports this module)."""
    from trtforge.analyzer.kb.shipped_plugins import SHIPPED

    return SHIPPED


def find_declared(node: onnx.NodeProto, target: Target | None = None) -> PluginSpec | None:
    """The trtforge plugin declaration `target`'s parser would create for `node`, or None."""
    catalog = _trtforge_catalog()
    if catalog is None:
        return None
    for name, version, namespace in plugin_keys(node, target):
        spec = catalog.find_plugin(name, version, namespace)
        if spec is not None:
            return spec
    return None


def find_plugin(node: onnx.NodeProto, target: Target) -> PluginMatch | None:
    """The plugin the parser would create for `node` on `target`, if any is known: a trtforge
    declaration, or a plugin shipped with TensorRT (empty namespace)."""
    shipped_plugins = _shipped()
    catalog = _trtforge_catalog()
    for name, version, namespace in plugin_keys(node, target):
        if catalog is not None:
            spec = catalog.find_plugin(name, version, namespace)
            if spec is not None:
                return PluginMatch(name, version, namespace, catalog.is_available(spec), "trtforge")
        shipped = shipped_plugins.get((name, version))
        if shipped is not None and namespace == "" and shipped.available(target):
            return PluginMatch(name, version, namespace, True, "tensorrt")
    return None


def find_registered(node: onnx.NodeProto, target: Target | None, has_creator) -> Key | None:
    """The first key of :func:`plugin_keys` for which ``has_creator(name, version, namespace)``
    is true (e.g. a check against TensorRT's plugin registry), else None."""
    for key in plugin_keys(node, target):
        if has_creator(*key):
            return key
    return None
