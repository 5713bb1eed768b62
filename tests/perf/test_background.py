"""Type inference in a forked child (`analyzer/background.py`) gives what in-process inference
gives, and a child that fails or crashes never takes the check down with it."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer import background
from trtforge.analyzer.backends import static
from trtforge.analyzer.inference import collect_declared_types, infer_types
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.reports import render
from trtforge.analyzer.targets import parse_target

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not background.sys.platform.startswith("linux"), reason="forks only on Linux"
)


def _shape_computing_model() -> onnx.ModelProto:
    """Reshape to a shape computed from Shape/Gather/Concat (data propagation resolves it),
    and an If whose branches have their own value types."""
    text = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[N, 6] x, bool c) => (float[N, 2, 3] y, float[N, 6] z) {
        s = Shape(x)
        zero = Constant<value = int64[1] {0}>()
        n = Gather<axis = 0>(s, zero)
        tail = Constant<value = int64[2] {2, 3}>()
        shape = Concat<axis = 0>(n, tail)
        y = Reshape(x, shape)
        z = If(c) <
            then_branch = t () => (float[N, 6] a) { a = Relu(x) },
            else_branch = e () => (float[N, 6] b) { b = Neg(x) }
        >
    }
    """
    return onnx.parser.parse_model(text)


@pytest.fixture
def fork_always(monkeypatch):
    monkeypatch.setattr(background, "MIN_NODES", 0)
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)


def test_forked_table_equals_in_process(fork_always):
    model = _shape_computing_model()
    pending = background.start_type_inference(model)
    assert pending._pid > 0  # it did fork
    forked = pending.result()
    here = infer_types(model)
    assert forked._raw == here._raw
    assert forked.shape_consumers == here.shape_consumers
    assert forked.decoded("y") == ("FLOAT", ("N", 2, 3))  # data propagation ran in the child
    assert "a" in forked._raw and "b" in forked._raw  # branch bodies are in the table


@pytest.mark.parametrize(
    "path",
    [
        REPO / "examples" / "transformer_block.onnx",
        *sorted((REPO / "tests" / "fixtures" / "hf").glob("*.onnx"))[:3],
    ],
    ids=lambda p: p.name,
)
def test_forked_check_reports_the_same(fork_always, monkeypatch, path):
    loaded, target = load_model(path), parse_target("rtx-1")
    forked = render(static.check_static(loaded, target), "json")
    monkeypatch.setenv("TRTFORGE_NO_FORK", "1")
    here = render(static.check_static(loaded, target), "json")
    assert forked == here


def test_child_crash_uses_declared_types(fork_always, monkeypatch, caplog):
    """Shape inference dying of a signal in the child: the parent lives on and uses the types
    the model states."""
    parent = os.getpid()

    def crash(model):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return infer_types(model)

    monkeypatch.setattr(background, "infer_table", crash)
    model = _shape_computing_model()
    with caplog.at_level(logging.WARNING, logger="trtforge.background"):
        table = background.start_type_inference(model).result()
    assert table._raw == collect_declared_types(model)._raw
    assert "y" in table._raw and "s" not in table._raw  # declared output only, nothing inferred
    assert "crashed (signal 9)" in caplog.text


def test_child_error_infers_in_process(fork_always, monkeypatch):
    parent = os.getpid()
    calls = []

    def flaky(model):
        calls.append(os.getpid())
        if os.getpid() != parent:
            raise MemoryError("simulated")
        return infer_types(model)

    monkeypatch.setattr(background, "infer_table", flaky)
    model = _shape_computing_model()
    table = background.start_type_inference(model).result()
    assert table._raw == infer_types(model)._raw
    assert calls == [parent]  # the child's call is not recorded here; the parent's is


def test_no_fork_with_other_threads(fork_always):
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        pending = background.start_type_inference(_shape_computing_model())
        assert pending._pid == 0
        assert "y" in pending.result()._raw
    finally:
        stop.set()
        worker.join()


def test_small_models_and_opt_out_stay_in_process(monkeypatch):
    model = _shape_computing_model()
    assert background.start_type_inference(model)._pid == 0  # below MIN_NODES
    monkeypatch.setattr(background, "MIN_NODES", 0)
    monkeypatch.setenv("TRTFORGE_NO_FORK", "1")
    assert background.start_type_inference(model)._pid == 0


def test_close_reaps_an_uncollected_child(fork_always):
    pending = background.start_type_inference(_shape_computing_model())
    pid = pending._pid
    assert pid > 0
    pending.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped


def test_uint8_tensors_of_one_type_keep_their_producers_verdicts():
    """Two UINT8 tensors of the same type: one from QuantizeLinear (INT8 inside TensorRT), one
    from Cast. The memo's by-type shortcut must not lend one's key to the other: the
    Transposes reading them differ (INT8 is accepted, UINT8 is not), as without the memo."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="quant"),
        helper.make_node("Transpose", ["q"], ["t0"], name="t_of_quant"),
        helper.make_node("Cast", ["x"], ["c"], name="cast", to=TensorProto.UINT8),
        helper.make_node("Transpose", ["c"], ["t1"], name="t_of_cast"),
        helper.make_node("Cast", ["t0"], ["f0"], name="f0", to=TensorProto.FLOAT),
        helper.make_node("Cast", ["t1"], ["f1"], name="f1", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [
            helper.make_tensor_value_info("f0", TensorProto.FLOAT, [4, 1]),
            helper.make_tensor_value_info("f1", TensorProto.FLOAT, [4, 1]),
        ],
        [
            helper.make_tensor("s", TensorProto.FLOAT, [], [0.5]),
            helper.make_tensor("zp", TensorProto.UINT8, [], [0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    loaded, target = load_model(model), parse_target("rtx-1")
    alone = static.check_static(loaded, target, memo=False)
    shared = static.check_static(loaded, target)
    assert [n.to_json() for n in shared.nodes] == [n.to_json() for n in alone.nodes]
    by_name = {n.name: n for n in shared.nodes}
    assert by_name["t_of_quant"].status == "supported"
    assert "unsupported-dtype" in [r.code for r in by_name["t_of_cast"].reasons]


def test_sigchld_ignored_still_gives_the_table(fork_always):
    """With SIGCHLD ignored the kernel reaps children itself (waitpid: ECHILD); the table
    that came through the pipe is used all the same."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        model = _shape_computing_model()
        table = background.start_type_inference(model).result()
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert table._raw == infer_types(model)._raw


def test_type_table_same_through_shallow_read_and_per_value(monkeypatch):
    """The type table reads types as bytes through `_shallow_graph`, or per value when the
    graph embeds large weights: both give the same table (bodies of If included)."""
    from trtforge.analyzer import inference

    model = _shape_computing_model()
    inferred = inference.infer_model(model)
    shallow = inference.collect_declared_types(inferred)
    monkeypatch.setattr(inference, "MAX_SHALLOW_BYTES", 0)
    per_value = inference.collect_declared_types(inferred)
    assert shallow._raw == per_value._raw
    assert shallow.shape_consumers == per_value.shape_consumers == [5]  # the Reshape
    assert {"y", "n", "a", "b"} <= set(shallow._raw)
