"""Where a lean load reads what it left out: a weight's data, the whole file, its digest.

A lean load (`loading.LoadedModel.lean`) parses its model without the data of its large
weights; what asks for them later (a rule reading a small weight's values, a rewrite
needing the whole proto, a JSON report showing the file's SHA-256) reads them from one of:

* `BytesRead`: the file's bytes, read whole at load.
* `FileRead`: the file itself, for one read sparsely (`read_sparse`: a gigabyte of
  weights is never copied for a check that reads none of them). Every later read checks
  that the file is still the one loaded (device, inode, size and modification time, before
  and after the read): a file changed meanwhile is an error, never a mix of two models.

`PendingDigest` is the digest of a file a lean load read: hashed when asked, or a piece at
a time while the command waits for its inference child anyway.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

from trtforge.analyzer._shallow_graph import _wire
from trtforge.analyzer.errors import UserError

#: how much of the file a digest reads at a time
_CHUNK_BYTES = 4 << 20


class BytesRead:
    """The bytes of a file read whole."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def span(self, start: int, end: int) -> bytes:
        return self._data[start:end]

    def whole(self) -> bytes:
        return self._data


@dataclass(frozen=True)
class FileRead:
    """A file read again when asked, as it was when loaded (`identity`)."""

    path: Path
    identity: tuple[int, ...]

    def span(self, start: int, end: int) -> bytes:
        """The bytes at [start, end) of the file."""
        return self.spans([(start, end)])[0]

    def spans(self, where: list[tuple[int, int]]) -> list[bytes]:
        """The bytes at each [start, end) of `where`, read from the file opened once."""
        with self._opened() as file:
            read = [_pread(file.fileno(), start, end - start) for start, end in where]
            self._still_same(file)
        if any(len(data) != end - start for data, (start, end) in zip(read, where, strict=True)):
            raise self._changed()
        return read

    def whole(self) -> bytes:
        """The file's bytes."""
        with self._opened() as file:
            data = file.read()
            self._still_same(file)
        return data

    def sha256(self, hashed: int = 0, digest=None) -> str:
        """The SHA-256 of the file's bytes (hex), read a chunk at a time; or, given the hash
        of its first `hashed` bytes (`digest`, which is updated), of them and the rest."""
        digest = hashlib.sha256() if digest is None else digest
        buffer = bytearray(_CHUNK_BYTES)
        view = memoryview(buffer)
        with self._opened() as file:
            file.seek(hashed)
            while count := file.readinto(buffer):
                digest.update(view[:count])
            self._still_same(file)
        return digest.hexdigest()

    def _opened(self):
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - closed by the caller's `with`
        except OSError as err:
            raise UserError(
                f"{self.path}: cannot read it again ({err.strerror or err})",
                "check the model again once nothing moves or writes it",
            ) from None
        try:
            self._still_same(file)
        except BaseException:
            file.close()
            raise
        return file

    def _still_same(self, file) -> None:
        if _identity(os.fstat(file.fileno())) != self.identity:
            raise self._changed()

    def _changed(self) -> UserError:
        return UserError(
            f"{self.path}: the file changed while it was checked",
            "check the model again once nothing writes it",
        )


class PendingDigest:
    """The SHA-256 (hex, when called) of a file a lean load read, whose digest only a JSON
    or SARIF report shows: of its bytes read whole (`BytesRead`), or of the file itself, read
    again (`FileRead`: a sparse read).

    A thread hashing them at load took a core from the inference child and the check on a
    2-core machine (0.2 s of CPU for 230 MB) for a digest a text report never shows, and a
    process with a thread running forks no inference child. Hashed instead when first asked
    for, and, where it will be, a piece at a time (`advance`) while the command would
    otherwise only wait (`background.while_waiting`). The bytes read are held weakly, as
    long as the load holds them; the rest is read from the file — the one loaded, or an
    error."""

    def __init__(self, read: BytesRead | None, file: FileRead) -> None:
        self._read = weakref.ref(read) if read is not None else lambda: None
        self._file = file
        self._hash = hashlib.sha256()
        self._hashed = 0  # bytes hashed so far
        self._digest: str | None = None

    def advance(self, size: int = 2 * _CHUNK_BYTES) -> bool:
        """Hashes the next `size` bytes; whether any are left to hash."""
        if self._digest is not None:
            return False
        read, whole = self._read(), self._file.identity[2]
        if read is None:  # (the file's size is part of its identity)
            end = min(whole, self._hashed + size)
            self._hash.update(self._file.span(self._hashed, end))
            self._hashed = end
        else:
            with memoryview(read.whole()) as data, data[self._hashed :][:size] as piece:
                self._hash.update(piece)
                self._hashed += len(piece)
        if self._hashed < whole:
            return True
        self._digest = self._hash.hexdigest()
        return False

    def __call__(self) -> str:
        if self._digest is None:
            if self._read() is None:  # the rest from the file (the one loaded, or an error;
                # a copy: a read that fails half way leaves this one as it was)
                self._digest = self._file.sha256(self._hashed, self._hash.copy())
            else:
                while self.advance(1 << 62):
                    pass
        return self._digest


@dataclass
class SparseRead:
    """A file read without the data of its large weights (`read_sparse`).

    Attributes:
        data: a buffer of the file's size holding its bytes, but at `skipped` (zeros).
        skipped: (offset, length) of each raw_data payload left unread.
        file: the file, to read what was skipped from (`FileRead`).
    """

    data: mmap.mmap
    skipped: list[tuple[int, int]]
    file: FileRead

    def read_skipped(self, payloads) -> None:
        """Reads the payloads at `payloads` ((offset, length) of `skipped`) into `data`."""
        payloads = list(payloads)
        read = self.file.spans([(offset, offset + length) for offset, length in payloads])
        for (offset, length), data in zip(payloads, read, strict=True):
            self.data[offset : offset + length] = data


def cannot_read(path: Path, err: OSError) -> UserError:
    """The error for a model file that cannot be read (`err`: what the read raised)."""
    return UserError(f"{path}: cannot read ({err.strerror})", "check the file's permissions")


def read_sparse(
    path: Path, skip_bytes: int, weight_bytes: int | None = None, value_types=()
) -> SparseRead | None:
    """`path` read but the raw_data payloads of more than `skip_bytes` of its graph's
    initializers — and of more than `weight_bytes` of its weights: of rank 2 or more and an
    element type not in `value_types` — (`_wire.sparse_read`), into zeroed memory that they
    never touch; None without the native reader, or for bytes it does not understand (read
    them whole: protobuf says what is wrong with them).

    Raises:
        UserError: the file cannot be read, or changed while it was read.
    """
    if _wire is None:
        return None
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise cannot_read(path, err) from None
    with file:
        identity = _identity(os.fstat(file.fileno()))
        size = identity[2]
        if size == 0:
            return None
        try:  # anonymous memory: zero, and no page of it taken until written
            data = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        except (OSError, ValueError):  # (memory not overcommitted: read it whole instead)
            return None
        weights = skip_bytes if weight_bytes is None else weight_bytes
        skipped = _wire.sparse_read(file.fileno(), data, skip_bytes, weights, list(value_types))
        read = FileRead(path, identity)
        read._still_same(file)
    if skipped is None:
        return None
    return SparseRead(data, skipped, read)


def _identity(info: os.stat_result) -> tuple[int, ...]:
    """What tells one version of a file from another: a file rewritten in place changes its
    modification time, one replaced by a rename its inode."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _pread(fd: int, offset: int, length: int) -> bytes:
    parts = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        offset, length = offset + len(part), length - len(part)
    return b"".join(parts)
