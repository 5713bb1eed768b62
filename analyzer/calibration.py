"""Calibration data: the feeds `trt-quantize` runs the float model on to choose INT8 scales.

Three forms, as Polygraphy and TensorRT users already keep them:

* `FILE.npz`: arrays named after the model's inputs, one feed (shaped as the model takes it);
* a folder: every `*.npz` in it (name order), one feed each;
* `script.py[:func]`: a Polygraphy-style data loader — a function (default `load_data`)
  returning or yielding feed dicts — imported with Polygraphy's own script importer.

Every feed is checked against the model before anything runs: the same input names, element
types onnxruntime accepts, and static dims equal to the model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from trtforge.analyzer.errors import UserError


def load_feeds(spec: str) -> list[dict[str, np.ndarray]]:
    """The feeds named by `spec` (a .npz, a folder of them, or script.py[:func]).

    Raises:
        UserError: missing or unreadable data, or a loader that fails or yields nothing.
    """
    path_part = spec.split(":", 1)[0] if spec.endswith(".py") or ".py:" in spec else spec
    if path_part.endswith(".py"):
        return _from_script(spec)
    path = Path(spec)
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise UserError(f"--calibration-data {spec}: no .npz file in that folder", _HINT)
        return [_npz(f) for f in files]
    if not path.is_file():
        raise UserError(f"--calibration-data {spec}: no such file or folder", _HINT)
    return [_npz(path)]


_HINT = (
    "give FILE.npz (numpy.savez(FILE, input_name=array, ...)), a folder of them, or a data "
    "loader script.py[:function]"
)


def _npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise UserError(
            f"--calibration-data {path}: not a readable .npz ({str(err)[:120]})", _HINT
        ) from None


def _from_script(spec: str) -> list[dict[str, np.ndarray]]:
    from polygraphy import mod

    path, _, func = spec.partition(":")
    if not Path(path).is_file():
        raise UserError(f"--calibration-data {spec}: no such script", _HINT)
    try:
        loader = mod.import_from_script(path, func or "load_data")
    except Exception as err:  # noqa: BLE001 - the user's script can raise anything
        raise UserError(
            f"--calibration-data {spec}: cannot import it ({type(err).__name__}: {str(err)[:120]})",
            "the script must define the function (default load_data) yielding feed dicts",
        ) from None
    if loader is None:
        raise UserError(
            f"--calibration-data {spec}: no function '{func or 'load_data'}' in it",
            "define load_data() (or name the function after a colon)",
        )
    try:
        data = loader() if callable(loader) else loader
        feeds = [{k: np.asarray(v) for k, v in dict(feed).items()} for feed in data]
    except Exception as err:  # noqa: BLE001 - the user's script can raise anything
        raise UserError(
            f"--calibration-data {spec}: the loader failed ({type(err).__name__}: "
            f"{str(err)[:120]})",
            "it must yield dicts of input name -> array",
        ) from None
    if not feeds:
        raise UserError(f"--calibration-data {spec}: the loader yielded no feed", "yield one")
    return feeds


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
