"""ONNX's shape inference that never ends is stopped at its deadline, and the command goes on
with the types the model declares.

onnx 1.23's inference loops forever on an Einsum whose equation holds a character the spec
does not allow in a term (".,": one node, and trt-check hung, deaf to SIGTERM while it waited
for its inference child). Every inference child is now given `inference_guard.deadline` of
the bytes it infers; the tests shorten it to a second. Each test first shows that onnx hangs
on the model in a process of its own (skipped for an onnx release that no longer does).
"""

from __future__ import annotations

import subprocess
import sys
import time

import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer import background, check, inference_guard


def _hanging_einsum(equation: str = ".,") -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, []) for i in range(2)]
    node = helper.make_node("Einsum", ["x0", "x1"], ["e"], name="einsum", equation=equation)
    relu = helper.make_node("Relu", ["e"], ["y"], name="relu")
    graph = helper.make_graph(
        [node, relu], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="module")
def onnx_hangs() -> None:
    program = (
        "import sys, onnx\n"
        "from onnx import shape_inference\n"
        "shape_inference.infer_shapes(onnx.load_from_string(sys.stdin.buffer.read()))\n"
    )
    try:
        subprocess.run(
            [sys.executable, "-c", program],
            input=_hanging_einsum().SerializeToString(),
            capture_output=True,
            timeout=4,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return
    pytest.skip(f"onnx {onnx.__version__} no longer hangs on the equation '.,'")


@pytest.fixture
def short_deadline(monkeypatch, onnx_hangs):
    monkeypatch.setattr(inference_guard, "INFERENCE_SECONDS", 1.0)
    monkeypatch.setattr(inference_guard, "INFERENCE_SECONDS_PER_MIB", 0.0)


@pytest.mark.parametrize("no_fork", [False, True], ids=["forked", "fresh-python"])
def test_guarded_inference_is_stopped_at_its_deadline(short_deadline, monkeypatch, no_fork):
    monkeypatch.setenv("TRTFORGE_NO_FORK", "1" if no_fork else "0")
    started = time.monotonic()
    with pytest.raises(inference_guard.InferenceCrashed) as stopped:
        inference_guard.infer_shapes(_hanging_einsum().SerializeToString(), False, True, True)
    assert time.monotonic() - started < 30
    assert str(stopped.value).startswith(inference_guard.HUNG)
    assert inference_guard.crashed(str(stopped.value))  # (no second run is made)


def test_a_background_child_that_never_ends_is_stopped(short_deadline, monkeypatch):
    monkeypatch.setattr(background, "MIN_NODES", 0)
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    model = _hanging_einsum()
    pending = background.start_type_inference(model)
    assert pending._pid > 0  # it did fork
    table = pending.result()
    assert inference_guard.crashed(table.strict_error)
    assert table.decoded("x0") == ("FLOAT", ())  # the declared types
    assert "e" not in table


def test_a_prefetch_that_never_ends_is_stopped(short_deadline, monkeypatch, tmp_path):
    monkeypatch.setattr(background, "MIN_NODES", 0)
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    model = _hanging_einsum()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    pending = background.PendingTypes.of_file(str(path))
    table = pending.prefetched(model, "")
    assert table is not None and inference_guard.crashed(table.strict_error)
    assert table.decoded("x1") == ("FLOAT", ())


@pytest.mark.parametrize("equation", [".,", "1,", "#,$"])
def test_the_check_of_an_equation_onnx_never_infers_ends_and_calls_it_invalid(
    short_deadline, equation
):
    """The Einsum is invalid (the spec allows letters and one ellipsis a term), the Relu after
    it is judged on what the model declares, and the command ends."""
    report = check(_hanging_einsum(equation), target="rtx-1", backend="static")
    einsum, relu = report.nodes
    assert einsum.status == "unsupported"
    assert [r.code for r in einsum.reasons] == ["invalid/equation"]
    assert "outside an ellipsis" in einsum.reasons[0].message
    assert relu.status == "supported"


def test_a_signal_stops_the_command_waiting_for_an_inference_that_never_ends(onnx_hangs, tmp_path):
    """SIGTERM while the command waits for its inference child ends it (128 + 15), the child
    killed with it: it used to wait for the child to end first, which it never did."""
    import signal

    path = tmp_path / "m.onnx"
    onnx.save(_hanging_einsum(), path)
    command = [sys.executable, "-m", "trtforge.analyzer.cli.check", str(path), "--backend",
               "static"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        time.sleep(3)  # (imported, and waiting: the deadline is 10 s)
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=5)
        finally:
            process.kill()
    assert process.returncode in (128 + signal.SIGTERM, -signal.SIGTERM)
    assert "Traceback" not in stderr.decode()
    left = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True)
    assert left.stdout == ""  # the inference child is gone too


def test_an_inference_child_ends_with_a_command_killed_outright(onnx_hangs, tmp_path):
    """SIGKILL cannot be handled: the inference child, which would never end, dies with the
    command (PR_SET_PDEATHSIG) instead of running on alone."""
    import signal

    path = tmp_path / "killed.onnx"
    onnx.save(_hanging_einsum(), path)
    command = [sys.executable, "-m", "trtforge.analyzer.cli.check", str(path), "--backend",
               "static"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        time.sleep(3)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=5)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(path)], capture_output=True, text=True)
    assert left.stdout == ""
