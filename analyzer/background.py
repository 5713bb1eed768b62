"""Type inference in a forked child process, while the caller reads the graph's structure.

ONNX shape inference is C++ that holds the GIL: on a 100,000-node model it takes ~0.3 s, in
which the static backend could read every node's op, inputs and outputs and find the
build-time constants (another ~0.2 s, none of it needing types). On Linux, for large models,
`start_type_inference` forks a child that runs `inference.infer_table` and sends the resulting
`TypeTable` back through a pipe; the parent collects it with `result()` when it needs types.

Anything unusual runs inference in-process instead, with the same result: no `fork` (Windows,
macOS), other threads in the process (forking them is unsafe), small models (a fork costs
more than it saves), or `TRTFORGE_NO_FORK=1`. A child that dies of a signal (shape inference
crashing on a malformed model) does not take the parent with it: types then come from what
the model declares, as when inference raises.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading
import warnings

import onnx

from trtforge.analyzer.inference import TypeTable, collect_declared_types, infer_table

log = logging.getLogger("trtforge.background")

#: top-level node count from which inference runs in a child process.
MIN_NODES = 20_000


def can_fork(model: onnx.ModelProto) -> bool:
    return (
        len(model.graph.node) >= MIN_NODES
        and sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and threading.active_count() == 1
        and os.environ.get("TRTFORGE_NO_FORK", "") in ("", "0")
    )


class PendingTypes:
    """The type table of a model, being inferred; `result()` waits for it."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self._model = model
        self._table: TypeTable | None = None
        self._pid = 0
        self._pipe = -1
        if can_fork(model):
            self._fork()
        else:
            self._table = infer_table(model)

    def _fork(self) -> None:
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns when the process has any other OS thread. Python threads are
            # ruled out above (`can_fork`); what remains are native pools such as OpenBLAS's
            # (started by `import numpy`), which prepare for fork themselves (pthread_atfork)
            # and which the child, running only shape inference, never uses.
            warnings.filterwarnings(
                "ignore", "This process .* is multi-threaded", DeprecationWarning
            )
            pid = os.fork()
        if pid == 0:  # the child: infer, send, and leave without running any exit handler
            status = 1
            try:
                os.close(read_end)
                data = pickle.dumps(infer_table(self._model), pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
                status = 0
            except BaseException:  # noqa: BLE001 - the parent infers in-process instead
                pass
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._pipe = pid, read_end

    def result(self) -> TypeTable:
        """The type table (waits for the child)."""
        if self._table is None:
            self._table = self._collect()
        return self._table

    def _collect(self) -> TypeTable:
        chunks = []
        try:
            with os.fdopen(self._pipe, "rb") as pipe:
                self._pipe = -1
                while chunk := pipe.read(1 << 20):
                    chunks.append(chunk)
        finally:
            status = self._reap()
        if status is not None and os.WIFSIGNALED(status):
            log.warning(
                "shape inference crashed (signal %d); using the types the model declares",
                os.WTERMSIG(status),
            )
            return collect_declared_types(self._model)
        if chunks and (status is None or os.waitstatus_to_exitcode(status) == 0):
            try:
                table = pickle.loads(b"".join(chunks))
            except Exception as err:  # noqa: BLE001 - fall through to in-process inference
                log.info("type table from the inference child unreadable: %s", err)
            else:
                if isinstance(table, TypeTable):
                    return table
        log.info("inference child failed; inferring in-process")
        return infer_table(self._model)

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
            try:
                os.kill(self._pid, signal.SIGKILL)
            except OSError:
                pass
            self._reap()
        if self._pipe >= 0:
            os.close(self._pipe)
            self._pipe = -1


def start_type_inference(model: onnx.ModelProto) -> PendingTypes:
    """Starts inferring `model`'s types (see the module docstring); `.result()` has them."""
    return PendingTypes(model)
