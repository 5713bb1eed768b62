"""Python IPluginV3 classes generated from a declaration, running the same CUDA kernel.

``make_creator(spec, trt)`` returns an ``IPluginCreatorV3One`` whose plugins implement
``IPluginV3`` + ``IPluginV3OneCore`` + ``IPluginV3OneBuild`` + ``IPluginV3OneRuntime`` from the
declaration alone: field names and types, output types from ``type_combinations``, outputs shaped
like input 0 (the default, as in the C++ base), format support = LINEAR + declared types.
``enqueue`` hands device pointers to ``trtforge._C.launch`` — the launch adapter the native
plugin's ``enqueue`` calls — so both ways in share one kernel. Device buffers are plain
pointers here; the tests and ``trt-plugin test`` allocate them with CuPy.

Works with ``tensorrt`` and ``tensorrt_rtx`` (pass the module in).
"""

from __future__ import annotations

import logging

from trtforge.plugins.spec import DTYPES, PluginSpec

logger = logging.getLogger("trtforge.plugins")

_TRT_DTYPE_NAMES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "BF16": "bfloat16",
    "INT8": "int8",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "UINT8": "uint8",
}


def dtype_name(trt_dtype) -> str:
    """``trt.DataType`` -> declaration dtype name."""
    return _TRT_DTYPE_NAMES.get(trt_dtype.name, trt_dtype.name.lower())


def trt_dtype(trt, name: str):
    """Declaration dtype name -> ``trt.DataType``."""
    for k, v in _TRT_DTYPE_NAMES.items():
        if v == name:
            return getattr(trt.DataType, k)
    raise KeyError(name)


def _field_type(trt, attr_type: str):
    return {
        "float": trt.PluginFieldType.FLOAT32,
        "floats": trt.PluginFieldType.FLOAT32,
        "int": trt.PluginFieldType.INT32,
        "ints": trt.PluginFieldType.INT32,
        "string": trt.PluginFieldType.CHAR,
    }[attr_type]


def _field_value(field, attr_type: str):
    import numpy as np

    data = field.data
    if attr_type == "string":
        raw = (
            bytes(np.asarray(data, dtype=np.uint8)) if not isinstance(data, (bytes, str)) else data
        )
        return raw.decode() if isinstance(raw, bytes) else raw
    arr = np.asarray(data).reshape(-1)
    if attr_type in ("float", "int"):
        return arr[0].item()
    return arr.tolist()


def _field_array(value, attr_type: str):
    import numpy as np

    if attr_type == "string":
        return np.frombuffer(str(value).encode() + b"\0", dtype=np.int8)
    if attr_type in ("float", "floats"):
        return np.array(value if attr_type == "floats" else [value], dtype=np.float32)
    return np.array(value if attr_type == "ints" else [value], dtype=np.int32)


class _Expr:
    """A TensorRT ``IDimensionExpr`` with Python arithmetic, for declarations' ``output_shapes``."""

    def __init__(self, dims: ExprDims, expr) -> None:
        self.dims, self.expr = dims, expr

    def _op(self, name: str, other, swap: bool = False):
        a, b = self.expr, self.dims.expr(other)
        if swap:
            a, b = b, a
        op = getattr(self.dims.trt.DimensionOperation, name)
        return _Expr(self.dims, self.dims.eb.operation(op, a, b))

    def __add__(self, o):
        return self._op("SUM", o)

    __radd__ = __add__

    def __mul__(self, o):
        return self._op("PROD", o)

    __rmul__ = __mul__

    def __sub__(self, o):
        return self._op("SUB", o)

    def __rsub__(self, o):
        return self._op("SUB", o, swap=True)

    def __floordiv__(self, o):
        return self._op("FLOOR_DIV", o)

    def __rfloordiv__(self, o):
        return self._op("FLOOR_DIV", o, swap=True)


class ExprDims:
    """The ``dims`` of a declaration's ``output_shapes`` on TensorRT's ``IExprBuilder`` (the
    symbolic twin of :class:`trtforge.plugins.spec.NumericDims`)."""

    def __init__(self, trt, eb) -> None:
        self.trt, self.eb = trt, eb

    def expr(self, value):
        if isinstance(value, _Expr):
            return value.expr
        if isinstance(value, int):
            return self.eb.constant(int(value))
        return value  # already an IDimensionExpr

    def const(self, value: int) -> _Expr:
        return _Expr(self, self.eb.constant(int(value)))

    def max(self, a, b) -> _Expr:
        return _Expr(
            self, self.eb.operation(self.trt.DimensionOperation.MAX, self.expr(a), self.expr(b))
        )

    def ceil_div(self, a, b) -> _Expr:
        op = self.trt.DimensionOperation.CEIL_DIV
        return _Expr(self, self.eb.operation(op, self.expr(a), self.expr(b)))

    def size(self, output_index: int, upper) -> _Expr:
        """A data-dependent extent: size-tensor output ``output_index``, at most ``upper``
        (TensorRT plans for half of it)."""
        up = self.expr(upper)
        opt = self.eb.operation(self.trt.DimensionOperation.CEIL_DIV, up, self.eb.constant(2))
        return _Expr(self, self.eb.declare_size_tensor(output_index, opt, up))


def make_plugin_class(spec: PluginSpec, trt):
    """The ``IPluginV3`` class for ``spec`` under the TensorRT module ``trt``."""
    key = f"{spec.namespace}::{spec.name}/{spec.version}"
    n_in = len(spec.inputs)

    class Plugin(
        trt.IPluginV3, trt.IPluginV3OneCore, trt.IPluginV3OneBuild, trt.IPluginV3OneRuntime
    ):
        def __init__(self, attrs: dict | None = None):
            trt.IPluginV3.__init__(self)
            trt.IPluginV3OneCore.__init__(self)
            trt.IPluginV3OneBuild.__init__(self)
            trt.IPluginV3OneRuntime.__init__(self)
            self.plugin_name = spec.name
            self.plugin_version = spec.version
            self.plugin_namespace = spec.namespace
            self.num_outputs = len(spec.outputs)
            self.attrs = spec.resolve_attrs(attrs or {})

        # IPluginV3
        def get_capability_interface(self, type):  # noqa: A002 - TensorRT's name
            return self

        def clone(self):
            return Plugin(dict(self.attrs))

        # build
        def get_output_data_types(self, input_types):
            outs = spec.output_dtypes([dtype_name(t) for t in input_types])
            return [trt_dtype(trt, t) for t in outs]

        def get_output_shapes(self, inputs, shape_inputs, expr_builder):
            if spec.output_shapes is None:
                return [trt.DimsExprs(inputs[0]) for _ in spec.outputs]
            dims = ExprDims(trt, expr_builder)
            in_shapes = [[_Expr(dims, inp[i]) for i in range(len(inp))] for inp in inputs]
            shapes = spec.output_shapes(in_shapes, dict(self.attrs), dims)
            out = []
            for shape in shapes:
                d = trt.DimsExprs(len(shape))
                for i, e in enumerate(shape):
                    d[i] = dims.expr(e)
                out.append(d)
            return out

        def supports_format_combination(self, pos, in_out, num_inputs):
            desc = in_out[pos].desc
            if desc.format != trt.TensorFormat.LINEAR:
                return False
            seen = [dtype_name(in_out[k].desc.type) for k in range(pos + 1)]
            return any(tuple(c[: pos + 1]) == tuple(seen) for c in spec.type_combinations)

        def configure_plugin(self, inp, out):
            pass

        def get_workspace_size(self, inp, out):
            return 0

        def get_valid_tactics(self):
            return []  # one implementation: no tactics to time

        def set_tactic(self, tactic):
            pass  # TensorRT-RTX calls it for plugins with data-dependent outputs too

        # runtime
        def on_shape_change(self, inp, out):
            pass

        def attach_to_context(self, context):
            return self.clone()

        def get_fields_to_serialize(self):
            return trt.PluginFieldCollection(
                [
                    trt.PluginField(
                        a.name, _field_array(self.attrs[a.name], a.type), _field_type(trt, a.type)
                    )
                    for a in spec.attributes
                ]
            )

        def enqueue(self, input_desc, output_desc, inputs, outputs, workspace, stream):
            from trtforge import _C  # the extension; see catalog.extension_path()

            def arg(desc, ptr):
                return (int(ptr), DTYPES[dtype_name(desc.type)][0], tuple(desc.dims))

            _C.launch(
                key,
                [arg(d, p) for d, p in zip(input_desc, inputs, strict=False)],
                [arg(d, p) for d, p in zip(output_desc, outputs, strict=False)],
                dict(self.attrs),
                int(stream),
                int(workspace or 0),
            )

    Plugin.__name__ = Plugin.__qualname__ = f"{spec.name}PythonPlugin"
    Plugin.spec = spec
    Plugin.n_inputs = n_in
    return Plugin


def make_creator(spec: PluginSpec, trt):
    """An ``IPluginCreatorV3One`` for ``spec`` (register it under ``spec.namespace``)."""
    plugin_cls = make_plugin_class(spec, trt)

    class Creator(trt.IPluginCreatorV3One):
        def __init__(self):
            trt.IPluginCreatorV3One.__init__(self)
            self.name = spec.name
            self.plugin_namespace = spec.namespace
            self.plugin_version = spec.version
            self.field_names = trt.PluginFieldCollection(
                [
                    trt.PluginField(
                        a.name,
                        _field_array(a.default if a.default is not None else 0, a.type),
                        _field_type(trt, a.type),
                    )
                    for a in spec.attributes
                ]
            )

        def create_plugin(self, name, fc, phase):
            types = {a.name: a.type for a in spec.attributes}
            attrs = {}
            for f in fc or []:
                if f.name in types:
                    attrs[f.name] = _field_value(f, types[f.name])
            return plugin_cls(attrs)

    Creator.__name__ = Creator.__qualname__ = f"{spec.name}PythonCreator"
    Creator.plugin_class = plugin_cls
    return Creator()
