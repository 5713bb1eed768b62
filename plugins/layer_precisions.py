"""Per-layer precision constraints for trt-build (`--layer-precisions name:fp32,...`).

The names are ONNX node names — what `trt-quantize --check-fp16` prints. TensorRT's ONNX parser
names each layer after the node it imports (a node imported as several layers gives the others
the node's name plus a suffix), so a name selects its layer, else the layers named `name_…`.

TensorRT (weakly typed, with --fp16/--bf16): the selected layers get `precision` and output
types set, and the builder is told to obey them. TensorRT-RTX networks are strongly typed: a
layer computes in the type the model gives it, so a constraint is met when the layer's outputs
already have that type (an FP32 model keeps every layer FP32) and refused otherwise — the fix
then belongs in the model (keep those nodes FP32 when converting the rest to FP16).
"""

from __future__ import annotations

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.fp16_check import parse_precision_spec

_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def parse(spec_items: list[str], node_names: set[str]) -> dict[str, str]:
    """The constraints of the `--layer-precisions` values, checked against the model's nodes
    (before TensorRT loads).

    Raises:
        UserError: bad syntax or a name that is no node of the model.
    """
    wanted: dict[str, str] = {}
    for spec in spec_items:
        try:
            wanted.update(parse_precision_spec(spec))
        except ValueError as err:
            raise UserError(
                f"--layer-precisions: {err}", "write NODE:fp32[,NODE:fp16...]"
            ) from None
    unknown = sorted(set(wanted) - node_names)
    if unknown:
        raise UserError(
            f"--layer-precisions names {len(unknown)} node(s) the model does not have: "
            f"{', '.join(unknown[:5])}",
            "use ONNX node names, as trt-quantize --check-fp16 prints them",
        )
    return wanted


def apply(trt, network, config, wanted: dict[str, str], is_rtx: bool) -> dict[str, dict]:
    """Applies the constraints to the parsed network; returns what each name selected.

    Raises:
        UserError: a name selecting no layer, or (TensorRT-RTX) a layer typed otherwise.
    """
    if not wanted:
        return {}
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    applied: dict[str, dict] = {}
    for name, precision in wanted.items():
        chosen = [layer for layer in layers if layer.name == name] or [
            layer for layer in layers if layer.name.startswith(name + "_")
        ]
        if not chosen:
            raise UserError(
                f"--layer-precisions {name}: the parsed network has no layer of that node "
                "(folded away or renamed by the parser)",
                "drop it, or name another node of the same computation",
            )
        dtype = getattr(trt.DataType, _TYPES[precision].upper(), None) or getattr(
            trt, _TYPES[precision]
        )
        if is_rtx:
            typed = {
                str(layer.get_output(i).dtype).split(".")[-1].lower()
                for layer in chosen
                for i in range(layer.num_outputs)
            }
            want = str(dtype).split(".")[-1].lower()
            if typed - {want}:
                raise UserError(
                    f"--layer-precisions {name}:{precision}: TensorRT-RTX networks are strongly "
                    f"typed and this layer computes in {', '.join(sorted(typed))}",
                    "keep the node in that type in the model itself (e.g. onnxconverter-common "
                    "convert_float_to_float16(..., node_block_list=[...]))",
                )
            how = "met by the model's types (strongly typed network)"
        else:
            for layer in chosen:
                layer.precision = dtype
                for i in range(layer.num_outputs):
                    layer.set_output_type(i, dtype)
            flag = getattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS", None)
            if flag is not None:
                config.set_flag(flag)
            how = "precision constraint (obeyed)"
        applied[name] = {
            "precision": precision,
            "layers": [layer.name for layer in chosen],
            "how": how,
        }
    return applied
