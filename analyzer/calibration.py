"""Calibration data: the feeds `trt-quantize` runs the float model on to choose INT8 scales.

Three forms, as Polygraphy and TensorRT users already keep them:

* `FILE.npz`: arrays named after the model's inputs, one feed (shaped as the model takes it);
* a folder: every `*.npz` in it (name order), one feed each;
* `script.py[:func]`: a Polygraphy-style data loader — a function (default `load_data`)
  returning or yielding feed dicts — imported with Polygraphy's own script importer.

Every feed is checked against the model before anything runs: the same input names, element
types onnxruntime accepts, static dims equal to the model's, and finite values (a NaN or an
infinity has no INT8 scale).
"""

from __future__ import annotations

import os

import numpy as np
import onnx

from trtforge.analyzer.errors import UserError


def is_script(spec: str) -> bool:
    """Whether a --calibration-data `spec` names a data-loader script (`FILE.py[:FUNC]`)
    rather than a .npz file or a folder of them."""
    path = spec.split(":", 1)[0] if ".py:" in spec else spec
    return path.endswith(".py")


def protect_feeds(spec: str) -> None:
    """Marks the files a --calibration-data `spec` names as inputs of the command
    (`rewrite.inputs.protect_feeds`), before anything is read."""
    from trtforge.analyzer.rewrite.inputs import protect_feeds

    if is_script(spec):
        protect_feeds([], spec)
    else:
        protect_feeds([spec])


def load_feeds(spec: str) -> list[dict[str, np.ndarray]]:
    """The feeds named by `spec` (a .npz, a folder of them, or script.py[:func]), read by the
    same loaders as trt-rewrite's --inputs and --data-loader-script.

    Raises:
        UserError: missing or unreadable data, or a loader that fails or yields nothing.
    """
    from trtforge.analyzer.rewrite import inputs

    flag = "--calibration-data"
    if is_script(spec):
        candidates = inputs.load_script(spec, flag)
    elif os.path.exists(spec):  # False, not an error, for a path it cannot look at
        candidates = inputs.load_npz([spec], flag)
    else:
        raise UserError(
            f"{flag} {spec}: no such file or folder",
            "give FILE.npz (numpy.savez(FILE, input_name=array, ...)), a folder of them, or a "
            "data loader script.py[:function]",
        )
    return [step.feed for candidate in candidates for step in candidate.steps]


def check_feeds(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], what: str) -> None:
    """Raises UserError unless every feed names exactly the model's inputs, with their element
    types and static dims."""
    inits = {i.name for i in model.graph.initializer}
    inputs = {v.name: v for v in model.graph.input if v.name not in inits}
    for index, feed in enumerate(feeds):
        where = f"{what} sample {index}"
        missing = sorted(set(inputs) - set(feed))
        extra = sorted(set(feed) - set(inputs))
        if missing or extra:
            raise UserError(
                f"{where}: inputs {missing or '[]'} missing, {extra or '[]'} not model inputs",
                f"name the arrays after the model inputs: {', '.join(inputs)}",
            )
        for name, value in feed.items():
            tensor = inputs[name].type.tensor_type
            want = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
            if value.dtype != want:
                raise UserError(
                    f"{where}: '{name}' is {value.dtype}, the model takes {want}",
                    f"save it as {want} (array.astype(numpy.{want}))",
                )
            if value.dtype.kind in "fc" and not np.isfinite(value).all():
                raise UserError(
                    f"{where}: '{name}' holds NaN or infinite values",
                    "calibrate on finite samples, as the model sees them in deployment (an "
                    "additive attention mask: a large negative number such as -1e4, not -inf)",
                )
            dims = tensor.shape.dim
            if len(dims) != value.ndim or any(
                d.HasField("dim_value") and d.dim_value != size
                for d, size in zip(dims, value.shape, strict=False)
            ):
                shape = [d.dim_value if d.HasField("dim_value") else "?" for d in dims]
                raise UserError(
                    f"{where}: '{name}' has shape {list(value.shape)}, the model takes {shape}",
                    "give one feed per sample, shaped exactly as the model takes it",
                )
            if value.size == 0 and value.ndim:
                raise UserError(
                    f"{where}: '{name}' has shape {list(value.shape)}: no element to calibrate on",
                    "give samples with data (a dynamic dim of at least 1)",
                )
