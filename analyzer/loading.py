"""Loading untrusted ONNX files safely.

The model's protobuf is parsed without its external weights. Every external-data reference is
checked with path arithmetic and `stat` only: a location must resolve inside the model's folder
(no `..`, no absolute path, no symlink that leads out), the file must exist and be large enough.
The outside file is never opened. Weights are loaded only by callers that need them, all
through `load_external_from` (a command's `ModelSession.weights`, e.g. for numerical
verification, and the writer copying them into an output).

A file of LEAN_PARSE_BYTES or more is parsed first without the data of its embedded
weights as well (`LoadedModel.structure`, made by `_wire.lean_model`): a check reads no
weight's values, and protobuf copying a gigabyte of them took about a second. Such a file
is read without the raw data of its initializers of more than 64 KB, too
(`model_bytes.read_sparse`): reading a gigabyte took half a second more. The whole proto
is parsed when first asked for (`LoadedModel.proto`), one weight read when a rule or a
graphsurgeon constant reads its values (`LoadedModel.elided_weight`), and the file's
digest computed when a report shows it, each from the file read again: one changed since
it was loaded is an error (`model_bytes.FileRead`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from trtforge.analyzer._shallow_graph import (
    InitializerHeads,
    _wire,
    data_locations,
    graph_field,
)
from trtforge.analyzer.errors import UserError, short
from trtforge.analyzer.model_bytes import (
    BytesRead,
    FileRead,
    PendingDigest,
    cannot_read,
    read_sparse,
)

log = logging.getLogger("trtforge.loading")

#: protobuf cannot parse a single message of 2 GiB or more.
PROTOBUF_LIMIT = 2**31 - 1

#: files from this size are hashed by a thread while they are parsed.
HASH_MEANWHILE_BYTES = 16 << 20

#: files from this size are parsed without the raw data of their large weights first
#: (`LoadedModel.structure`): what a check reads; the whole proto is parsed when asked for.
LEAN_PARSE_BYTES = 64 << 20

#: such a file is read without the raw data of its weights (rank 2 or more, of an element
#: type inference does not read) of more than this many bytes, besides that of any
#: initializer of more than MAX_INFERENCE_INITIALIZER_BYTES: the lean structure leaves them
#: without data, and a check reads few of them, each from the file when asked
#: (`model_bytes.read_sparse`). A transformer of 100,000 nodes and 536 MB of 16 to 48 KB
#: weights, one for each layer, was copied whole into memory first: ~0.25 s.
SPARSE_WEIGHT_BYTES = 1 << 10


#: files up to this size keep a view of their graph's bytes (`LoadedModel.graph_bytes`): the
#: bytes stay in memory as long as the model does. Larger files are mostly weights: they keep
#: a copy of their graph's nodes instead (`_wire.graph_nodes`).
GRAPH_VIEW_BYTES = 64 << 20

#: the most values of an external initializer `LoadedModel.weight_at` reads for a rule (a
#: trip count, axes, a shape): constants, not weights.
TINY_EXTERNAL_ELEMENTS = 16


@dataclass(frozen=True)
class ExternalRef:
    """One tensor whose data lives in a separate file."""

    tensor: str
    location: str
    offset: int
    length: int | None


@dataclass
class LoadedModel:
    """A parsed model, with what we learnt while loading it.

    Attributes:
        path: the file it came from (None for an in-memory model).
        proto: the ModelProto, external data NOT loaded. For a file of LEAN_PARSE_BYTES or
            more, parsed when first asked for, from the file's bytes (kept until then, or,
            for a file read sparsely, read again).
        sha256: hex digest of the model file's bytes (of the serialized proto if in memory);
            for such a file, computed when first asked for (by a thread meanwhile, or, for
            a file read sparsely, then).
        external: every external-data reference (all validated).
        external_bytes: total size of the external data referenced.
        structure: what to read the model's structure from (`LoadedModel.structure`).
    """

    path: Path | None
    proto: onnx.ModelProto
    sha256: str
    external: list[ExternalRef] = field(default_factory=list)
    external_bytes: int = 0
    #: the top-level graph as the file holds it (a view into the bytes read; for a file over
    #: GRAPH_VIEW_BYTES, a copy of its nodes only): the static backend reads the node columns
    #: from it instead of serializing the parsed graph again. Only valid while `proto` is
    #: unchanged (a session's proto is never changed in place: `session.py`).
    graph_bytes: memoryview | None = field(default=None, repr=False, compare=False)
    #: one byte per top-level initializer, in order: 1 where the file's bytes show that it
    #: holds exactly the raw data its element type and dims need (`_wire.sound_tensors`), so
    #: that `validity` checks only the others; None when not read. Valid as `graph_bytes`.
    sound_initializers: bytes | None = field(default=None, repr=False, compare=False)
    #: each top-level initializer's name, element type and dims, read from the file's bytes
    #: (`graph.InitializerHeads`); None when not read. Valid as `graph_bytes`.
    initializer_heads: InitializerHeads | None = field(default=None, repr=False, compare=False)
    #: the SHA-256 of the lean structure of a lean load (`_speculation.structure_digest`),
    #: to which the types of an inference child that maps the file are bound (`background`);
    #: None for any other load.
    inference_sha256: str | None = field(default=None, repr=False, compare=False)
    #: the model without the raw data of its large sound top-level weights
    #: (`_wire.lean_model`; their positions: `elided`), for a file of LEAN_PARSE_BYTES or
    #: more whose whole proto was not parsed at load; None otherwise.
    lean: onnx.ModelProto | None = field(default=None, repr=False, compare=False)
    #: a lean load's: where its weights' data is read from until `proto` is parsed
    #: (`model_bytes`: the bytes read, or the file for one read sparsely), and position ->
    #: (start, end) in them of the raw data of each initializer at `elided`
    _source: BytesRead | FileRead | None = field(default=None, repr=False, compare=False)
    _spans: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    #: what gives `sha256` when it is first asked for: a thread hashing the bytes read
    #: (`_hashing`), or a `model_bytes.PendingDigest` (`_hashing` False), hashing the bytes
    #: read whole, or the file read sparsely, when asked and while the command waits
    _later_sha256: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    _hashing: bool = field(default=True, repr=False, compare=False)

    @property
    def structure(self) -> onnx.ModelProto:
        """The model to read everything but weights' values from: names, types, dims,
        nodes, attributes, every small tensor's data and every large one that is not sound
        (which validity reports). It is `proto`, or, for a lean load, `lean`, in which the
        initializers at `elided` have no raw data: each is sound, of more than
        LEAN_MIN_ELEMENTS elements, not external, and one that shape inference runs without
        (`inference._weightless`, told so by `heavy_at=elided`). Whoever reads a weight's
        values reads `proto`, or `elided_weight` (`weight_at`)."""
        return self.lean if self.lean is not None else self.proto

    @property
    def elided(self) -> tuple[int, ...]:
        """The positions of the initializers `lean` holds without raw data, in order."""
        return tuple(self._spans)

    @property
    def sha256_later(self) -> str | Callable[[], str]:
        """`sha256`, or, until a lean load's digest is asked for, the function that gives it
        (`report.ModelInfo`: a text report never shows the digest): it waits for the thread
        hashing the bytes read, hashes the bytes read whole (`model_bytes.PendingDigest`), or
        reads and hashes a file read sparsely. The function holds neither the model nor,
        once the thread is done, the file's bytes: a report kept after its model
        (`trt-check` of a folder) keeps no weights."""
        return self._sha256 if self._later_sha256 is None else self._later_sha256

    def elided_weight(self, position: int) -> onnx.TensorProto:
        """A copy of the initializer at `position` of `elided` as the file holds it: its data
        read from the bytes loaded (or the whole proto, once parsed), without parsing the
        whole model."""
        tensor = onnx.TensorProto()
        if self._proto is not None:
            tensor.CopyFrom(self._proto.graph.initializer[position])
            return tensor
        tensor.CopyFrom(self.lean.graph.initializer[position])
        tensor.raw_data = self._source.span(*self._spans[position])
        return tensor

    def end_hashing(self) -> None:
        """Ends the thread hashing a lean load's file, if one does (a process forks only
        without other threads): waits for its digest. A file read sparsely is hashed only
        when its digest is asked for: nothing to wait for."""
        if self._later_sha256 is not None and self._hashing:
            self.sha256  # noqa: B018

    def weight_at(self, position: int) -> onnx.TensorProto | None:
        """The initializer at `position` with its data (`elided_weight`) if `structure`
        holds it without (the reader `GraphView` takes), or, for a tiny one in external
        data (a trip count, an axis), with its bytes read from its file; None for any
        other."""
        if position in self._spans:
            return self.elided_weight(position)
        return self._tiny_external(position)

    def _tiny_external(self, position: int) -> onnx.TensorProto | None:
        """`tiny_external_copy` of the top-level initializer at `position`."""
        initializers = self.structure.graph.initializer
        if self.path is None or not 0 <= position < len(initializers):
            return None
        tensor = initializers[position]
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            return None  # (before the folder is made: a rule reads thousands of small constants)
        return tiny_external_copy(tensor, self.path.parent)

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    @property
    def display_path(self) -> str:
        return str(self.path) if self.path is not None else "<in-memory>"

    @property
    def opsets(self) -> dict[str, int]:
        return {
            ("" if op.domain == "ai.onnx" else op.domain): op.version
            for op in self.structure.opset_import
        }


def _proto(self: LoadedModel) -> onnx.ModelProto:
    if self._proto is None and self._source is not None:  # a lean load's: parsed now
        self._proto, self._source = _parse(self._source.whole(), self.display_path), None
    return self._proto


def _set_proto(self: LoadedModel, proto: onnx.ModelProto | None) -> None:
    self._proto = proto


def _sha256(self: LoadedModel) -> str:
    if self._later_sha256 is not None:
        self._sha256, self._later_sha256 = self._later_sha256(), None
    return self._sha256


def _set_sha256(self: LoadedModel, sha256: str | None) -> None:
    self._sha256 = sha256


# the dataclass's `proto` and `sha256` fields, read through these: a lean load gives them later
LoadedModel.proto = property(_proto, _set_proto, doc="The ModelProto (see `LoadedModel`).")
LoadedModel.sha256 = property(_sha256, _set_sha256, doc="The file's SHA-256 (see `LoadedModel`).")


def iter_graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto of a graph and its subgraphs (initializers and tensor attributes)."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
    for node in graph.node:
        for attr in node.attribute:
            yield from _attribute_tensors(attr)
            if attr.HasField("g"):
                yield from iter_graph_tensors(attr.g)
            for sub in attr.graphs:
                yield from iter_graph_tensors(sub)


def iter_model_tensors(proto: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto of a model: its graph's (`iter_graph_tensors`), then the tensor
    attributes of its model-local functions' nodes, their bodies included (a Constant in a
    function's body holds data as any other: external data there is checked and copied too)."""
    yield from iter_graph_tensors(proto.graph)
    yield from _function_tensors(proto)


def _function_tensors(proto: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """The tensors of the model-local functions: their nodes' tensor attributes (bodies
    included) and the default values of their own attributes (`attribute_proto`, which a
    call that does not set the attribute takes: the parser reads them as a Constant's)."""
    for function in proto.functions:
        for attr in function.attribute_proto:
            yield from _attribute_tensors(attr)
        for node in iter_nodes(function.node):
            for attr in node.attribute:
                yield from _attribute_tensors(attr)


def _attribute_tensors(attr: onnx.AttributeProto) -> Iterator[onnx.TensorProto]:
    """The tensors an attribute holds itself (`t`, `tensors`; not its graphs')."""
    if attr.HasField("t"):
        yield attr.t
    yield from attr.tensors


def iter_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    """Every node of `nodes` (a graph's or a function's) and of their bodies, however deep
    (with a stack)."""
    stack = [iter(nodes)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                stack.append(iter(attr.g.node))
            elif attr.type == onnx.AttributeProto.GRAPHS:
                stack.extend(iter(g.node) for g in attr.graphs)


def tiny_external_copy(tensor: onnx.TensorProto, folder: Path) -> onnx.TensorProto | None:
    """A copy of `tensor` with its data read from its external file when it holds at most
    TINY_EXTERNAL_ELEMENTS values (the location checked again: `_resolve_location`), else
    None (not external, larger, or unreadable). What a rule or pass reads as a constant (a
    Loop's trip count saved with size_threshold=0) is read this way; weights are not."""
    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return None
    count = 1
    for dim in tensor.dims:
        count *= dim
    nbytes = tensor_nbytes(tensor)
    if count > TINY_EXTERNAL_ELEMENTS or nbytes is None:
        return None
    fields = _external_fields(tensor)
    try:
        path = _resolve_location(folder, fields.get("location", ""), tensor.name)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # (never wait on a FIFO)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            handle.seek(int(fields.get("offset", "0") or 0))
            data = handle.read(nbytes)
    except (OSError, ValueError, UserError):
        return None
    if len(data) != nbytes:
        return None
    copy = onnx.TensorProto()
    copy.CopyFrom(tensor)
    del copy.external_data[:]
    copy.data_location = onnx.TensorProto.DEFAULT
    copy.raw_data = data
    return copy


def _external_fields(tensor: onnx.TensorProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _resolve_location(folder: Path, location: str, tensor: str) -> Path:
    """Resolves an external-data location, refusing anything that leaves `folder`."""
    hint = "external data must sit in the model's folder or below it; re-save the model there"
    full, tensor, location = location, short(tensor), short(location)
    if not full:
        raise UserError(f"tensor '{tensor}': external data has an empty location", hint)
    if "\x00" in full:
        raise UserError(f"tensor '{tensor}': external data location contains a NUL byte", hint)
    pure = Path(full)
    if pure.is_absolute() or full.startswith(("/", "\\")) or (len(full) > 1 and full[1] == ":"):
        raise UserError(
            f"tensor '{tensor}': external data location is an absolute path ('{location}')", hint
        )
    parts = full.replace("\\", "/").split("/")
    if ".." in parts:
        raise UserError(
            f"tensor '{tensor}': external data location leaves the model folder ('{location}')",
            hint,
        )
    try:
        root = folder.resolve()
        resolved = (folder / full).resolve()  # follows symlinks without opening the target
    except (OSError, RuntimeError, ValueError) as err:  # a symlink loop, a name too long
        why = "a symlink loop" if isinstance(err, RuntimeError) else _one_line(err)
        raise UserError(
            f"tensor '{tensor}': external data location '{location}' cannot be resolved ({why})",
            "the external data file must be a plain file next to the model; re-save the model",
        ) from None
    if resolved != root and root not in resolved.parents:
        raise UserError(
            f"tensor '{tensor}': external data location '{location}' resolves outside the "
            f"model folder (symlink to '{short(str(resolved))}')",
            hint,
        )
    return resolved


#: what `_check_external` reads of each external tensor: its name, location, offset and length
#: (None where absent) and the bytes its dims and element type need (None: not known)
ExternalRecord = tuple[str, str, str | None, str | None, int | None]


def _named(tensor: str) -> str:
    """How an error names a tensor (made for an error only: a model may hold 50,000)."""
    return f"tensor '{short(tensor)}'"


def _external_records(proto: onnx.ModelProto, graph: bytes | None) -> Iterator[ExternalRecord]:
    """The external tensors `iter_model_tensors` visits, in its order: read from the graph's
    bytes (`graph`, as the file holds it; `_wire.external_initializers`) where only top-level
    initializers there are external (an export's tens of thousands of weights, without a
    Python wrapper for each), else from the protos."""
    from trtforge.analyzer.validity import raw_data_bits

    read = None
    if graph is not None and _wire is not None:
        read = _wire.external_initializers(graph, raw_data_bits())
    if read is not None and not read[1]:
        tensors = iter(_function_tensors(proto))
        for _, name, location, offset, length, nbytes in read[0]:
            yield name, location or "", offset, length, nbytes
    else:
        tensors = iter_model_tensors(proto)
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            fields = _external_fields(tensor)
            location = fields.get("location", "")
            nbytes = tensor_nbytes(tensor)
            yield tensor.name, location, fields.get("offset"), fields.get("length"), nbytes


def _check_external(
    proto: onnx.ModelProto, folder: Path | None, graph: bytes | None = None
) -> tuple[list[ExternalRef], int]:
    """The external data references of `proto` and the bytes they hold, each checked against
    its file (`graph`: the top-level graph's bytes the proto was parsed from, if at hand)."""
    refs: list[ExternalRef] = []
    total = 0
    sizes: dict[Path, int] = {}
    # each location resolved once: an export's thousands of tensors share one or a few files
    # (resolving each again cost ~1 s for 26,000 tensors); a location that fails raises at its
    # first tensor
    targets: dict[str, Path] = {}
    for name, location, offset_text, length_text, nbytes in _external_records(proto, graph):
        try:
            offset = int(offset_text or 0)
            length = int(length_text) if length_text else None
        except ValueError:
            raise UserError(
                f"{_named(name)}: external data offset/length is not a number",
                "the model file is damaged; re-export it",
            ) from None
        if offset < 0 or (length is not None and length < 0):
            raise UserError(
                f"{_named(name)}: negative external data offset/length",
                "the model file is damaged; re-export it",
            )
        if folder is None:
            raise UserError(
                f"{_named(name)} has external data but the model was given in memory",
                "pass the model's path so its external data can be found",
            )
        target = targets.get(location)
        if target is None:
            target = targets[location] = _resolve_location(folder, location, name)
        if target not in sizes:
            try:
                st = target.stat()
            except OSError:
                raise UserError(
                    f"{_named(name)}: external data file '{short(location)}' is missing",
                    f"copy '{short(location)}' next to the model, or re-export with weights "
                    "embedded",
                ) from None
            if not target.is_file():
                raise UserError(
                    f"{_named(name)}: external data location '{short(location)}' is not a file",
                    "the model file is damaged; re-export it",
                )
            if st.st_nlink > 1:
                # a hard link may be a second name of any file of the filesystem; onnx's own
                # loader refuses such files, and every reader here (onnxruntime, the writer's
                # stream copy) must do the same
                raise UserError(
                    f"{_named(name)}: external data file '{short(location)}' has "
                    f"{st.st_nlink} hard links",
                    "give each external data file a single name (copy it rather than "
                    "hard-linking it)",
                )
            sizes[target] = st.st_size
        # without a length, what dims and type need; a length that disagrees with them is an
        # invalid graph (`validity.py`), a file too short is not a model
        end = offset + (length if length is not None else nbytes or 0)
        if end > sizes[target]:
            raise UserError(
                f"{_named(name)}: external data file '{short(location)}' is too short "
                f"({sizes[target]} bytes, needs {end})",
                "the external data file is truncated; copy it again or re-export the model",
            )
        size = length if length is not None else sizes[target] - offset
        total += size
        refs.append(ExternalRef(name, location, offset, length))
    return refs, total


def tensor_nbytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes the raw data of `tensor` takes by its dims and element type (None: unknown, e.g.
    STRING, an unknown element type or a negative dim)."""
    from trtforge.analyzer.validity import element_bits

    bits = element_bits(tensor.data_type)
    dims = list(tensor.dims)
    if bits is None or any(d < 0 for d in dims):
        return None
    count = 1
    for d in dims:
        count *= d
    return (count * bits + 7) // 8


def _validate(proto: onnx.ModelProto, source: str) -> None:
    if proto.ir_version <= 0 or not proto.HasField("graph"):
        raise UserError(
            f"{source}: not an ONNX model (no IR version or no graph)",
            "pass a .onnx file exported by torch.onnx, tf2onnx or onnx.save",
        )
    if len(proto.graph.node) == 0:
        raise UserError(
            f"{source}: the model's graph has no nodes",
            "export the model again; an empty graph has nothing to build",
        )


def _one_line(err: Exception, limit: int = 80) -> str:
    return " ".join(str(err).split())[:limit]


def require_model_file(path: Path) -> os.stat_result:
    """The `stat` of a model file to read, or the UserError that says why it cannot be:
    missing, a folder, not a regular file (a FIFO or a device would block or never end
    when read), or not reachable (a folder on the way this user may not enter, a name too
    long, a link loop)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL byte
        raise UserError(
            f"{path}: no such file", "check the path; the model must be a .onnx file"
        ) from None
    except OSError as err:
        raise UserError(
            f"{path}: cannot read ({err.strerror or err})",
            "check the path, and the permissions of the file and of the folders above it",
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{path}: is a directory", "pass the .onnx file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{path}: not a regular file", "pass a .onnx file saved on disk")
    return info


def load_model(
    model: str | os.PathLike | onnx.ModelProto | bytes,
    folder: Path | None = None,
    hash_meanwhile: bool = True,
) -> LoadedModel:
    """Loads and validates a model without loading its external weights.

    Args:
        model: a path, a ModelProto, or serialized bytes.
        folder: for a ModelProto made from a model file (a local function's call inlined on
            its own), that file's folder: its external data is found and checked there.
        hash_meanwhile: for a file of LEAN_PARSE_BYTES or more parsed lean, whose digest
            only a JSON or SARIF report shows: the caller will ask for it, so hash it while
            the command goes on — by a thread (for a file read sparsely, only where a
            prefetch forked the inference child already: a thread keeps a process from
            forking one), else a piece at a time while the command waits for its child;
            False: only if asked (`model_bytes.PendingDigest`: a text report never waits
            for 0.2 s of hashing a 230 MB file, nor shares a core with it).

    Raises:
        UserError: the file is missing, not a model, damaged, or its external data is unsafe.
    """
    if isinstance(model, onnx.ModelProto):
        data = model.SerializeToString() if model.ByteSize() < PROTOBUF_LIMIT else b""
        digest = hashlib.sha256(data).hexdigest()
        _validate(model, "<in-memory model>")
        external = _has_external(data) if data else _walk_finds_external(model)
        external = external or _functions_find_external(model)
        refs, total = _check_external(model, folder) if external else ([], 0)
        return LoadedModel(None, model, digest, refs, total)
    if isinstance(model, bytes):
        proto = _parse(model, "<bytes>")
        _validate(proto, "<bytes>")
        return _with_graph_reads(LoadedModel(None, proto, hashlib.sha256(model).hexdigest()), model)

    path = Path(model)
    size = require_model_file(path).st_size
    if size == 0:
        raise UserError(f"{path}: the file is empty", "export the model again")
    if size > PROTOBUF_LIMIT:
        raise UserError(
            f"{path}: the file is {size / 2**30:.1f} GiB; a single protobuf cannot exceed 2 GiB",
            "save the model with external data (onnx.save(..., save_as_external_data=True))",
        )
    data, source, lean, digest, hashing = _read(path, size, hash_meanwhile)
    # what the proto is parsed from: the file's bytes, or its lean structure (the same but the
    # left-out weights' raw data: a few megabytes, where their reads walk hundreds)
    parsed = data if lean is None else lean[0]
    try:
        proto = _parse(parsed, str(path))
        _validate(proto, str(path))
        external = _has_external(parsed) or _functions_find_external(proto)
        refs, total = ([], 0)
        if external:
            refs, total = _check_external(proto, path.parent, graph_field(parsed))
    except BaseException:
        if not isinstance(source, FileRead):
            digest()  # the hashing thread ends with the load
        raise
    if lean is None:
        loaded = LoadedModel(path, proto, digest(), refs, total)
    else:  # the whole proto and the digest when asked for
        loaded = LoadedModel(path, None, None, refs, total, lean=proto)
        loaded._source, loaded._spans, loaded._later_sha256 = source, lean[1], digest
        loaded._hashing = hashing
    # (a sparse read's bytes hold zeros where it left weights out: no view of its graph,
    # whose initializers' raw data `GraphView.constant_rows` reads)
    loaded = _with_graph_reads(loaded, data, whole=isinstance(source, BytesRead), parsed=parsed)
    # what an inference child that maps the file (a prefetch, or one started after loading:
    # `background`) binds its types to, for a lean load (whose file is hashed only when
    # asked): the digest of the lean structure it was parsed from (a few milliseconds:
    # `_speculation.structure_digest`); otherwise the file's digest, computed anyway
    if lean is not None:
        loaded.inference_sha256 = hashlib.sha256(lean[0]).hexdigest()
    from trtforge.analyzer.outputs import protect  # outputs never replace what was read

    protect(
        path, *(loaded.folder / location for location in dict.fromkeys(r.location for r in refs))
    )
    # onnxruntime-genai's config beside the model: every command may read it (dims,
    # profiles, calibration sizes), and none writes it
    config = loaded.folder / "genai_config.json"  # (dim_profiles.GENAI_CONFIG)
    if os.path.lexists(config):
        protect(config)
    return loaded


def _with_graph_reads(
    loaded: LoadedModel, data: bytes, whole: bool = True, parsed: bytes | None = None
) -> LoadedModel:
    """`loaded` with what is read from the file's bytes (`data`), by the native reader when
    it is built: which initializers are sound (`sound_initializers`), and, from the bytes its
    proto was parsed from (`parsed`: its lean structure, or `data` itself), their heads
    (`initializer_heads`) and the graph's bytes (`graph_bytes`: a copy of its nodes only for
    a large file, or where `data` does not hold every byte of the file, `whole` False)."""
    graph = graph_field(data)
    structure = graph if parsed is None or parsed is data else graph_field(parsed)
    if graph is not None and _wire is not None:
        from trtforge.analyzer.validity import raw_data_bits

        loaded.sound_initializers = _wire.sound_tensors(graph, raw_data_bits())
        heads = _wire.initializer_heads(structure) if structure is not None else None
        if heads is not None:
            loaded.initializer_heads = InitializerHeads(*heads)
    graph = structure
    if graph is not None and (len(data) > GRAPH_VIEW_BYTES or not whole):
        graph = _wire.graph_nodes(graph, not whole) if _wire is not None else None
    # read-only: a sparse read's buffer is writable memory that nothing writes once loaded,
    # and the node reader takes views of a read-only one's large attributes (a model whose
    # weights are in Constant nodes) where it copies a writable one's (`_wire.node_columns`)
    loaded.graph_bytes = memoryview(graph).toreadonly() if graph is not None else None
    return loaded


def _read(path: Path, size: int, hash_meanwhile: bool = True):
    """(data, source, lean, digest, hashing) of the model file `path` of `size` bytes: its
    bytes (where a sparse read skipped a payload, zeros); where the data left out of the lean
    structure is read from (`LoadedModel._source`); `_lean`'s result (None: parse `data`);
    the function giving the file's SHA-256 (`hash_meanwhile`: as `load_model`'s); and
    whether a thread may be computing it (`LoadedModel.end_hashing` waits for it).

    A file of LEAN_PARSE_BYTES or more is read sparsely (`model_bytes.read_sparse`): the raw
    data of more than MAX_INFERENCE_INITIALIZER_BYTES of its initializers, and of more than
    SPARSE_WEIGHT_BYTES of its weights, is left in the file, to be read when asked for;
    `_lean` leaves out of the structure every payload skipped (what it keeps is read now:
    an initializer that is not sound, or one inference reads)."""
    sparse = None
    if size >= LEAN_PARSE_BYTES:
        from trtforge.analyzer._speculation import WEIGHT_RULE

        sparse = read_sparse(path, WEIGHT_RULE[0], SPARSE_WEIGHT_BYTES, WEIGHT_RULE[1])
    if sparse is None:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise cannot_read(path, err) from None
        lean = _lean(data) if size >= LEAN_PARSE_BYTES else None
        return data, BytesRead(data), lean, _digest_meanwhile(data), True
    data, lean = sparse.data, _lean(sparse.data)
    left_out = set(lean[1].values()) if lean is not None else set()
    kept = [(at, length) for at, length in sparse.skipped if (at, at + length) not in left_out]
    if kept:  # read what the structure holds, and make it again
        sparse.read_skipped(kept)
        lean = _lean(data)
    if len(kept) == len(sparse.skipped):  # the whole file is read
        if lean is None or hash_meanwhile:  # (parsed whole: its digest is asked for at once)
            return data, BytesRead(data), lean, _digest_meanwhile(data), True
        source = BytesRead(data)  # hashed if asked after all
        return data, source, lean, PendingDigest(source, sparse.file), False
    # the file read again when asked; where the caller will ask, by a thread while the
    # command goes on if its inference child is forked already (a prefetch), else a piece at
    # a time while the command waits for the child (a thread would keep it from forking)
    digest = PendingDigest(None, sparse.file)
    if hash_meanwhile:
        from trtforge.analyzer.background import computed_meanwhile, prefetching, while_waiting

        if prefetching(path):
            return data, sparse.file, lean, computed_meanwhile(sparse.file.sha256), True
        while_waiting(digest.advance)
    return data, sparse.file, lean, digest, False


def _lean(data: bytes) -> tuple[bytes, dict[int, tuple[int, int]]] | None:
    """The serialized model without the raw data of its large sound top-level weights, and
    position -> (start, end) of each one's raw data in `data` (`_wire.lean_model`: sound, of
    more than LEAN_MIN_ELEMENTS elements, and one that shape inference runs without:
    `inference._is_heavy`); None when the native reader is not built or finds no
    such initializer (or bytes it does not understand: protobuf parses them)."""
    from trtforge.analyzer._speculation import lean_structure

    made = lean_structure(data)
    if made is None:
        return None
    return made[0], {position: (start, start + size) for position, start, size in made[1]}


def _digest_meanwhile(data: bytes):
    """The function giving `data`'s SHA-256 (hex): for a file of HASH_MEANWHILE_BYTES or
    more, hashed by a thread while the caller parses it (`background.digest_meanwhile`: a
    1 GB model's digest, ~0.5 s, then costs no time where a second core is free)."""
    if len(data) < HASH_MEANWHILE_BYTES:
        digest = hashlib.sha256(data).hexdigest()  # (~10 ms: the function holds no bytes)
        return lambda: digest
    from trtforge.analyzer.background import digest_meanwhile

    return digest_meanwhile(data)


def _has_external(serialized: bytes) -> bool:
    """False when no tensor `iter_graph_tensors` visits in the serialized model is external
    (then `_check_external` finds nothing), read from the bytes instead of walking every
    node's attributes in Python: by the native reader (`_wire.weight_facts`, which skips
    weights by their length: ~0.05 s for 1 GB), else by one parse of a projection of the
    model (`_shallow_graph.data_locations`, which copies the weights it does not declare).
    Both count a data_location written twice as external if either value is."""
    if _wire is not None:
        facts = _wire.weight_facts(serialized)
        if facts is not None:
            return facts[1]
    return onnx.TensorProto.EXTERNAL in data_locations(serialized)


def _functions_find_external(proto: onnx.ModelProto) -> bool:
    """Whether a tensor in a model-local function's body is external (`_has_external` reads
    the graph's tensors only; functions are few and small)."""
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in _function_tensors(proto))


def _walk_finds_external(proto: onnx.ModelProto) -> bool:
    return any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in iter_graph_tensors(proto.graph)
    )


def _parse(data: bytes, source: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:  # (protobuf takes bytes, or a view of the memory a sparse read filled)
        proto.ParseFromString(data if isinstance(data, bytes) else memoryview(data))
    except (DecodeError, RuntimeWarning, ValueError) as err:
        if "depth" in str(err).lower() or "recursion" in str(err).lower():
            raise UserError(
                f"{source}: the model nests subgraphs (If/Loop/Scan bodies) or messages deeper "
                "than protobuf can parse (100 levels)",
                "flatten the nested control flow in the exporter (e.g. fold constant If "
                "conditions) and re-export",
            ) from None
        raise UserError(
            f"{source}: not a valid ONNX protobuf ({type(err).__name__}: {_one_line(err)})",
            "the file is truncated or not an ONNX model; re-export or re-download it",
        ) from None
    return proto


def load_external_weights(loaded: LoadedModel) -> onnx.ModelProto:
    """A copy of the model with its external data loaded (for numerical verification only)."""
    proto = onnx.ModelProto()
    proto.CopyFrom(loaded.proto)
    load_external_into(proto, loaded)
    return proto


def load_external_into(proto: onnx.ModelProto, loaded: LoadedModel) -> None:
    """Loads the external data of `proto` (a model derived from `loaded`) from `loaded`'s folder.

    Raises:
        UserError: onnx refuses the data (a file with several hard links, a changed file).
    """
    if not loaded.external or loaded.folder is None:
        return
    load_external_from(proto, loaded.folder, loaded.display_path)


def load_external_from(proto: onnx.ModelProto, folder: Path, source: str = "the model") -> None:
    """Loads the external data of `proto` from `folder` (whose references `load_model` checked
    when it loaded the model `proto` derives from): where every trtforge command reads weights.

    Raises:
        UserError: onnx refuses the data (a file with several hard links, a changed file).
    """
    from onnx.external_data_helper import load_external_data_for_model

    try:
        load_external_data_for_model(proto, str(folder))
    except (onnx.checker.ValidationError, OSError, ValueError) as err:
        raise UserError(
            f"{source}: cannot read its external data ({_one_line(err, 200)})",
            "give each external data file a single name (copy it rather than hard-linking "
            "it) and keep it unchanged while trtforge runs",
        ) from None
