"""Type inference in a forked child process, while the caller reads the graph's structure.

ONNX shape inference is C++ that holds the GIL: on a 100,000-node model it takes 0.35-0.5 s,
in which the static backend could read every node's op, inputs and outputs and find the
build-time constants (none of it needing types). On Linux, for large models,
`start_type_inference` forks a child that computes the type table and sends it back through a
pipe; the parent collects it with `result()` when it needs types.

The child infers with `inference.speculative_table` (one C++ run instead of the policy's two,
its memory capped); when that declines, with the policy itself (`inference.infer_table`). A
child that dies during the speculative run is replaced by one that runs the policy.

`prefetch(path)` starts such a child before the command has even imported its modules
(`trt-check` calls it as soon as its arguments are parsed): the child reads the file itself
and sends the table with the SHA-256 of the bytes it read (of a file it maps, of its lean
structure: the model without its weights), and `start_type_inference` hands that child over
when the model the command loaded has that digest (`LoadedModel.inference_sha256`).
Inference then runs while the command imports onnx, numpy and the knowledge base (~0.2 s)
instead of after. A large file loaded with no prefetch (a folder's models, the Python API)
gets the same child, forked once it is loaded (`_read_again`): the lean run, without onnx's
Python objects, and a table the parent reads natively (a 100,000-node check 30-45% faster
than a child that infers the parsed proto and pickles its table).

Anything unusual runs inference as the command goes instead (each ONNX run still apart from
the command: `inference_guard`), with the same result: no `fork` (Windows, macOS), other
threads in the process (forking them is unsafe), small models (a fork costs more than it
saves), or `TRTFORGE_NO_FORK=1`. A child that dies of a signal (shape inference
crashing on a malformed model) does not take the parent with it: types then come from what
the model declares, as when inference raises.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import mmap
import os
import pickle
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # imported where used: `prefetch` runs before the command imports onnx
    from collections.abc import Callable

    import onnx

    from trtforge.analyzer.inference import TypeTable

log = logging.getLogger("trtforge.background")

T = TypeVar("T")

#: top-level node count from which inference runs in a child process.
MIN_NODES = 20_000

#: files `prefetch` reads: from this size (a 20,000-node graph takes ~1 MB) up to the
#: largest model protobuf can parse (`loading.PROTOBUF_LIMIT`).
PREFETCH_MIN_BYTES = 512 << 10
PREFETCH_MAX_BYTES = 2**31 - 1
#: a file of this size or more is mostly weights: the child maps it (`mmap`) instead of
#: reading it, so that it holds no second copy of them (a graph of a million nodes is
#: ~50 MB); its lean run reads the graph without them (`_speculation.lean_inferred`). The
#: command loads such a file lean (`loading.LEAN_PARSE_BYTES`, the same size), which the
#: child's digest (`INFERRED`) relies on: where the two differ, the child's types are not
#: used (the command infers again).
PREFETCH_READ_BYTES = 64 << 20

#: what a child writes: SPECULATING before the speculative run, POLICY before the policy's,
#: then RESULT and the pickle; a prefetching child that finds the model small writes SMALL,
#: and one whose mapped file needs the full path, LEFT_TO_PARENT. (The parent then infers
#: as without a prefetch: with a child forked after loading, which shares its pages.)
SPECULATING, POLICY, RESULT, SMALL, LEFT_TO_PARENT = b"S", b"P", b"T", b"N", b"L"

#: a prefetching child's lean result comes with (INFERRED, a SHA-256): for a file it reads
#: whole, the file's (~17 ms for 30 MB), which the command computes anyway; for a file it
#: maps (from PREFETCH_READ_BYTES: mostly weights), that of the file's lean structure
#: (`_speculation.structure_digest`), which the command loads the file as and hashes in a
#: few milliseconds (`LoadedModel.inference_sha256`), where hashing the whole file (a second
#: hash beside the parent's, on a machine whose two cores are busy) slowed both. The types
#: are a function of either.
INFERRED = "inferred"

#: tags the state of the policy's table a lean child made natively where its run failed on a
#: stale declaration (`_speculation.lean_policy`: types, shape consumers, strict error)
POLICY_STATE = "policy state"


def infer_table(
    model: onnx.ModelProto,
    heavy_at: Collection[int] = (),
    checked_types: Mapping[str, bytes] | None = None,
    strict_error: str | None = None,
) -> TypeTable:
    """`inference.infer_table` (imported on first use: see `prefetch`)."""
    from trtforge.analyzer import inference

    return inference.infer_table(model, heavy_at, checked_types, strict_error)


def speculative_table(
    model: onnx.ModelProto, serialized: bytes | None = None, heavy_at: Collection[int] = ()
) -> TypeTable | None:
    """`inference.speculative_table`, its memory capped (in a child only)."""
    from trtforge.analyzer import inference

    return inference.speculative_table(
        model, memory_cap=True, serialized=serialized, heavy_at=heavy_at
    )


def collect_declared_types(model: onnx.ModelProto) -> TypeTable:
    from trtforge.analyzer import inference

    return inference.collect_declared_types(model)


def forking_allowed() -> bool:
    """Whether this process may fork: Linux, no other Python thread, no TRTFORGE_NO_FORK."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and threading.active_count() == 1
        and os.environ.get("TRTFORGE_NO_FORK", "") in ("", "0")
    )


def can_fork(model) -> bool:
    """Whether `model` (a ModelProto or a `LoadedModel`) is inferred in a child."""
    from trtforge.analyzer._speculation import node_count

    return node_count(_structure(model).graph, MIN_NODES) >= MIN_NODES and forking_allowed()


def _structure(model) -> onnx.ModelProto:
    """`model`, or a `LoadedModel`'s `structure` (what counts its nodes, names and types)."""
    return getattr(model, "structure", model)


def _inferred_as(model) -> tuple[onnx.ModelProto, tuple[int, ...]]:
    """What inference reads of `model` (a ModelProto or a `LoadedModel`), and the positions
    of the initializers it holds without data: a lean load's `structure` and `elided`, which
    shape inference runs without (`inference._weightless(heavy_at=...)`: the same copy as
    the whole model's; a large file is never read whole for its types), else the proto."""
    return _structure(model), getattr(model, "elided", ())


def _settled(model):
    """`model`, with a `LoadedModel`'s hashing thread ended (a lean load of a file read
    whole hashes it while the command goes on: `LoadedModel.end_hashing`), as a process
    forks only without other threads (`forking_allowed`)."""
    end_hashing = getattr(model, "end_hashing", None)
    if end_hashing is not None:
        end_hashing()
    return model


def _child_table(
    model: onnx.ModelProto,
    speculate: bool,
    out,
    serialized: bytes | None = None,
    heavy_at: Collection[int] = (),
    checked_types: Mapping[str, bytes] | None = None,
    strict_error: str | None = None,
) -> TypeTable:
    """The table, in the child: speculatively first, else by the policy; each run announced
    on `out`, so that the parent knows in which one a crash happened (`serialized`: the bytes
    `model` was parsed from; `heavy_at`: the initializers a lean load's structure holds
    without data, `LoadedModel.elided`; `checked_types` and `strict_error`: what a lean
    run made of the model before it failed, `infer_table`'s)."""
    if speculate:
        _announce(out, SPECULATING)
        table = speculative_table(model, serialized, heavy_at)
        if table is not None:
            return table
    _announce(out, POLICY)
    return infer_table(model, heavy_at, checked_types, strict_error)


def _announce(out, phase: bytes) -> None:
    out.write(phase)
    out.flush()


def _phases(data: bytes) -> tuple[bytes, bytes]:
    """(the last phase a child announced, b"" if none; what it wrote after the phases)."""
    last = b""
    while data[:1] in (SPECULATING, POLICY) and data:
        last, data = data[:1], data[1:]
    return last, data


class PendingTypes:
    """The type table of a model, being inferred; `result()` waits for it."""

    def __init__(self, model, speculate: bool = True) -> None:
        """Infers `model` (a ModelProto or a `LoadedModel`; None: `of_file` fills it in)."""
        self._model = model
        self._table: TypeTable | None = None
        self._pid = 0
        self._pipe = -1
        #: a prefetch (`of_file`): the file its child reads, and the SHA-256 of the bytes
        #: the command loaded (`start_type_inference`), which the child's must equal (a
        #: function giving it: a lean load's digest may still be computing)
        self.path: str | None = None
        self._sha256: Callable[[], str] = lambda: ""
        #: the digest of the lean structure the command loaded, if computed
        #: (`LoadedModel.inference_sha256`): a child that mapped the file binds to it
        self._inferred_sha256: str | None = None
        #: work to do while `result()` waits for the child (`meanwhile`)
        self._meanwhile: list = []
        if model is None:
            return
        inferred, heavy_at = _inferred_as(model)
        if can_fork(_settled(model)):
            self._fork(
                lambda out: out.write(
                    _pickled(_child_table(inferred, speculate, out, heavy_at=heavy_at))
                ),
                orphan_dies=True,  # (its work is its parent's only: a killed command's too)
            )
        else:
            self._table = infer_table(inferred, heavy_at)

    @classmethod
    def of_file(cls, path: str) -> PendingTypes:
        """A child that reads `path` itself (`prefetch`)."""
        pending = cls(None)
        pending.path = path

        def work(out) -> None:
            from trtforge.analyzer import _speculation

            data = _read_or_mapped(path)
            declared = _speculation.model_types(data)
            if _speculation.serialized_node_count(data, declared[0]) < MIN_NODES:  # weights:
                out.write(SMALL)  # stop before onnx (and before hashing them beside the parent)
                return
            speculate, checked_types, strict_error = True, None, None
            _announce(out, SPECULATING)  # the run without onnx
            policy = None
            digest = None
            try:
                inferred = _speculation.lean_inferred(data, declared, in_parallel=True)
            except _speculation.SpeculationFailed as failed:
                inferred, speculate = None, False  # the full speculation would fail alike
                checked_types = failed.checked_types  # (the policy's check need not rerun)
                strict_error = failed.strict_error  # (nor its strict run, where it was this)
                if isinstance(data, bytes):  # hashed beside the policy's reading (no fork)
                    digest = digest_meanwhile(data)
                policy = _speculation.lean_policy(failed)  # (a stale declaration: natively)
            if inferred is not None or policy is not None:  # read by the parent (`prefetched`)
                if isinstance(data, bytes):  # bound to the file's bytes (INFERRED)
                    bound = (INFERRED, digest() if digest else hashlib.sha256(data).hexdigest())
                else:
                    bound = (INFERRED, _speculation.structure_digest(data))
                out.write(_pickled((bound, inferred if policy is None else (POLICY_STATE, policy))))
                return
            if not isinstance(data, bytes):  # a mapped file: parsed here, its weights would
                out.write(LEFT_TO_PARENT)  # be copied twice (the parent holds them already)
                return
            if digest is None:
                digest = digest_meanwhile(data)
            onnx = _speculation.import_onnx()

            model = onnx.ModelProto.FromString(data)
            if _speculation.node_count(model.graph, MIN_NODES) < MIN_NODES:
                out.write(SMALL)
                return
            table = _child_table(
                model, speculate, out, data, checked_types=checked_types, strict_error=strict_error
            )
            out.write(_pickled((digest(), table)))

        pending._fork(work, orphan_dies=True)
        return pending

    def _fork(self, work, orphan_dies: bool = False) -> None:
        self._pid, self._pipe = fork_child(work, orphan_dies)

    def meanwhile(self, work) -> None:
        """Runs `work()` (no arguments) while `result()` waits for the child, if it waits for
        one: work the caller would otherwise do after the types arrive, though it does not
        need them. Errors of `work` are ignored (the caller meets them again when it does the
        work itself)."""
        self._meanwhile.append(work)

    def result(self) -> TypeTable:
        """The type table (waits for the child)."""
        if self._table is None:
            self._table = self._collect()
        return self._table

    def _collect(self) -> TypeTable:
        from trtforge.analyzer.inference import TypeTable

        if self.path is not None:  # a prefetch, taken over by `start_type_inference`
            table = self.prefetched(self._model, self._sha256)
            if table is None:
                log.info("the prefetched types are not the loaded model's; inferring again")
                table = PendingTypes(self._model).result()
            return table
        outcome, payload = self._outcome()
        if outcome == "payload" and isinstance(payload, TypeTable):
            return payload
        if outcome == "hung":
            return _declared_after(self._model, payload)
        if outcome == "speculation crashed":
            return PendingTypes(self._model, speculate=False).result()
        if outcome == "crashed":
            log.warning(
                "shape inference crashed (signal %d); using the types the model declares",
                payload,
            )
            return collect_declared_types(_structure(self._model))
        log.info("inference child failed; inferring in-process")
        return infer_table(*_inferred_as(self._model))

    def prefetched(self, model, sha256: str | Callable[[], str]) -> TypeTable | None:
        """A prefetch's table when the child read the model whose digest is `sha256` (the one
        the command loaded; or a function giving it, asked only when needed); None otherwise
        (the file changed, the model is small, or the child failed: the caller infers
        again). `model`: a ModelProto or a `LoadedModel`."""
        digest_of = sha256 if callable(sha256) else lambda: sha256
        from trtforge.analyzer.inference import TypeTable

        self._model = model
        outcome, payload = self._outcome()
        if outcome == "hung":
            return _declared_after(model, payload)
        if outcome == "speculation crashed":
            return PendingTypes(model, speculate=False).result()
        if outcome != "payload" or not isinstance(payload, tuple) or len(payload) != 2:
            return None
        digest, table = payload
        if isinstance(digest, tuple) and digest[:1] == (INFERRED,):  # a lean run's
            if self._inferred_sha256 is not None:  # a lean load's structure (not its file,
                if digest[1] != self._inferred_sha256:  # which it hashes only when asked)
                    return None
            elif digest[1] != digest_of():  # the file's
                return None
        elif digest != digest_of():
            return None
        if isinstance(table, bytes):  # a lean child's inferred model (`_speculation`)
            table = self._lean_table(model, table)
        elif isinstance(table, tuple) and len(table) == 2 and table[0] == POLICY_STATE:
            raw, consumers, strict_error = table[1]  # the policy's, made natively
            table = TypeTable.of_state(raw, consumers)
            table.strict_error = strict_error
        return table if isinstance(table, TypeTable) else None

    @staticmethod
    def _lean_table(model, inferred: bytes) -> TypeTable:
        """The table of the model a lean child inferred (`_speculation.table_state`, read
        here: the parent reads the types natively faster than it would unpickle them), or,
        when that run cannot stand for the policy, the policy's table (a new child)."""
        from trtforge.analyzer import _speculation
        from trtforge.analyzer.inference import TypeTable

        try:
            state = _speculation.table_state(inferred)
        except _speculation.SpeculationFailed:
            return PendingTypes(model, speculate=False).result()
        if state is None:
            return PendingTypes(model).result()
        return TypeTable.of_state(*state)

    def _outcome(self) -> tuple[str, object]:
        """How the child ended: ("payload", what it pickled), ("crashed", the signal),
        ("speculation crashed", None) — a new child must run the policy — ("hung", the
        message: it was killed at its deadline, `inference_guard.deadline` of the bytes it
        infers; another would hang alike) or ("failed", None)."""
        from trtforge.analyzer import inference_guard

        _run_idle()
        _run_each(self._meanwhile)
        # (the model's size, which an in-memory model's costs a pass over it to know, is
        # asked only of a child still running at the deadline of a model of no bytes)
        first = inference_guard.deadline(0)
        written = None
        try:
            pipe, self._pipe = self._pipe, -1
            more = lambda: inference_guard.deadline(self._inferred_bytes()) - first  # noqa: E731
            written = read_all(pipe, first, more, _step)
        finally:
            if written is None:  # past its deadline, or a signal stops the command
                kill(self._pid)
            status = self._reap()
        if written is None:
            message = inference_guard.hung(inference_guard.deadline(self._inferred_bytes()))
            log.warning("%s; using the types the model declares", message)
            return "hung", message
        phase, data = _phases(written)
        if status is not None and os.WIFSIGNALED(status):
            if phase == SPECULATING:
                log.info("speculative inference crashed; inferring step by step")
                return "speculation crashed", None
            return "crashed", os.WTERMSIG(status)
        if data.startswith(RESULT) and (status is None or os.waitstatus_to_exitcode(status) == 0):
            try:
                return "payload", pickle.loads(data[1:])
            except Exception as err:  # noqa: BLE001 - a damaged pipe: infer again
                log.info("type table from the inference child unreadable: %s", err)
        return "failed", None

    def _inferred_bytes(self) -> int:
        """The size of what the child infers: the file's (a prefetch), else the model's
        structure's serialized size."""
        try:
            if self.path is not None:
                return os.path.getsize(self.path)
            path = getattr(self._model, "path", None)
            if path is not None:
                return os.path.getsize(path)
            return _structure(self._model).ByteSize()
        except (OSError, AttributeError):
            return 0

    def _reap(self) -> int | None:
        """Waits for the child; its wait status, or None when someone else reaped it (a
        process that ignores SIGCHLD)."""
        pid, self._pid = self._pid, 0
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None

    def close(self) -> None:
        """Stops and reaps the child if `result()` was never called (e.g. on an error)."""
        if self._pid:
            kill(self._pid)
            self._reap()
        if self._pipe >= 0:
            os.close(self._pipe)
            self._pipe = -1


def _declared_after(model, message: str) -> TypeTable:
    """The types `model` declares, as the table of an inference that did not end (`message`:
    its strict error, which `inference_guard.crashed` tells apart: no run is made again)."""
    table = collect_declared_types(_structure(model))
    table.strict_error = message
    return table


def kill(pid: int) -> None:
    """Kills child `pid` (SIGKILL; gone already: nothing), which its caller then reaps."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def read_all(
    pipe: int,
    seconds: float,
    more: Callable[[], float] | None = None,
    step: Callable[[], bool] | None = None,
) -> bytes | None:
    """What is written to `pipe` (a read end, closed here) until its writer closes it; None
    where that takes more than `seconds`, and `more()` seconds more if given (asked once, at
    the first deadline): the writer, a child, is then the caller's to kill. `step`: called
    whenever nothing is there to read, until it returns False (`while_waiting`)."""
    chunks = []
    end = time.monotonic() + seconds
    with os.fdopen(pipe, "rb", buffering=0) as read:
        while True:
            left = end - time.monotonic()
            if left <= 0 and more is not None:
                end, more = end + more(), None
                left = end - time.monotonic()
            wait = left if step is None else 0
            if left <= 0 or not select.select([read], [], [], wait)[0]:
                if left > 0 and step is not None:
                    step = step if step() else None
                    continue
                if more is None:
                    return None
                continue
            chunk = read.read(1 << 20)  # (what the pipe holds, up to 1 MiB)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _read_or_mapped(path: str):
    """The bytes of the file `path`: read, or, from PREFETCH_READ_BYTES, mapped read-only (a
    buffer the native readers, hashlib and `bytes()` take; a file truncated meanwhile kills
    the child with SIGBUS, which the parent meets as a failed prefetch)."""
    with open(path, "rb") as model_file:
        if os.fstat(model_file.fileno()).st_size < PREFETCH_READ_BYTES:
            return model_file.read()
        return mmap.mmap(model_file.fileno(), 0, access=mmap.ACCESS_READ)


def digest_meanwhile(data: bytes):
    """The SHA-256 of `data` (hex), computed by a thread while the caller goes on to shape
    inference or parsing (hashlib lets go of the GIL while it hashes; ONNX's inference and
    protobuf's parser hold it): returns the function that waits for it
    (`computed_meanwhile`), which holds no bytes once the digest is made."""
    pending = [data]

    def digest() -> str:
        made = hashlib.sha256(pending[0]).hexdigest()
        pending.clear()
        return made

    return computed_meanwhile(digest)


def computed_meanwhile(work: Callable[[], T]) -> Callable[[], T]:
    """`work()` (a digest: of bytes read, or of a file read again) computed by a thread while
    the caller goes on; returns the function that waits for it. The thread has started when
    this returns, so the work costs the caller no time of its own where a second core is
    free. Where the thread failed, that function computes it, raising what `work` raises (a
    file changed since it was loaded). (The function ends the thread: a process forks only
    without other threads.)"""
    results: list = []
    started = threading.Event()

    def run() -> None:
        started.set()
        with contextlib.suppress(Exception):  # (met again, and raised, by `result`)
            results.append(work())

    thread = threading.Thread(target=run, name="trtforge-digest", daemon=True)
    thread.start()
    started.wait()

    def result() -> T:
        thread.join()
        if not results:
            results.append(work())
        return results[0]

    return result


def _pickled(table) -> bytes:
    return RESULT + pickle.dumps(table, pickle.HIGHEST_PROTOCOL)


def fork_child(work, orphan_dies: bool = False) -> tuple[int, int]:
    """Forks a child that runs `work(out)` (`out`: the write end of a pipe, binary) and
    leaves without running any exit handler, status 0 when `work` returned, 1 otherwise;
    with `orphan_dies`, the child dies with this process (`die_with_parent`). Returns (the
    child's pid, the pipe's read end).

    The child never runs Python's cyclic garbage collector: the fork is made with it off, and
    the child leaves it off. A collection there would run the destructors of this process's
    garbage, and a destructor of a native object that waits on its own threads (an
    onnxruntime session left by a verification: `pthread_cond_destroy` on a pool whose
    threads a child does not have) never returns — the child, and the command waiting for
    it, hung (seen: a test's rewrite after earlier tests' onnxruntime sessions)."""
    read_end, write_end = os.pipe()
    _widen(write_end)
    parent = os.getpid()
    collecting = gc.isenabled()
    gc.disable()  # (before the fork: Python's own after-fork work allocates in the child)
    with warnings.catch_warnings():
        # Python 3.12+ warns when the process has any other OS thread. Python threads are
        # ruled out (`can_fork`); what remains are native pools such as OpenBLAS's (started
        # by `import numpy`), which prepare for fork themselves (pthread_atfork) and which a
        # child running only shape inference never uses.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        finally:
            if collecting and os.getpid() == parent:
                gc.enable()
    if pid == 0:  # the child: work, send, and leave without running any exit handler
        status = 1
        try:
            os.close(read_end)
            if orphan_dies:
                die_with_parent(parent)
            _allocate_for_inference()
            with os.fdopen(write_end, "wb") as out:
                work(out)
            status = 0
        except BaseException:  # noqa: BLE001 - the parent sees the status
            pass
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


#: the pipe's buffer asked for (Linux: F_SETPIPE_SZ, up to /proc/sys/fs/pipe-max-size, 1 MiB
#: by default): the megabytes a large model's table takes cross in 1 MiB steps, not 64 KiB
#: ones, each a wake-up of the other process (a stale genai LLM's 6 MB: ~38 -> ~31 ms)
PIPE_BYTES = 1 << 20


def _widen(pipe: int) -> None:
    """Asks for a PIPE_BYTES buffer on `pipe`, where the system has the call and allows it
    (the default size otherwise)."""
    import fcntl

    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        try:
            fcntl.fcntl(pipe, setting, PIPE_BYTES)
        except OSError:  # (an unprivileged process above pipe-max-size: the default)
            pass


def _allocate_for_inference() -> None:
    """Turns off glibc's fastbins in a forked child, which lives for one inference run.

    ONNX's shape inference allocates and frees small objects at every node; glibc keeps freed
    small chunks in fastbins and merges them all (`malloc_consolidate`) at each larger
    request, ~15% of a 100,000-node run. Without fastbins (`mallopt(M_MXFAST, 0)`) the same
    run takes ~10% less (quantized layers: 0.78 -> 0.69 s; docs/benchmarks.md). The child
    exits after its run, so the setting never reaches the command's own process."""
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(_M_MXFAST, 0)
    except (OSError, AttributeError):  # not glibc
        pass


#: mallopt's parameter number for the fastbin size limit (glibc's malloc.h).
_M_MXFAST = 1


def die_with_parent(parent: int) -> None:
    """A forked child (a prefetch, its second inference run: `_split_inference`) ends with
    the process `parent` that started it, however that ends (Linux's PR_SET_PDEATHSIG; a
    command that exits through `os._exit` runs no cleanup)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the call
        os._exit(1)


#: work to do while waiting for a child (`when_idle`)
_idle: list = []

#: work done a step at a time while waiting for a child (`while_waiting`)
_steps: list = []


def when_idle(work) -> None:
    """Runs `work()` (no arguments) the next time this process would wait for an inference
    child (`PendingTypes.result`), or never: for work the command needs later anyway, such
    as importing its report writer, done in time that is otherwise spent waiting. Errors of
    `work` are ignored (the command meets them again when it does the work itself)."""
    _idle.append(work)


def while_waiting(step) -> None:
    """Calls `step()` (no arguments; whether it has more to do) again and again while this
    process waits for an inference child with nothing to read from it yet (`read_all`),
    until it has no more to do: for work that may not be needed (a digest only some reports
    show), done in pieces small enough (a few milliseconds) not to delay what the command
    waits for. Errors of `step` end it (whoever needs the work meets them again)."""
    _steps.append(step)


def _step() -> bool:
    """One step of the first work `while_waiting` holds; whether any is left."""
    while _steps:
        try:
            if _steps[0]():
                return True
        except Exception as err:  # noqa: BLE001 - done again, and reported, when needed
            log.debug("work while waiting failed: %s", err)
        _steps.pop(0)
    return False


def _run_idle() -> None:
    _run_each(_idle)


def _run_each(works: list) -> None:
    """Runs and removes each piece of waiting-time work of `works`, in order; errors are
    ignored (the command meets them again when it does the work itself)."""
    while works:
        work = works.pop(0)
        try:
            work()
        except Exception as err:  # noqa: BLE001 - done again, and reported, later
            log.debug("work while waiting failed: %s", err)


#: the child `prefetch` started, until `start_type_inference` takes it.
_prefetch: PendingTypes | None = None


def prefetch(path: str) -> None:
    """Starts inferring the types of the model file `path` in a child (module docstring),
    when the file's size makes it a large model's; nothing otherwise."""
    global _prefetch
    if _prefetch is not None or not forking_allowed() or _prefetch_size(path) is None:
        return
    try:
        _prefetch = PendingTypes.of_file(os.path.realpath(path))
    except OSError:
        _prefetch = None


def discard_prefetch() -> None:
    """Stops a prefetching child that nothing took over (the command failed first), and
    drops the idle work that no wait ran (`when_idle`, `while_waiting`): the command's
    check is over."""
    global _prefetch
    _idle.clear()
    _steps.clear()
    pending, _prefetch = _prefetch, None
    if pending is not None:
        pending.close()


def take_prefetch(path) -> PendingTypes | None:
    """The prefetching child for the model file `path`, if one was started (once)."""
    global _prefetch
    pending = _prefetch
    if pending is None or path is None:
        return None
    _prefetch = None
    if os.path.realpath(path) != pending.path:
        pending.close()
        return None
    return pending


def start_type_inference(model, loaded=None) -> PendingTypes:
    """Starts inferring `model`'s types (see the module docstring); `.result()` has them.
    `model`: a ModelProto or a `LoadedModel` (whose whole proto is parsed only where
    inference runs). `loaded` (the `LoadedModel` of `model`): a prefetch of its file is
    taken over, and its table used if the child read the same bytes."""
    pending = take_prefetch(loaded.path) if loaded is not None else None
    if pending is None and loaded is not None:
        pending = _read_again(loaded)
    if pending is None:
        return PendingTypes(model)
    pending._model, pending._sha256 = model, lambda: loaded.sha256
    pending._inferred_sha256 = loaded.inference_sha256
    return pending


def _read_again(loaded) -> PendingTypes | None:
    """A child that infers the loaded model's file as a prefetch would (`of_file`: the lean
    run, whose table the parent reads natively), for a file loaded without one (a folder's
    models, the Python API), bound to the digest of what was loaded; None for a model not
    loaded from a regular file of a prefetch's size, or where this process may not fork."""
    path = getattr(loaded, "path", None)
    size = _prefetch_size(path) if path is not None and forking_allowed() else None
    if size is None:
        return None
    if size >= PREFETCH_READ_BYTES and loaded.inference_sha256 is None:
        return None  # the child maps the file and binds to a digest not computed here
    return PendingTypes.of_file(os.path.realpath(path))


def _prefetch_size(path) -> int | None:
    """The size of the file `path` when it is a regular file of a size a prefetch reads
    (PREFETCH_MIN_BYTES to PREFETCH_MAX_BYTES); None otherwise."""
    try:
        size = os.stat(path).st_size
        regular = os.path.isfile(path)
    except (OSError, ValueError):
        return None
    return size if regular and PREFETCH_MIN_BYTES <= size <= PREFETCH_MAX_BYTES else None


def prefetching(path) -> bool:
    """Whether a prefetching child reads the model file `path` (not taken over yet)."""
    return _prefetch is not None and os.path.realpath(path) == _prefetch.path
