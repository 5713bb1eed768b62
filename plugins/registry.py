"""Putting plugins into a TensorRT process's plugin registry.

Two ways in, one kernel:

* ``backend="native"``: load ``libtrtforge_plugins.so`` (``IPluginRegistry.load_library``); its
  ``getCreators`` returns the C++ ``IPluginV3`` creators. Also what ``trtexec
  --dynamicPlugins``, Triton and TensorRT-RTX C++ programs load.
* ``backend="python"``: register the Python ``IPluginV3`` creators generated from the
  declarations (``trtforge.plugins.pyplugin``), which call the kernel through ``trtforge._C``.
* ``backend="auto"`` (default): native where the library was built, else Python where the
  extension was built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from trtforge.plugins import catalog
from trtforge.plugins.spec import PluginSpec

logger = logging.getLogger("trtforge.plugins")

BACKENDS = ("auto", "native", "python")

# Keep Python creators alive for the life of the process (TensorRT holds borrowed references).
_PY_CREATORS: dict[tuple[str, str, str, str], object] = {}
_NATIVE_LOADED: dict[str, object] = {}
_TAKEN_OVER: set[tuple[str, str, str]] = set()  # keys whose TensorRT-RTX creator was removed


class RegistrationError(RuntimeError):
    """A plugin could not be registered; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Registered:
    """What :func:`register` put in the registry."""

    specs: tuple[PluginSpec, ...]
    backend: str  # "native" or "python"
    library: str | None = None


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if catalog.native_library_path() is not None:
        return "native"
    if catalog.extension_path() is not None:
        return "python"
    raise RegistrationError(
        "trtforge's CUDA kernels were not built (neither libtrtforge_plugins.so nor trtforge._C "
        "is installed)",
        "reinstall trtforge on a machine where nvcc is on PATH (pip install . builds csrc/)",
    )


def register(
    specs: Iterable[PluginSpec] | None = None,
    *,
    backend: str = "auto",
    trt=None,
    library: str | None = None,
) -> Registered:
    """Register plugins with TensorRT's process-wide plugin registry.

    Args:
        specs: which plugins (default: every declared plugin).
        backend: ``"native"``, ``"python"`` or ``"auto"`` (see the module docstring).
        trt: the ``tensorrt`` / ``tensorrt_rtx`` module (default: the installed one, imported
            through ``trtforge.plugins._trt``; under TensorRT-RTX the library-name fix must be
            in place, see ``_trt.ensure_rtx_loadable``).
        library: path of a native plugin library to load instead of trtforge's own.

    Returns:
        what was registered.

    Raises:
        RegistrationError: kernels not built, library not loadable, or a creator missing.
    """
    from trtforge.plugins import _trt

    specs = tuple(specs) if specs is not None else tuple(catalog.all_plugins())
    if trt is None:
        _trt.ensure_rtx_loadable(reexec=False)
        trt = _trt.import_trt()
    reg = trt.get_plugin_registry()
    chosen = "native" if library else _resolve_backend(backend)
    if not library:
        # the native library registers every creator it holds, whichever specs were asked for
        _take_over_shipped(reg, catalog.all_plugins() if chosen == "native" else specs, trt)

    if chosen == "native":
        path = library or (
            str(catalog.native_library_path()) if catalog.native_library_path() else None
        )
        if path is None:
            raise RegistrationError(
                "the native plugin library libtrtforge_plugins.so was not built",
                "install trtforge where a CUDA compiler (nvcc) is on PATH, or register the "
                "Python plugins (backend='python', trt-build --plugin-backend python)",
            )
        if path not in _NATIVE_LOADED:
            handle = reg.load_library(path)
            if handle is None:
                raise RegistrationError(
                    f"TensorRT could not load the plugin library {path}",
                    "check that it was built for this platform (ldd it) and that the CUDA "
                    "driver is recent enough",
                )
            _NATIVE_LOADED[path] = handle
        missing = [s for s in specs if not _has_creator(reg, s)]
        if missing and not library:
            raise RegistrationError(
                "the native plugin library lacks " + ", ".join(s.qualified_name for s in missing),
                "rebuild trtforge (pip install .) so csrc/ is compiled again",
            )
        return Registered(tuple(s for s in specs if s not in missing), "native", path)

    if catalog.extension_path() is None:
        raise RegistrationError(
            "the CUDA extension trtforge._C was not built, so Python plugins have no kernel",
            "install trtforge where a CUDA compiler (nvcc) is on PATH",
        )
    from trtforge.plugins.pyplugin import make_creator

    done = []
    for s in specs:
        tag = (trt.__name__,) + s.key
        if tag not in _PY_CREATORS:
            if _has_creator(reg, s):
                logger.info(
                    "%s already registered; not adding the Python creator", s.qualified_name
                )
                done.append(s)
                continue
            creator = make_creator(s, trt)
            if not reg.register_creator(creator, s.namespace):
                raise RegistrationError(
                    f"TensorRT refused the Python creator of {s.qualified_name}",
                    "another creator with that name, version and namespace may be registered",
                )
            _PY_CREATORS[tag] = creator
        done.append(s)
    return Registered(tuple(done), "python")


def _take_over_shipped(reg, specs, trt) -> None:
    """Under TensorRT-RTX, remove its own creator of a plugin trtforge declares in TensorRT's
    (empty) namespace, so trtforge's registers in its place.

    TensorRT-RTX 1.7 ships ``ROIAlign_TRT`` v2, but creating it needs a CUDA device ("Cuda
    Error in ROIAlignV3: 35" on a machine without one), so the RoiAlign importer fails and
    ahead-of-time builds on a build machine cannot work; trtforge's creates no CUDA state.
    TensorRT's own plugins (``libnvinfer_plugin``) are left alone.
    """
    if not trt.__name__.startswith("tensorrt_rtx"):
        return
    wanted = {s.key for s in specs if s.namespace == "" and s.key not in _TAKEN_OVER}
    if not wanted:
        return
    for creator in list(getattr(reg, "all_creators", ())):
        key = (creator.name, creator.plugin_version, creator.plugin_namespace)
        if key in wanted and reg.deregister_creator(creator):
            logger.info("replaced TensorRT-RTX's %s v%s with trtforge's", key[0], key[1])
    # once per process: later calls would find trtforge's own creator under the key
    _TAKEN_OVER.update(wanted)


def _has_creator(reg, spec: PluginSpec) -> bool:
    try:
        return reg.get_creator(spec.name, spec.version, spec.namespace) is not None
    except Exception:  # noqa: BLE001 - older bindings raise on a miss
        return False


def plugin_nodes(model, target=None) -> list[tuple[int, object, PluginSpec | None]]:
    """Nodes of ``model``'s graph (and subgraphs, and its local functions' bodies) that are
    plugins: (index, node, spec or None).

    A node counts as a plugin when its domain is not a standard ONNX domain, or when
    `target`'s parser looks it up under a declaration's key (``plugin_lookup``; ``None``: the
    newest parsers). ``spec`` is ``None`` for plugins trtforge does not declare. A
    custom-domain node that `target`'s parser imports by op_type (TensorRT-RTX's
    com.microsoft SkipSimplifiedLayerNormalization, MultiHeadAttention, ...) is not a plugin.
    """
    from trtforge.analyzer.backends.static import has_importer
    from trtforge.analyzer.plugin_lookup import find_declared

    out = []
    standard = {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training"}
    # the parser imports a node whose op_type names a model-local function as the function's
    # body (looked up by op_type alone): no plugin, but the body's nodes may need some
    local = {function.name for function in getattr(model, "functions", ())}

    def walk(graph):
        for i, node in enumerate(graph.node):
            spec = find_declared(node, target)
            custom = node.domain not in standard
            if custom and spec is None and target is not None and has_importer(node, target):
                custom = False  # a built-in importer takes it
            if custom and spec is None and node.op_type in local:
                custom = False
            if spec is not None or custom:
                out.append((i, node, spec))
            for a in node.attribute:
                if a.g is not None and a.g.node:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(model.graph)
    for function in getattr(model, "functions", ()):
        walk(function)
    return out


def find_missing(reg, model, target=None) -> list[tuple[object, list[tuple[str, str, str]]]]:
    """Plugin nodes of ``model`` for which ``reg`` has no creator under any key `target`'s
    parser tries: (node, the keys tried)."""
    from trtforge.analyzer.plugin_lookup import find_registered, plugin_keys

    def has_creator(name, version, namespace):
        try:
            return reg.get_creator(name, version, namespace) is not None
        except Exception:  # noqa: BLE001 - older bindings raise on a miss
            return False

    missing = []
    for _, node, _spec in plugin_nodes(model, target):
        if find_registered(node, target, has_creator) is None:
            missing.append((node, plugin_keys(node, target)))
    return missing
