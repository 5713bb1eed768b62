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
            return [trt.DimsExprs(inputs[0]) for _ in spec.outputs]

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
