"""ONNX's shape inference of a model with many If/Loop/Scan bodies, in two runs in which every
body sees a small scope — the same types as one run, in a fraction of its time.

ONNX's inference copies the enclosing scope's table of value types (every value defined so
far) into each body it infers: a 100,000-node graph with an If every 1,000 nodes spends ~2 s
copying, one with an If every 250 nodes ~7 s. The native module `trtforge.analyzer._split`
(csrc/analyzer/split.cpp, which says how and under which conditions the result is one run's)
builds two models whose inference, joined, gives one run's inferred model:

  run A: each top-level If/Loop/Scan is called as a model-local function (the graph's types);
  run B: each run of the other top-level nodes is called as one (the bodies' types).

Two runs cost one more inference of the whole graph, so they are made only where the copies
they avoid are estimated to cost more (`worth_splitting`). Run A fails exactly when one run
does, and its error is raised; run B, when it fails (errors one run ignores, after an op
without a schema), is made again as run A's types tell. Where a run raises otherwise, or
the two do not fit together, one run is made, and what it gives or raises is the result.
`tests/perf/test_split_inference.py` holds the types equal to one run's.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable

try:  # the native planner (csrc/analyzer/split.cpp); without it, one run
    from trtforge.analyzer import _split
except ImportError:  # pragma: no cover - a build without a C++ compiler
    _split = None

#: seconds ONNX's inference takes to copy one entry of a scope into a body (onnx 1.23 on
#: this project's 2-core machines: 100 Ifs in a 100,000-node chain copy ~5 million entries
#: in ~1.8 s).
SECONDS_PER_ENTRY = 0.35e-6

#: seconds one run takes per top-level node (~0.35 s for 100,000 nodes): what a second run
#: adds.
SECONDS_PER_NODE = 3.5e-6

#: seconds per function for each call or body inferred: every scope ONNX opens copies the
#: model's table of functions (4,000 one-node functions, each called once, take ~1.4 s).
SECONDS_PER_FUNCTION_COPY = 0.1e-6

#: the least estimated saving for which two runs are made instead of one.
MIN_SAVING_SECONDS = 0.1

Run = Callable[[bytes], bytes]


def may_be_worth(nodes: int, bodies: int) -> bool:
    """Whether a graph of `nodes` top-level nodes, `bodies` of which hold bodies, may gain
    from two runs: a body's scope holds about one or two entries per node before it, and the
    second run costs a run of the graph. (Planning reads the model, ~0.05 s for 100,000
    nodes: spared where no gain is likely.)"""
    return bodies * nodes * 2 * SECONDS_PER_ENTRY > SECONDS_PER_NODE * nodes + MIN_SAVING_SECONDS


def worth_splitting(
    nodes: int, single_entries: int, split_entries: int, a_functions: int, b_functions: int
) -> bool:
    """Whether two runs are estimated to take at least MIN_SAVING_SECONDS less than one:
    one run copies `single_entries` scope entries into top-level bodies; two runs infer the
    graph once more, copy `split_entries`, and copy the table of functions twice for each
    function of each run (a call, and a body inside it or beside it)."""
    one_run = SECONDS_PER_ENTRY * single_entries
    two_runs = (
        SECONDS_PER_NODE * nodes
        + SECONDS_PER_ENTRY * split_entries
        + SECONDS_PER_FUNCTION_COPY * 2 * (a_functions**2 + b_functions**2)
    )
    return one_run - two_runs >= MIN_SAVING_SECONDS


def split_inferred(serialized_model: bytes, run: Run, in_parallel: bool = False) -> bytes | None:
    """The model's inferred form from runs A and B (`run`: one inference of a serialized
    model), whatever the cost; None when the model does not meet the conditions, either run
    raised, or the two do not fit together. `in_parallel`: as `inferred`'s."""
    if _split is None:
        return None
    plan = _split.models(serialized_model)
    if plan is None:
        return None
    return _joined(serialized_model, plan, run, in_parallel)


def inferred(
    serialized_model: bytes,
    run: Run,
    nodes: int,
    bodies: int,
    in_parallel: bool = False,
    raises: tuple[type[Exception], ...] = (),
) -> bytes:
    """`run(serialized_model)`'s result, made as runs A and B where that is estimated to be
    faster (a graph of `nodes` top-level nodes, `bodies` of them holding bodies).

    `in_parallel`: run B in a forked child while this process runs A — only for a process
    that may fork (one thread: the prefetching child of `background`); the child dies with
    this process. `raises`: the errors of a run that mean the model fails ONNX's strict
    inference (ONNX's InferenceError). Run A raises one exactly when one run would (the same
    nodes are inferred from the same types, and their errors count alike: split.cpp), so it
    is raised as it is (its text names the functions) instead of running once more to fail.

    Raises:
        What `run(serialized_model)` raises, when one run is made; an error in `raises`
        that run A raised.
    """
    if _split is not None and may_be_worth(nodes, bodies):
        plan = _split.models(serialized_model)
        if plan is not None and worth_splitting(nodes, *plan[2:6]):
            joined = _joined(serialized_model, plan, run, in_parallel, raises)
            if joined is not None:
                return joined
    return run(serialized_model)


def top_level_error(
    serialized_model: bytes,
    run: Run,
    nodes: int,
    bodies: int,
    raises: tuple[type[Exception], ...],
) -> str | None:
    """What a strict `run(serialized_model)` raises about the top-level nodes that hold no
    body, from run A alone where two runs are estimated to be faster than one (a graph of
    `nodes` top-level nodes, `bodies` of them holding bodies): "" when run A passes (it
    fails exactly when one run does), else the text of the error in `raises` it raised (its
    nodes without bodies are the graph's, inferred from one run's types: their errors read
    as one run's; an error of a node with a body names its function instead). None where
    run A is not made or raised anything else: the caller runs once."""
    if _split is None or not may_be_worth(nodes, bodies):
        return None
    plan = _split.models(serialized_model)
    if plan is None or not worth_splitting(nodes, *plan[2:6]):
        return None
    try:
        run(plan[0])
    except raises as err:
        return str(err)
    except Exception:  # noqa: BLE001 - one run decides
        return None
    return ""


def _joined(
    serialized_model: bytes,
    plan: tuple,
    run: Run,
    in_parallel: bool,
    raises: tuple[type[Exception], ...] = (),
) -> bytes | None:
    """Runs A and B of `plan` (`_split.models`) joined. Run B is made at once (beside run A,
    `in_parallel`) unless an op of a domain ONNX does not define makes its failure likely;
    then, as when it fails, after run A, as run A's types tell."""
    a, b, foreign = plan[0], plan[1], plan[6]
    b_run = None
    if in_parallel and not foreign:
        with contextlib.suppress(OSError):  # no fork: one after the other
            b_run = _ChildRun(run, b)
    try:
        try:
            a_inferred = run(a)
        except raises:
            raise
        except Exception:  # noqa: BLE001 - one run decides what the model gives or raises
            return None
        try:
            if b_run is not None:
                b_inferred = b_run.result()
            else:
                b_inferred = None if foreign else run(b)
        except Exception:  # noqa: BLE001 - as for run A
            b_inferred = None
    finally:
        if b_run is not None:
            b_run.end()
    if b_inferred is None:  # errors one run ignores (after an op without a schema) failed a
        # function: run B again, those nodes in the graph, as run A's types tell (split.cpp)
        told = _split.models(serialized_model, a_inferred)
        if told is None:
            return None
        try:
            b_inferred = run(told[1])
        except Exception:  # noqa: BLE001 - one run decides
            return None
    return _split.joined(serialized_model, a_inferred, b_inferred)


class _ChildRun:
    """`run(model)` in a forked child, which sends the result through a pipe and dies with
    this process; `result()` is None when the child failed."""

    def __init__(self, run: Run, model: bytes) -> None:
        from trtforge.analyzer.background import fork_child

        pid, read_end = fork_child(lambda out: out.write(run(model)), orphan_dies=True)
        self._pid: int | None = pid
        self._pipe = os.fdopen(read_end, "rb")

    def result(self) -> bytes | None:
        data = self._pipe.read()
        return data if self._reaped() == 0 else None

    def end(self) -> None:
        """Closes the pipe, and stops the child if it still runs."""
        self._pipe.close()
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reaped()

    def _reaped(self) -> int:
        """The child's exit status, once it has ended (-1 when it was reaped before)."""
        if self._pid is None:
            return -1
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return status
