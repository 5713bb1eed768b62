"""Writing a model atomically: all of it, or nothing.

The model (and its external data file, if it has one) is staged in an `OutputSet`
(`trtforge.analyzer.outputs`: the rules for every file trtforge writes) and renamed into place
with the command's other outputs — the data file first, the model last, so a model file at OUT
is always complete. OUT must not be IN or a file IN depends on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnx

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import (
    PROTOBUF_LIMIT,
    LoadedModel,
    iter_graph_tensors,
    load_external_data,
)
from trtforge.analyzer.outputs import OutputSet, check_output
from trtforge.analyzer.outputs import write_text as outputs_write_text

log = logging.getLogger("trtforge.rewrite")

#: tensors at least this large go to the external data file when the model needs one.
EXTERNAL_THRESHOLD = 1024


def has_external(proto: onnx.ModelProto) -> bool:
    return any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in iter_graph_tensors(proto.graph)
    )


def data_file_name(out: Path) -> str:
    return out.name + ".data"


def check_destination(out: Path, source: LoadedModel | None) -> None:
    """Refuses an OUT that would overwrite IN or IN's external data.

    Raises:
        UserError: OUT is IN, or a file IN depends on, or not a path trtforge writes
            (`outputs.check_output`).
    """
    check_output(out)
    if source is None or source.path is None:
        return
    real = os.path.realpath  # never raises (a link loop stays unresolved)
    protected = {real(source.path)}
    protected.update(real(source.folder / ref.location) for ref in source.external)
    for candidate in (out, out.parent / data_file_name(out)):
        if real(candidate) in protected:
            raise UserError(
                f"{out}: writing it would overwrite the input model or its data ('{candidate}')",
                "choose a different -o path; the input is never modified",
            )


def write_model(
    proto: onnx.ModelProto, out: str | os.PathLike, source: LoadedModel | None = None
) -> Path:
    """Writes `proto` to `out` atomically, with its external data if it has or needs any.

    Args:
        proto: the model; external-data references are resolved against `source`'s folder.
        out: the destination path.
        source: the model `proto` was derived from (for its external data and folder).

    Returns:
        The path written.
    """
    with OutputSet() as outputs:
        stage_model(outputs, proto, out, source)
        outputs.commit()
    return Path(out)


def stage_model(
    outputs: OutputSet, proto: onnx.ModelProto, out: str | os.PathLike, source: LoadedModel | None
) -> Path:
    """Stages `proto` (and its external data file) for `out` in `outputs`, to be committed
    with the other outputs of the command (e.g. its `--report`).

    Returns:
        The staged model file: complete and loadable (its data beside it) until the commit.
    """
    out = Path(out)
    check_destination(out, source)
    if not has_external(proto) and proto.ByteSize() < PROTOBUF_LIMIT:
        return outputs.add_bytes(out, proto.SerializeToString())
    return _stage_with_data(outputs, proto, out, source)


def _stage_with_data(
    outputs: OutputSet, proto: onnx.ModelProto, out: Path, source: LoadedModel | None
) -> Path:
    from onnx.external_data_helper import (
        convert_model_to_external_data,
        write_external_data_tensors,
    )

    full = onnx.ModelProto()
    full.CopyFrom(proto)
    if has_external(full):
        if source is None or source.folder is None:
            raise UserError(
                "the model's external data has no folder to be read from", "pass the model by path"
            )
        load_external_data(full, source.folder)
    data_name = data_file_name(out)
    check_output(out.parent / data_name, "-o (its external data file)")
    scratch = outputs.scratch_dir(out)
    convert_model_to_external_data(
        full, all_tensors_to_one_file=True, location=data_name, size_threshold=EXTERNAL_THRESHOLD
    )
    try:
        full = write_external_data_tensors(full, str(scratch))
        data_tmp = scratch / data_name
        model_tmp = scratch / out.name
        with open(model_tmp, "wb") as handle:
            handle.write(full.SerializeToString())
    except OSError as err:
        raise UserError(
            f"{out}: cannot write it ({err.strerror or err})",
            "check the folder's permissions and free space, or choose another -o path",
        ) from None
    if data_tmp.exists():
        outputs.add_file(data_tmp, out.parent / data_name, "-o (its external data file)")
    outputs.add_file(model_tmp, out)
    return model_tmp


def write_text(text: str, out: str | os.PathLike) -> None:
    """Writes a small text file (a report) atomically."""
    outputs_write_text(out, text, "--report")
