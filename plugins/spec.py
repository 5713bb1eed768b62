"""Plugin declarations: the single source for a plugin's ONNX node, registration, docs and tests.

A plugin is declared once, in a module under ``trtforge/plugins/decls/`` that defines ``SPEC``
(or ``SPECS``, a sequence) as a :class:`PluginSpec`. Everything else is derived from it:

* ``spec.make_node(...)`` — the ONNX node ``trt-rewrite`` emits (``op_type = name``,
  ``domain = namespace``; ``plugin_version`` only when the version is not ``"1"``, which is what
  the TensorRT ONNX parser assumes when the attribute is missing);
* ``spec.reference_op()`` — an ``onnx.reference`` op so ``ReferenceEvaluator`` runs plugin nodes;
* ``spec.function_proto()`` — the ONNX decomposition (a model-local function) that onnxruntime
  runs, used to hold the NumPy reference to a second implementation;
* the C++ header generated at build time (``plugins/_codegen.py``): name, version, namespace,
  fields with defaults, and supported type combinations of the native plugin;
* the Python ``IPluginV3`` (``trtforge.plugins.pyplugin``) and the GPU test harness.

This module and the declaration modules import only the standard library at module level: the
code generator runs them inside the isolated build environment, where neither onnx nor NumPy is
installed. NumPy and onnx are imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Data types a plugin tensor may have, by NumPy-style name, with the TensorRT ``DataType``
#: enum value (``nvinfer1::DataType``) and the ONNX ``TensorProto`` element type.
DTYPES: Mapping[str, tuple[int, int]] = {
    "float32": (0, 1),
    "float16": (1, 10),
    "int8": (2, 3),
    "int32": (3, 6),
    "bool": (4, 9),
    "uint8": (5, 2),
    "bfloat16": (7, 16),
    "int64": (8, 7),
}

#: Attribute types and how the TensorRT ONNX parser passes them to a plugin field.
ATTR_TYPES: Mapping[str, str] = {
    "float": "FLOAT32",
    "int": "INT32",
    "string": "CHAR",
    "floats": "FLOAT32",
    "ints": "INT32",
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One input or output of a plugin.

    Args:
        name: the tensor's name in docs and in the function decomposition.
        doc: one line saying what it is, with its shape in terms of the other tensors.
    """

    name: str
    doc: str = ""
    size_tensor: bool = False  # outputs only: a 0-D int32/int64 holding a data-dependent dim


class UpperBound(int):
    """A data-dependent output dim, evaluated numerically: its value is the upper bound (what a
    buffer must hold); the real extent is known only after the kernel ran."""


class NumericDims:
    """The ``dims`` argument of a declaration's ``output_shapes`` when shapes are numbers
    (reference checks, test harness, buffer sizes). The Python IPluginV3 passes an equivalent
    built on TensorRT's ``IExprBuilder`` (``trtforge.plugins.pyplugin``)."""

    def const(self, value: int) -> int:
        return int(value)

    def size(self, output_index: int, upper) -> UpperBound:  # noqa: ARG002 - same API as TRT's
        """A dim whose extent is the value of size-tensor output ``output_index``, at most
        ``upper``."""
        return UpperBound(int(upper))

    def max(self, a, b) -> int:
        return max(int(a), int(b))

    def min(self, a, b) -> int:
        return min(int(a), int(b))

    def ceil_div(self, a, b) -> int:
        return -(-int(a) // int(b))


@dataclasses.dataclass(frozen=True)
class AttrSpec:
    """One attribute of the ONNX node, which becomes one plugin field.

    Args:
        name: attribute (and plugin field) name.
        type: ``"float"`` (field FLOAT32), ``"int"`` (INT32), ``"string"`` (CHAR),
            ``"floats"`` or ``"ints"``.
        default: value used when the node does not carry the attribute; ``None`` makes the
            attribute required.
        doc: one line for the docs.
    """

    name: str
    type: str
    default: Any = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in ATTR_TYPES:
            raise ValueError(
                f"attribute '{self.name}': unknown type '{self.type}' "
                f"(expected one of {sorted(ATTR_TYPES)})"
            )
        if not _IDENT.match(self.name):
            raise ValueError(f"attribute name '{self.name}' is not an identifier")

    @property
    def required(self) -> bool:
        return self.default is None


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Accepted difference to the float64 reference: ``|out - ref| <= atol + rtol * |ref|``."""

    rtol: float
    atol: float


#: ``reference(inputs, **attrs) -> outputs``: float64 NumPy arrays in, float64 arrays out.
ReferenceFn = Callable[..., Sequence[Any]]


@dataclasses.dataclass(frozen=True)
class PluginSpec:
    """Everything about one plugin, declared once.

    Args:
        name: plugin name and ONNX ``op_type``.
        version: plugin version string (``"1"`` for a first release; a published
            ``(name, version)`` never changes its signature — add a new version instead).
        namespace: plugin namespace and ONNX ``domain``.
        inputs: the plugin's inputs, in order.
        outputs: the plugin's outputs, in order.
        attributes: node attributes = plugin fields.
        type_combinations: supported data types, one tuple per combination, one dtype name per
            input then per output (names from :data:`DTYPES`).
        tolerances: per output dtype name, the accepted error against ``reference``.
        reference: ``reference(inputs, **attrs)`` in float64 NumPy.
        doc: a paragraph for the docs (first line: a summary).
        decomposition: ONNX text of a function (``onnx.parser.parse_function``) computing the
            same thing with standard ops, or ``None``. Its opset is 18.
        test_shapes: input shapes the CPU and GPU harness use for this plugin, a function of
            the hidden size: ``test_shapes(rows, hidden) -> list of input shapes``.
        test_attrs: attribute values the harness uses (beside the defaults).
        output_shapes: ``output_shapes(in_shapes, attrs, dims) -> list of shapes``, one per
            output, computed from the input shapes (sequences of dims) and the attributes;
            ``None``: every output shaped like input 0. Write it with ``+ - * //`` on dims,
            ``dims.const(v)``, ``dims.max(a, b)``, ``dims.min(a, b)``, ``dims.ceil_div(a, b)``
            and, for a
            data-dependent extent, ``dims.size(k, upper)`` where output ``k`` is declared
            ``TensorSpec(..., size_tensor=True)`` (a 0-D tensor the kernel writes the extent
            into) and ``upper`` bounds it. The same function runs on numbers
            (:class:`NumericDims`) and on TensorRT's symbolic dims (the Python plugin).
        workspace: ``workspace(in_shapes, attrs) -> bytes`` of scratch device memory the kernel
            needs (the Python plugin's ``getWorkspaceSize``; the C++ glue's ``workspaceSize``
            hook says the same), or ``None`` for none.
        test_inputs: ``test_inputs(rng) -> list of (inputs, attrs)`` — real input arrays and
            attribute sets the generic tests run the plugin on (``testing.declared_cases``:
            reference vs decomposition, the IPluginV3 lifecycle on a GPU). Without it they use
            one case per type combination on ``test_shapes``. A declaration may have both:
            ``test_shapes`` then drives the GPU harness's sweep of sizes.
    """

    name: str
    version: str
    namespace: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    attributes: tuple[AttrSpec, ...]
    type_combinations: tuple[tuple[str, ...], ...]
    tolerances: Mapping[str, Tolerance]
    reference: ReferenceFn = dataclasses.field(repr=False)
    doc: str = dataclasses.field(default="", repr=False)
    decomposition: str | None = dataclasses.field(default=None, repr=False)
    test_shapes: Callable[[int, int], list[tuple[int, ...]]] | None = dataclasses.field(
        default=None, repr=False
    )
    test_attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    output_shapes: Callable[..., list[Sequence[Any]]] | None = dataclasses.field(
        default=None, repr=False
    )
    test_inputs: Callable[[Any], list[tuple[list[Any], dict[str, Any]]]] | None = dataclasses.field(
        default=None, repr=False
    )
    workspace: Callable[[Sequence[Sequence[int]], Mapping[str, Any]], int] | None = (
        dataclasses.field(default=None, repr=False)
    )

    def __post_init__(self) -> None:
        if not _IDENT.match(self.name):
            raise ValueError(f"plugin name '{self.name}' is not an identifier")
        if not self.version:
            raise ValueError(f"plugin '{self.name}': the version must be non-empty")
        # an empty namespace is TensorRT's own (plugins an ONNX importer asks for by name)
        n = len(self.inputs) + len(self.outputs)
        for combo in self.type_combinations:
            if len(combo) != n:
                raise ValueError(
                    f"plugin '{self.name}': type combination {combo} has {len(combo)} entries, "
                    f"expected {n} (inputs then outputs)"
                )
            for t in combo:
                if t not in DTYPES:
                    raise ValueError(f"plugin '{self.name}': unknown dtype '{t}'")
        if any(t.size_tensor for t in self.inputs):
            raise ValueError(f"plugin '{self.name}': only outputs can be size tensors")
        n_in = len(self.inputs)
        for k, t in enumerate(self.outputs):
            if t.size_tensor and any(
                c[n_in + k] not in ("int32", "int64") for c in self.type_combinations
            ):
                raise ValueError(
                    f"plugin '{self.name}': size-tensor output '{t.name}' must be int32 or int64"
                )
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names) or "plugin_version" in names:
            raise ValueError(f"plugin '{self.name}': duplicate or reserved attribute name")

    # -- identity ---------------------------------------------------------------------------
    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, version, namespace)``: how TensorRT finds the plugin creator."""
        return (self.name, self.version, self.namespace)

    @property
    def qualified_name(self) -> str:
        """``namespace::name`` (version ``v``) for messages."""
        return f"{self.namespace}::{self.name} (version {self.version})"

    @property
    def c_ident(self) -> str:
        """An identifier naming this (name, version) in generated C++."""
        return f"{self.name}_v{re.sub(r'[^A-Za-z0-9]', '_', self.version)}"

    def attribute(self, name: str) -> AttrSpec:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(f"plugin '{self.name}' has no attribute '{name}'")

    def resolve_attrs(self, attrs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Fill defaults and check names and types; raise ``ValueError`` saying what is wrong."""
        attrs = dict(attrs or {})
        attrs.pop("plugin_version", None)
        attrs.pop("plugin_namespace", None)
        out: dict[str, Any] = {}
        for a in self.attributes:
            if a.name in attrs:
                v = attrs.pop(a.name)
                if a.type == "float":
                    v = float(v)
                elif a.type == "int":
                    if isinstance(v, float) and not v.is_integer():
                        raise ValueError(f"{self.name}: attribute '{a.name}' must be an int")
                    v = int(v)
                elif a.type == "string":
                    v = v.decode() if isinstance(v, bytes) else str(v)
                elif a.type == "floats":
                    v = [float(x) for x in v]
                elif a.type == "ints":
                    v = [int(x) for x in v]
                out[a.name] = v
            elif a.required:
                raise ValueError(f"{self.name}: attribute '{a.name}' is required")
            else:
                out[a.name] = a.default
        if attrs:
            raise ValueError(
                f"{self.name}: unknown attribute(s) {sorted(attrs)} "
                f"(declared: {[a.name for a in self.attributes]})"
            )
        return out

    def output_dtypes(self, input_dtypes: Sequence[str]) -> tuple[str, ...]:
        """Output dtype names for the given input dtype names, from ``type_combinations``."""
        n_in = len(self.inputs)
        for combo in self.type_combinations:
            if tuple(combo[:n_in]) == tuple(input_dtypes):
                return tuple(combo[n_in:])
        raise ValueError(
            f"{self.name}: input types {tuple(input_dtypes)} are not supported "
            f"(supported: {[c[:n_in] for c in self.type_combinations]})"
        )

    def shapes_of_outputs(
        self, in_shapes: Sequence[Sequence[int]], attrs: Mapping[str, Any] | None = None
    ) -> list[tuple[int, ...]]:
        """Output shapes for numeric input shapes; a data-dependent dim is an
        :class:`UpperBound` (its bound)."""
        if self.output_shapes is None:
            return [tuple(in_shapes[0]) for _ in self.outputs]
        values = self.resolve_attrs(attrs)
        shapes = self.output_shapes([list(s) for s in in_shapes], values, NumericDims())
        if len(shapes) != len(self.outputs):
            raise ValueError(
                f"{self.name}: output_shapes gave {len(shapes)} shapes for "
                f"{len(self.outputs)} outputs"
            )
        return [tuple(d for d in s) for s in shapes]

    @property
    def data_dependent(self) -> bool:
        """True when some output's extent is known only after the kernel ran."""
        return any(t.size_tensor for t in self.outputs)

    # -- ONNX ---------------------------------------------------------------------------------
    def make_node(
        self,
        inputs: Sequence[str],
        outputs: Sequence[str],
        name: str | None = None,
        **attrs: Any,
    ):
        """The ONNX node for this plugin, as the TensorRT ONNX parser maps it onto the plugin.

        ``op_type = name``, ``domain = namespace``; every declared attribute is written with
        its declared type (defaults filled in, so the node is self-describing);
        ``plugin_version`` is written only when ``version != "1"``.
        """
        import onnx

        if len(inputs) != len(self.inputs) or len(outputs) != len(self.outputs):
            raise ValueError(
                f"{self.name}: expected {len(self.inputs)} inputs and {len(self.outputs)} "
                f"outputs, got {len(inputs)} and {len(outputs)}"
            )
        values = self.resolve_attrs(attrs)
        node = onnx.helper.make_node(
            self.name, list(inputs), list(outputs), name=name, domain=self.namespace
        )
        for a in self.attributes:
            v = values[a.name]
            if a.type == "float":
                attr = onnx.helper.make_attribute(
                    a.name, float(v), attr_type=onnx.AttributeProto.FLOAT
                )
            elif a.type == "int":
                attr = onnx.helper.make_attribute(a.name, int(v), attr_type=onnx.AttributeProto.INT)
            elif a.type == "string":
                attr = onnx.helper.make_attribute(
                    a.name, str(v), attr_type=onnx.AttributeProto.STRING
                )
            elif a.type == "floats":
                attr = onnx.helper.make_attribute(
                    a.name, [float(x) for x in v], attr_type=onnx.AttributeProto.FLOATS
                )
            else:
                attr = onnx.helper.make_attribute(
                    a.name, [int(x) for x in v], attr_type=onnx.AttributeProto.INTS
                )
            node.attribute.append(attr)
        if self.version != "1":
            node.attribute.append(onnx.helper.make_attribute("plugin_version", self.version))
        return node

    def matches_node(self, node, target=None) -> bool:
        """True when `target`'s ONNX parser would look ``node`` up under this plugin's key.

        The rule lives in ``trtforge.analyzer.plugin_lookup`` (one place for trt-check,
        trt-build, rewrite emission and verification); ``target=None`` means the newest parsers.
        """
        from trtforge.analyzer.plugin_lookup import plugin_keys

        return self.key in plugin_keys(node, target)

    def node_attrs(self, node) -> dict[str, Any]:
        """The node's attributes as plugin field values, defaults filled in."""
        import onnx

        raw = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        return self.resolve_attrs(raw)

    def function_proto(self):
        """The ONNX decomposition as a ``FunctionProto`` (domain = namespace), or ``None``."""
        if self.decomposition is None:
            return None
        import onnx.parser

        fn = onnx.parser.parse_function(self.decomposition)
        if fn.name != self.name or fn.domain != self.namespace:
            raise ValueError(
                f"{self.name}: decomposition declares {fn.domain}::{fn.name}, "
                f"expected {self.namespace}::{self.name}"
            )
        return fn

    def run_reference(self, inputs: Sequence[Any], attrs: Mapping[str, Any] | None = None):
        """Run the NumPy reference in float64 and cast to the declared output dtypes."""
        import numpy as np

        values = self.resolve_attrs(attrs)
        in_dtypes = [_np_name(np.asarray(x).dtype) for x in inputs]
        out_dtypes = self.output_dtypes(in_dtypes)
        # floating inputs reach the reference as float64; integer and bool ones keep their type
        args = [
            np.asarray(x, dtype=np.float64) if t in _FLOAT_NAMES else np.asarray(x)
            for x, t in zip(inputs, in_dtypes, strict=True)
        ]
        res = self.reference(args, **values)
        return [np.asarray(r).astype(_np_dtype(t)) for r, t in zip(res, out_dtypes, strict=False)]

    def reference_op(self):
        """An ``onnx.reference.op_run.OpRun`` subclass evaluating this plugin's nodes.

        Use: ``ReferenceEvaluator(model, new_ops=[spec.reference_op()])``.
        """
        from onnx.reference.op_run import OpRun

        spec = self

        def _run(self, *args, **kwargs):  # noqa: ANN001 - OpRun calling convention
            attrs = {a.name: getattr(self, a.name, None) for a in spec.attributes}
            attrs = {k: v for k, v in attrs.items() if v is not None}
            return tuple(spec.run_reference(args, attrs))

        cls = type(
            spec.name,
            (OpRun,),
            {
                "op_domain": spec.namespace,
                "_run": _run,
                **{a.name: a.default for a in spec.attributes},
            },
        )
        return cls


_FLOAT_NAMES = ("float32", "float16", "bfloat16", "float64")


def _np_name(dtype) -> str:
    name = str(dtype)
    if name == "bfloat16":
        return "bfloat16"
    return name


def _np_dtype(name: str):
    import numpy as np

    if name == "bfloat16":
        import ml_dtypes  # onnx depends on ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)
