"""ONNX's C++ shape inference, run where its crash cannot take the command down.

onnx 1.23's inference dies of a segmentation fault on some nodes: EyeLike with a `dtype`
attribute or RegexFullMatch whose input has no type (an empty name, or a custom op's output:
a valid model can do this), GatherND with batch_dims=-100, and more that a hostile model can
reach (`tests/test_inference_guard.py`). No list of such nodes is complete, so every
inference of a model made in this process runs in a child: forked (a few milliseconds; the
child shares this process's memory), or, where this process must not fork (other threads),
a fresh Python. A child that dies raises `InferenceCrashed`, which callers take as they take
any failed inference: the types the model declares.

It may also never end: onnx 1.23's inference loops forever on an Einsum whose equation holds
a character the spec does not allow in a term (`".,"`, `"ab1,b"`: one node, and the command
hung). A child that has not finished within `deadline` of the bytes it infers is killed, and
raises `InferenceCrashed` too (its message starts with HUNG).

(The inference children of large models, `background`, already run apart; they call ONNX
directly, and their parent gives them the same deadline.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

#: what a child writes: RESULT and the inferred model, or RAISED and what inference raised
RESULT, RAISED = b"T", b"E"


#: how the message of `InferenceCrashed` begins (`crashed`)
CRASHED = "ONNX's shape inference crashed"


#: how the message of `InferenceCrashed` begins where the child was killed at its deadline
HUNG = "ONNX's shape inference did not finish"

#: the seconds an inference child is given (`deadline`), and the seconds more for each MiB
#: of the model it infers: ONNX infers a 100,000-node model (~10-35 MB without weights) in
#: about a second on a 2-core machine, a hundred times within its deadline.
INFERENCE_SECONDS = 10.0
INFERENCE_SECONDS_PER_MIB = 2.0


def deadline(size: int) -> float:
    """The seconds an inference of a model of `size` bytes may take before its child is
    killed (INFERENCE_SECONDS, and INFERENCE_SECONDS_PER_MIB for each MiB)."""
    return INFERENCE_SECONDS + INFERENCE_SECONDS_PER_MIB * size / (1 << 20)


def hung(seconds: float) -> str:
    """The message of a child killed after `seconds` (`HUNG`)."""
    return f"{HUNG} in {seconds:.0f} s and was stopped"


def crashed(strict_error: str) -> bool:
    """Whether `strict_error` (what a model's strict inference gave) says it crashed or was
    stopped at its deadline."""
    return strict_error.startswith((CRASHED, HUNG))


class InferenceCrashed(RuntimeError):
    """ONNX's inference died in the child (`infer_shapes`)."""


def infer_shapes(serialized: bytes, check_type: bool, strict: bool, data_prop: bool) -> bytes:
    """`onnx.onnx_cpp2py_export.shape_inference.infer_shapes` on a serialized model, in a
    child process.

    Raises:
        onnx.shape_inference.InferenceError: what inference raised (its text, this type).
        InferenceCrashed: the child died.
    """
    from trtforge.analyzer import background

    flags = (check_type, strict, data_prop)
    if background.forking_allowed():
        written, death = _in_fork(serialized, flags)
    else:
        written, death = _in_python(serialized, flags)
    return _result(written, death)


def infer_model(model, strict: bool = False, data_prop: bool = False):
    """`onnx.shape_inference.infer_shapes(model, strict_mode=strict, data_prop=data_prop)`
    through `infer_shapes`: the inferred ModelProto."""
    import onnx

    inferred = infer_shapes(model.SerializeToString(), False, strict, data_prop)
    return onnx.load_from_string(inferred)


def _infer_to(out, serialized: bytes, flags: tuple[bool, bool, bool]) -> None:
    """In the child: infers and writes the outcome to `out` (binary). A crash is the
    parent's to report: no traceback of the child's (`faulthandler`, which pytest turns on)."""
    import faulthandler

    from onnx.onnx_cpp2py_export import shape_inference

    faulthandler.disable()

    try:
        written = RESULT + shape_inference.infer_shapes(serialized, *flags)
    except Exception as err:  # noqa: BLE001 - InferenceError, or anything onnx raises
        written = RAISED + str(err).encode("utf-8", "replace")
    out.write(written)
    out.flush()


def _in_fork(serialized: bytes, flags) -> tuple[bytes, str | None]:
    from trtforge.analyzer import background

    pid, pipe = background.fork_child(
        lambda out: _infer_to(out, serialized, flags),
        orphan_dies=True,  # (a killed command's too)
    )
    seconds = deadline(len(serialized))
    written = None
    try:
        written = background.read_all(pipe, seconds)
    finally:
        if written is None:  # past its deadline, or a signal stops the command: not waited for
            background.kill(pid)
        try:
            status = os.waitpid(pid, 0)[1]
        except ChildProcessError:  # SIGCHLD ignored: the kernel reaped it; what it wrote
            status = 0  # through the pipe says how it ended (`_result`)
    if written is None:
        raise InferenceCrashed(hung(seconds))
    death = None
    if os.WIFSIGNALED(status):
        death = _signal_name(os.WTERMSIG(status))
    elif os.waitstatus_to_exitcode(status) != 0:
        death = f"exit status {os.waitstatus_to_exitcode(status)}"
    return written, death


#: the fresh Python's program (isolated: no current folder, environment or user site on its
#: path; the folder this process loads onnx from first): the three flags and the serialized
#: model on stdin, what `_infer_to` writes on stdout
_PROGRAM = """
import sys
sys.path.insert(0, sys.argv[1])
from onnx.onnx_cpp2py_export import shape_inference
data = sys.stdin.buffer.read()
try:
    written = b"T" + shape_inference.infer_shapes(data[3:], *(f == 49 for f in data[:3]))
except Exception as err:
    written = b"E" + str(err).encode("utf-8", "replace")
sys.stdout.buffer.write(written)
"""


def _in_python(serialized: bytes, flags) -> tuple[bytes, str | None]:
    import onnx

    onnx_folder = str(Path(onnx.__file__).resolve().parent.parent)
    seconds = deadline(len(serialized))
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROGRAM, onnx_folder],
            input=bytes(48 + int(f) for f in flags) + serialized,
            capture_output=True,
            check=False,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:  # (killed by `run`)
        raise InferenceCrashed(hung(seconds)) from None
    death = None
    if done.returncode < 0:
        death = _signal_name(-done.returncode)
    elif done.returncode:
        death = f"exit status {done.returncode}"
    return done.stdout, death


def _result(written: bytes, death: str | None) -> bytes:
    if death is None and written[:1] == RESULT:
        return written[1:]
    if death is None and written[:1] == RAISED:
        from onnx.onnx_cpp2py_export import shape_inference

        raise shape_inference.InferenceError(written[1:].decode("utf-8", "replace"))
    raise InferenceCrashed(f"{CRASHED} ({death or 'no result'})")


def _signal_name(number: int) -> str:
    try:
        return f"signal {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"
