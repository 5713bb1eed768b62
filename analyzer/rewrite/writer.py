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
    iter_model_tensors,
    load_external_into,
)
from trtforge.analyzer.outputs import OutputSet, check_output
from trtforge.analyzer.outputs import write_text as outputs_write_text

log = logging.getLogger("trtforge.rewrite")

CHUNK = 1 << 20
#: tensors at least this large go to the external data file when the model needs one.
EXTERNAL_THRESHOLD = 1024


def _write_chunks(handle, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        handle.write(view[start : start + CHUNK])


def _umask_mode() -> int:
    """The mode a plainly created file gets (0666 minus the umask); temp files start at 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        _write_chunks(handle, data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, _umask_mode())


def has_external(proto: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in iter_model_tensors(proto))


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
    data_name = data_file_name(out)
    check_output(out.parent / data_name, "-o (its external data file)")
    scratch = outputs.scratch_dir(out)
    try:
        if source is not None and source.folder is not None:
            _write_streamed(proto, out, source.folder, scratch)
        else:
            _write_loaded(proto, out, source, scratch)
    except OSError as err:
        raise UserError(
            f"{out}: cannot write it ({err.strerror or err})",
            "check the folder's permissions and free space, or choose another -o path",
        ) from None
    if (scratch / data_name).exists():
        outputs.add_file(scratch / data_name, out.parent / data_name, "-o (its external data file)")
    outputs.add_file(scratch / out.name, out)
    return scratch / out.name


def _copy_range(src, dst, offset: int, length: int) -> None:
    """Copies `length` bytes at `offset` of `src` to the end of `dst` (a buffered file), in
    the kernel where it can (`os.copy_file_range`), else through a 1 MiB buffer.

    The kernel copy writes to the descriptor, beneath `dst`'s buffer: what `dst` holds is
    flushed first, the copy is placed at an explicit offset (the end), and `dst` is moved past
    it after — else bytes still in the buffer (the alignment padding) land after the copied
    tensor, which then sits where no offset says."""
    dst.flush()
    end = dst.seek(0, os.SEEK_END)
    copy = getattr(os, "copy_file_range", None)
    done = 0
    if copy is not None:
        try:
            while done < length:
                n = copy(src.fileno(), dst.fileno(), length - done, offset + done, end + done)
                if n == 0:
                    break
                done += n
        except OSError:
            pass  # e.g. across file systems on old kernels: fall back to read/write
    dst.seek(end + done)
    if done < length:
        src.seek(offset + done)
        while done < length:
            chunk = src.read(min(CHUNK, length - done))
            if not chunk:
                raise UserError(
                    "the model's external data file is shorter than its tensors say",
                    "check that the .data file beside the model is complete",
                )
            dst.write(chunk)
            done += len(chunk)


def _write_streamed(proto: onnx.ModelProto, out: Path, folder: Path, tmpdir: Path) -> None:
    """Writes `proto` and one data file, copying each external tensor's bytes straight from the
    input's data files (never loaded into memory; each range copied once) and moving large
    new inline tensors out. Offsets are aligned to 64 bytes for memory-mapping readers."""
    from onnx import numpy_helper

    from trtforge.analyzer.loading import _external_fields, _resolve_location

    full = onnx.ModelProto()
    full.CopyFrom(proto)  # weights are references here: a small copy
    data_name = data_file_name(out)
    data_tmp = tmpdir / data_name
    sources: dict[str, object] = {}
    resolved: dict[str, Path] = {}  # location -> path (checked once per file, not per tensor)
    copied: dict[tuple[str, int, int], int] = {}
    try:
        with open(data_tmp, "wb+") as dst:

            def place(tensor: onnx.TensorProto, offset: int, length: int) -> None:
                del tensor.external_data[:]
                tensor.data_location = onnx.TensorProto.EXTERNAL
                for key, value in (("location", data_name), ("offset", offset), ("length", length)):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, str(value)

            def align() -> int:
                end = dst.seek(0, os.SEEK_END)
                pad = (-end) % 64
                if pad:
                    dst.write(b"\0" * pad)
                return end + pad

            for tensor in iter_model_tensors(full):
                if tensor.data_location == onnx.TensorProto.EXTERNAL:
                    fields = _external_fields(tensor)
                    location = fields.get("location", "")
                    path = resolved.get(location)
                    if path is None:
                        path = resolved[location] = _resolve_location(folder, location, tensor.name)
                    offset = int(fields.get("offset", 0) or 0)
                    length = fields.get("length")
                    length = int(length) if length else path.stat().st_size - offset
                    key = (str(path), offset, length)
                    if key not in copied:
                        if str(path) not in sources:
                            sources[str(path)] = open(path, "rb")  # noqa: SIM115
                        start = align()
                        _copy_range(sources[str(path)], dst, offset, length)
                        copied[key] = start
                    place(tensor, copied[key], length)
                elif tensor.ByteSize() >= EXTERNAL_THRESHOLD and tensor.data_type not in (
                    onnx.TensorProto.STRING,
                    onnx.TensorProto.UNDEFINED,
                ):
                    raw = (
                        tensor.raw_data
                        if tensor.HasField("raw_data")
                        else numpy_helper.to_array(tensor).tobytes()
                    )
                    start = align()
                    _write_chunks(dst, raw)
                    for field in (
                        "raw_data",
                        "float_data",
                        "int32_data",
                        "int64_data",
                        "double_data",
                        "uint64_data",
                        "string_data",
                    ):
                        tensor.ClearField(field)
                    place(tensor, start, len(raw))
            dst.flush()
            _check_placed(copied, sources, dst)
        _fsync_write(tmpdir / out.name, full.SerializeToString())
    finally:
        for handle in sources.values():
            handle.close()


#: bytes compared at each end of a copied tensor (`_check_placed`)
PLACEMENT_PROBE = 64


def _check_placed(copied: dict[tuple[str, int, int], int], sources: dict, dst) -> None:
    """Reads back both ends of every tensor copied into the data file and compares them with
    the input's: a tensor written anywhere but where its offset says (the copy beneath the
    file's buffer once did that, unseen by verification, which runs on the model in memory)
    stops the write — an error, and nothing is written — instead of shipping wrong weights.
    Costs two small reads a tensor."""
    for (path, offset, length), start in copied.items():
        probe = min(PLACEMENT_PROBE, length)
        for at in {0, length - probe}:
            src = sources[path]
            src.seek(offset + at)
            want = src.read(probe)
            dst.seek(start + at)
            if dst.read(probe) != want:
                raise RuntimeError(
                    f"the data file written holds other bytes than '{path}' at offset "
                    f"{offset + at} where its tensor was placed"
                )
    dst.seek(0, os.SEEK_END)


def _write_loaded(
    proto: onnx.ModelProto, out: Path, source: LoadedModel | None, tmpdir: Path
) -> None:
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
        load_external_into(full, source)
    data_name = data_file_name(out)
    convert_model_to_external_data(
        full,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=EXTERNAL_THRESHOLD,
    )
    full = write_external_data_tensors(full, str(tmpdir))
    _fsync_write(tmpdir / out.name, full.SerializeToString())


def write_text(text: str, out: str | os.PathLike) -> None:
    """Writes a small text file (a report) atomically."""
    outputs_write_text(out, text, "--report")
