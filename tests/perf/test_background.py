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

from trtforge.analyzer import background, inference, loading
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


@pytest.fixture(autouse=True)
def no_prefetch_left():
    yield
    left, background._prefetch = background._prefetch, None
    if left is not None:
        left.close()


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

    def crash(model, *args):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return infer_types(model)

    monkeypatch.setattr(background, "infer_table", crash)
    monkeypatch.setattr(background, "speculative_table", crash)
    model = _shape_computing_model()
    with caplog.at_level(logging.WARNING, logger="trtforge.background"):
        table = background.start_type_inference(model).result()
    assert table._raw == collect_declared_types(model)._raw
    assert "y" in table._raw and "s" not in table._raw  # declared output only, nothing inferred
    assert "crashed (signal 9)" in caplog.text


def test_child_error_infers_in_process(fork_always, monkeypatch):
    parent = os.getpid()
    calls = []

    def flaky(model, *args):
        calls.append(os.getpid())
        if os.getpid() != parent:
            raise MemoryError("simulated")
        return infer_types(model)

    monkeypatch.setattr(background, "infer_table", flaky)
    monkeypatch.setattr(background, "speculative_table", lambda model, *args: None)
    model = _shape_computing_model()
    table = background.start_type_inference(model).result()
    assert table._raw == infer_types(model)._raw
    assert calls == [parent]  # the child's call is not recorded here; the parent's is


def test_speculation_crash_infers_step_by_step(fork_always, monkeypatch, caplog):
    """The speculative run (one strict inference with data propagation, memory capped) dying
    of a signal: a new child runs the policy itself, and its types are the inferred ones,
    not only those the model declares."""

    def crash(model, *args):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(background, "speculative_table", crash)
    model = _shape_computing_model()
    with caplog.at_level(logging.INFO, logger="trtforge.background"):
        table = background.start_type_inference(model).result()
    assert table._raw == infer_types(model)._raw
    assert "speculative inference crashed" in caplog.text


def test_speculation_gives_the_policys_table(fork_always):
    """The child's one speculative run gives the table of the policy's runs (strict, then
    with data propagation where a shape-consuming node needs it: the Reshape's output is
    resolved)."""
    model = _shape_computing_model()
    table = inference.speculative_table(model)
    assert table is not None and table.decoded("y") == ("FLOAT", ("N", 2, 3))
    assert dict(table.serialized_table()) == dict(inference.infer_table(model).serialized_table())
    pending = background.start_type_inference(model)
    assert pending.result()._raw == infer_types(model)._raw


def _prefetched(path, model, sha256=None):
    loaded = load_model(path)
    if sha256 is not None:
        loaded = loaded.__class__(loaded.path, loaded.proto, sha256)
    return background.start_type_inference(model, loaded)


def test_prefetch_starts_before_the_model_is_loaded(fork_always, monkeypatch, tmp_path):
    """`prefetch(path)` (trt-check calls it before importing onnx) infers the file's types in
    a child; the session's inference takes that child over when it read the same bytes."""
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    model = _shape_computing_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    background.prefetch(str(path))
    child = background._prefetch
    assert child is not None and child._pid > 0
    pending = _prefetched(path, model)
    assert pending is child and background._prefetch is None  # taken over, once
    assert pending.result()._raw == infer_types(model)._raw


def test_prefetch_of_other_bytes_is_not_used(fork_always, monkeypatch, tmp_path):
    """The file changed between the child's read and the command's (another digest), or the
    command loads another file: the types are inferred again from the loaded model."""
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    model = _shape_computing_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    other = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[3] a) => (float[3] b) { b = Relu(a) }"""
    )
    background.prefetch(str(path))
    table = _prefetched(path, other, sha256="0" * 64).result()
    assert table._raw == infer_types(other)._raw
    background.prefetch(str(path))
    elsewhere = tmp_path / "other.onnx"
    onnx.save(other, elsewhere)
    assert _prefetched(elsewhere, other).result()._raw == infer_types(other)._raw
    assert background._prefetch is None  # the unused child was stopped


def test_prefetch_of_a_small_model_infers_in_the_command(monkeypatch, tmp_path):
    """A file large enough to prefetch whose graph is small (weights): the child stops at
    once and the command infers the types itself."""
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    model = _shape_computing_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    background.prefetch(str(path))
    assert background._prefetch is not None
    monkeypatch.setattr(background, "MIN_NODES", 0)  # the command forks; the child did not
    table = _prefetched(path, model).result()
    assert table._raw == infer_types(model)._raw


def test_prefetch_skips_what_it_should_not_read(monkeypatch, tmp_path):
    """Small files, folders, FIFOs and TRTFORGE_NO_FORK=1 start no child."""
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    small = tmp_path / "small.onnx"
    onnx.save(_shape_computing_model(), small)
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    for path in (small, tmp_path, fifo, tmp_path / "missing.onnx"):
        background.prefetch(str(path))
        assert background._prefetch is None
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setenv("TRTFORGE_NO_FORK", "1")
    background.prefetch(str(small))
    assert background._prefetch is None


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


def test_trt_check_prefetches_a_large_models_types(monkeypatch, tmp_path):
    """`trt-check` starts inferring a large model's types before it imports onnx
    (`background.prefetch`), takes that child's table, and reports what it reports
    without forking."""
    from trtforge.analyzer.cli import check as cli

    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    nodes = [
        helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"r{i}") for i in range(25_000)
    ]
    nodes.append(helper.make_node("Shape", ["t25000"], ["s"], name="shape"))
    nodes.append(helper.make_node("Reshape", ["t0", "s"], ["y"], name="reshape"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert path.stat().st_size >= background.PREFETCH_MIN_BYTES
    used = []
    real = background.PendingTypes.prefetched

    def spy(self, model, sha256):
        table = real(self, model, sha256)
        used.append(table is not None)
        return table

    monkeypatch.setattr(background.PendingTypes, "prefetched", spy)
    args = [str(path), "--backend", "static", "--target", "rtx-1", "--format", "json", "-o"]
    assert cli.main([*args, str(tmp_path / "forked.json")]) == 0
    assert used == [True]
    monkeypatch.setenv("TRTFORGE_NO_FORK", "1")
    assert cli.main([*args, str(tmp_path / "here.json")]) == 0
    assert used == [True]
    forked = (tmp_path / "forked.json").read_text()
    assert forked == (tmp_path / "here.json").read_text()
    assert '"node_count": 25002' in forked


def test_trt_check_stops_an_unused_prefetch(monkeypatch, tmp_path):
    """A model that fails to load after its prefetch started: the command exits 2 and the
    child is stopped and reaped (no later command of this process inherits it)."""
    from trtforge.analyzer.cli import check as cli

    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    path = tmp_path / "damaged.onnx"
    path.write_bytes(b"\xff" * (background.PREFETCH_MIN_BYTES + 1))
    started = []
    real = background.PendingTypes.of_file

    def spy(path):
        pending = real(path)
        started.append(pending._pid)
        return pending

    monkeypatch.setattr(background.PendingTypes, "of_file", spy)
    assert cli.main([str(path), "--backend", "static"]) == 2
    assert len(started) == 1 and started[0] > 0 and background._prefetch is None
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)  # reaped already


def test_the_childs_node_count_skips_the_weights():
    """The prefetching child counts nodes from a read that skips the weights (`model_types`)."""
    import numpy as np
    from onnx import numpy_helper

    from trtforge.analyzer._speculation import model_types

    for path in (
        REPO / "examples" / "transformer_block.onnx",
        *(REPO / "tests" / "fixtures" / "hf").glob("*.onnx"),
    ):
        model = onnx.load(path, load_external_data=False)
        assert len(model_types(model.SerializeToString())[0]) == len(model.graph.node), path
    heavy = _shape_computing_model()
    heavy.graph.initializer.append(numpy_helper.from_array(np.zeros(1 << 20, np.float32), "w"))
    assert len(model_types(heavy.SerializeToString())[0]) == len(heavy.graph.node)


def _chain_model() -> onnx.ModelProto:
    """No If/Loop/Scan, a Reshape whose shape data propagation resolves: the lean child's
    kind of model."""
    text = """
    <ir_version: 8, opset_import: ["" : 17]>
    g (float[N, 6] x) => (float[N, 2, 3] y) {
        r = Relu(x)
        s = Shape(r)
        zero = Constant<value = int64[1] {0}>()
        n = Gather<axis = 0>(s, zero)
        tail = Constant<value = int64[2] {2, 3}>()
        shape = Concat<axis = 0>(n, tail)
        y = Reshape(r, shape)
    }
    """
    return onnx.parser.parse_model(text)


def _weighted_model() -> onnx.ModelProto:
    """`_chain_model` whose result is multiplied by large weights, one embedded (over
    MAX_INFERENCE_INITIALIZER_BYTES) and one stored externally (its file absent: never read)."""
    import numpy as np
    from onnx import numpy_helper

    model = _chain_model()
    graph = model.graph
    graph.initializer.append(numpy_helper.from_array(np.ones((3, 8192), np.float32), "big"))
    outside = onnx.TensorProto(name="outside", data_type=TensorProto.FLOAT, dims=[8192, 5])
    outside.data_location = TensorProto.EXTERNAL
    outside.external_data.add(key="location", value="outside.bin")
    graph.initializer.append(outside)
    graph.node.extend(
        [
            helper.make_node("MatMul", ["y", "big"], ["wide"]),
            helper.make_node("MatMul", ["wide", "outside"], ["z"]),
        ]
    )
    graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    return model


def _mismatched_matmul() -> onnx.ModelProto:
    """A MatMul of incompatible dims: strict shape inference fails."""
    return onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[2, 3] a, float[4, 5] b) => (float y)'
        " { y = MatMul(a, b) }"
    )


def test_lean_speculation_runs_without_onnx_and_gives_the_full_paths_table(tmp_path):
    """`_speculation.lean_inferred` (the prefetching child's run) never imports onnx, and
    the table of its result (`table_state`) is `inference.speculative_table`'s, bodies of
    If and Loop included, and for a model with large and external weights, which both leave
    out."""
    import subprocess
    import sys

    paths = [REPO / "examples" / "transformer_block.onnx", tmp_path / "chain.onnx"]
    paths += [tmp_path / "if.onnx", REPO / "tests" / "fixtures" / "detection" / "ssd-opset17.onnx"]
    onnx.save(_chain_model(), paths[1])
    onnx.save(_shape_computing_model(), paths[2])
    paths.append(tmp_path / "weighted.onnx")
    onnx.save(_weighted_model(), paths[-1])
    script = (
        "import pickle, sys\n"
        "from trtforge.analyzer import _speculation\n"
        "runs = [_speculation.lean_inferred(open(p, 'rb').read()) for p in sys.argv[1:]]\n"
        "states = [_speculation.table_state(run) for run in runs]\n"
        "assert 'onnx' not in sys.modules and 'numpy' not in sys.modules, 'imported onnx'\n"
        "sys.stdout.buffer.write(pickle.dumps(states))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)], capture_output=True, check=False
    )
    assert run.returncode == 0, run.stderr.decode()
    import pickle

    for path, state in zip(paths, pickle.loads(run.stdout), strict=True):
        model = onnx.load(path, load_external_data=False)
        full = inference.speculative_table(model)
        assert state is not None and full is not None
        assert state == (full._raw, full.shape_consumers), path
        resolved = helper.make_tensor_type_proto(TensorProto.FLOAT, ["N", 2, 3])
        if path.stem in ("chain", "if"):  # data propagation resolved it
            assert state[0]["y"] == resolved.SerializeToString()
        if path.stem == "if":  # and the branches' values are typed
            assert {"a", "b"} <= set(state[0])
        if path.stem == "weighted":  # the weights' types, as graph inputs
            z = helper.make_tensor_type_proto(TensorProto.FLOAT, ["N", 2, 5])
            assert state[0]["z"] == z.SerializeToString()
            assert {"big", "outside"} <= set(state[0])


def test_onnx_imports_whole_after_its_extension_was_loaded_alone():
    """A lean child whose run declines or fails imports onnx after loading onnx's extension
    on its own: the package then works as ever, its extension attribute included."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from trtforge.analyzer import _speculation\n"
        "extension = _speculation.cpp_shape_inference()\n"
        "assert 'onnx' not in sys.modules\n"
        "onnx = _speculation.import_onnx()\n"
        "assert onnx.onnx_cpp2py_export.shape_inference is extension\n"
        "from trtforge.analyzer import inference\n"
        'model = onnx.parser.parse_model(\'<ir_version: 8, opset_import: ["" : 17]> '
        "g (float[2, 3] x) => (float[2, 3] y) { y = Relu(x) }')\n"
        "onnx.checker.check_model(model)\n"
        "assert inference.infer_table(model).decoded('y') == ('FLOAT', (2, 3))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_lean_speculation_declines_what_the_full_path_does_more_for():
    """External tensors other than top-level initializers (in bodies, here), a huge rank-1
    graph input or weight: None, and the full path runs. A strict failure or a huge inferred
    rank-1 tensor: SpeculationFailed (the policy runs). Large or external top-level weights
    are left out, as the full path does (the test above)."""
    import numpy as np
    from onnx import numpy_helper

    from trtforge.analyzer import _speculation

    wide_weight = _chain_model()  # rank 1, 2^17 elements: as a graph input, too large
    wide_weight.graph.initializer.append(
        numpy_helper.from_array(np.zeros(1 << 17, np.float32), "w")
    )
    tensor = numpy_helper.from_array(np.zeros(4, np.float32), "e")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="e.bin")
    wide = onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[100000] x) => (float[100000] y) '
        "{ s = Shape(x) \n y = Reshape(x, s) }"
    )
    in_body = _shape_computing_model()
    branch = in_body.graph.node[-1].attribute[0].g
    branch.node.append(helper.make_node("Constant", [], ["k"], value=tensor))
    for model in (wide_weight, wide, in_body):
        assert _speculation.lean_inferred(model.SerializeToString()) is None
    assert inference.speculative_table(wide_weight) is None  # the full path declines it too
    assert _speculation.lean_inferred(_shape_computing_model().SerializeToString()) is not None
    # without a shape consumer nothing is propagated: nothing is too large, the run is made
    relu = onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[100000] x) => (float[100000] y) '
        "{ y = Relu(x) }"
    )
    state = _speculation.table_state(_speculation.lean_inferred(relu.SerializeToString()))
    assert state == (inference.infer_table(relu)._raw, [])
    broken = _mismatched_matmul()
    for model in (broken, _grown_model()):
        with pytest.raises(_speculation.SpeculationFailed):
            inferred = _speculation.lean_inferred(model.SerializeToString())
            _speculation.table_state(inferred)


def _grown_model() -> onnx.ModelProto:
    """An Expand to a rank-1 tensor too large for data propagation, known only once inferred."""
    grown = onnx.parser.parse_model(
        '<ir_version: 8, opset_import: ["" : 17]> g (float[1] x) => (float[100000] y) '
        "{ s = Constant<value = int64[1] {100000}>() \n y = Expand(x, s) }"
    )
    grown.graph.ClearField("output")
    grown.graph.output.add().name = "y"
    return grown


def _lean_tables_read(monkeypatch) -> list:
    """A list that gets an entry each time the parent reads a lean child's types
    (`PendingTypes._lean_table`) from now on."""
    lean: list = []
    read = background.PendingTypes._lean_table
    monkeypatch.setattr(
        background.PendingTypes,
        "_lean_table",
        staticmethod(lambda model, inferred: lean.append(1) or read(model, inferred)),
    )
    return lean


@pytest.mark.parametrize(
    "kind",
    [
        "chain", "control flow", "many bodies", "strict failure", "too large for data propagation",
        "chain, mapped", "weights, mapped", "strict failure, mapped",
    ],
)  # fmt: skip
def test_prefetch_through_the_lean_child(fork_always, monkeypatch, tmp_path, caplog, kind):
    """A prefetch runs the lean child (If bodies and all; many bodies as two runs, the
    second in a child of its own: `_split_inference`; large and external weights left out);
    a strict failure there makes the child run the policy, and an inferred tensor too large
    for data propagation makes the parent run it. A file over PREFETCH_READ_BYTES is mapped,
    not read; where it needs the full path, the parent infers it (with a child of its own).
    Either way the table is the in-process one."""
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    if kind.endswith("mapped"):
        monkeypatch.setattr(background, "PREFETCH_READ_BYTES", 0)
        monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)  # (as a file that large is)
    model = _chain_model()
    if kind.startswith("weights"):
        model = _weighted_model()
        (tmp_path / "outside.bin").write_bytes(bytes(8192 * 5 * 4))
    elif kind == "control flow":
        model = _shape_computing_model()
    elif kind == "many bodies":
        from _control_flow_models import random_control_flow_model

        from trtforge.analyzer import _split_inference

        model = random_control_flow_model(7)
        marker = tmp_path / "joined"
        joined = _split_inference._joined
        monkeypatch.setattr(_split_inference, "may_be_worth", lambda *_: True)
        monkeypatch.setattr(_split_inference, "worth_splitting", lambda *_: True)
        monkeypatch.setattr(  # the child's calls leave a mark (its memory is its own)
            _split_inference,
            "_joined",
            lambda *args: marker.write_bytes(b"1") and joined(*args),
        )
    elif kind.startswith("strict failure"):
        model = _mismatched_matmul()
    elif kind.startswith("too large"):
        model = _grown_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    lean = _lean_tables_read(monkeypatch)
    background.prefetch(str(path))
    with caplog.at_level(logging.INFO, logger="trtforge.background"):
        table = _prefetched(path, model).result()
    # the child's table, unless a mapped file needs the full path (the parent's fork then)
    assert ("inferring again" in caplog.text) == (kind == "strict failure, mapped")
    here = infer_types(model)
    assert table._raw == here._raw and table.shape_consumers == here.shape_consumers
    failure = kind.startswith("strict failure")
    assert bool(table.strict_error) == failure == bool(here.strict_error)
    assert bool(lean) == (not failure)  # the child inferred without onnx
    if kind == "many bodies":
        assert (tmp_path / "joined").exists()


def _exited(pid: int) -> None:
    """Waits until the child `pid` has exited (a zombie: the parent reaps it later)."""
    import time

    for _ in range(2000):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return
        time.sleep(0.005)
    raise AssertionError("the prefetching child did not finish")


def _weighted_file(monkeypatch, tmp_path, lean_load: bool) -> tuple[onnx.ModelProto, Path]:
    """`_weighted_model` saved as tmp_path/m.onnx (its external file beside it), prefetched
    whatever its size; with `lean_load`, loaded lean and mapped by the child, as a file of
    64 MiB or more is."""
    monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
    if lean_load:
        monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
        monkeypatch.setattr(background, "PREFETCH_READ_BYTES", 0)
    model = _weighted_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    (tmp_path / "outside.bin").write_bytes(bytes(8192 * 5 * 4))
    return model, path


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("lean_load", [True, False])
def test_a_lean_prefetch_is_bound_to_the_bytes_it_inferred(
    fork_always, monkeypatch, tmp_path, caplog, lean_load
):
    """For a command that loads the file lean (and so does not hash it), the table of a
    child that maps the file is bound to the SHA-256 of its lean structure (the model
    without its weights' values: `_speculation.structure_digest`), not of the whole file:
    the weights' values changed after the child read the file, the table still stands for
    the loaded model and is used; a changed graph is inferred again. A command that reads
    the file whole hashes it anyway: the table is bound to the file's digest, and either
    change is inferred again."""
    import numpy as np
    from onnx import numpy_helper

    model, path = _weighted_file(monkeypatch, tmp_path, lean_load)
    lean = _lean_tables_read(monkeypatch)
    for change, used in (("values", True), ("graph", False)):
        lean.clear()
        caplog.clear()
        background.prefetch(str(path))
        _exited(background._prefetch._pid)  # it read the file as it was
        changed = onnx.ModelProto()
        changed.CopyFrom(model)
        if change == "values":
            big = numpy_helper.from_array(np.full((3, 8192), 2, np.float32), "big")
            changed.graph.initializer[0].CopyFrom(big)
        else:
            changed.graph.node[-1].op_type = "Add"
        onnx.save(changed, path)
        with caplog.at_level(logging.INFO, logger="trtforge.background"):
            loaded = load_model(path)
            assert (loaded.lean is not None) is lean_load
            assert (loaded.inference_sha256 is not None) is lean_load
            assert loaded.sha256 != loaded.inference_sha256
            table = background.start_type_inference(changed, loaded).result()
        used = used and lean_load
        assert ("inferring again" in caplog.text) is not used
        assert bool(lean) is used
        assert table._raw == infer_types(changed)._raw
        onnx.save(model, path)
    # a lean load has the digest without a prefetch too (a child started after loading
    # binds to it: `_read_again`); a load of the file whole needs none
    assert (load_model(path).inference_sha256 is not None) is lean_load


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("lean_load", [True, False])
def test_a_model_loaded_without_a_prefetch_is_inferred_by_the_lean_child(
    fork_always, monkeypatch, tmp_path, caplog, lean_load
):
    """A file loaded with no prefetch (a folder's models, the Python API) is inferred by the
    same lean child a prefetch starts, forked after loading, whose table the parent reads
    natively: the table equals in-process inference. Its result is bound to what was loaded:
    a file whose graph changed after loading is inferred again from the loaded model."""
    model, path = _weighted_file(monkeypatch, tmp_path, lean_load)
    lean = _lean_tables_read(monkeypatch)
    for changed_after_load in (False, True):
        lean.clear()
        caplog.clear()
        loaded = load_model(path)
        assert background.take_prefetch(loaded.path) is None
        if changed_after_load:
            changed = onnx.ModelProto()
            changed.CopyFrom(model)
            changed.graph.node[0].op_type = "Sub"
            onnx.save(changed, path)
        with caplog.at_level(logging.INFO, logger="trtforge.background"):
            pending = background.start_type_inference(loaded, loaded)
            assert pending.path == str(path.resolve())  # the child read the file itself
            table = pending.result()
        assert bool(lean) is not changed_after_load
        assert ("inferring again" in caplog.text) is changed_after_load
        assert table._raw == infer_types(model)._raw  # the loaded model's types
        onnx.save(model, path)


def test_idle_work_runs_while_waiting_for_the_child(fork_always):
    """`when_idle` work runs once, when the command would wait for its inference child, and
    a failing piece of it does not stop the check; `discard_prefetch` drops what never ran."""
    done = []
    background.when_idle(lambda: done.append("first"))
    background.when_idle(lambda: 1 / 0)
    background.when_idle(lambda: done.append("after a failure"))
    model = _chain_model()
    table = background.start_type_inference(model).result()
    assert table._raw == infer_types(model)._raw
    assert done == ["first", "after a failure"]
    background.start_type_inference(model).result()
    assert done == ["first", "after a failure"]  # once
    background.when_idle(lambda: done.append("never"))
    background.discard_prefetch()
    background.start_type_inference(model).result()
    assert "never" not in done


def test_steps_run_while_nothing_is_there_to_read(fork_always, monkeypatch):
    """`while_waiting` work runs a step at a time while the command waits for its child
    with nothing to read yet, until it says it is done, a failing one ended without stopping
    the others; what the child sends is read whole all the same."""
    import time

    steps = []

    def slow_child(out) -> None:
        time.sleep(0.3)
        out.write(b"the table" * 100_000)

    def counting(label: str, limit: int):
        def step() -> bool:
            steps.append(label)
            time.sleep(0.001)
            return steps.count(label) < limit

        return step

    background.while_waiting(counting("a", 3))
    background.while_waiting(lambda: 1 / 0)
    background.while_waiting(counting("b", 10**9))  # more than the wait holds
    pid, pipe = background.fork_child(slow_child)
    try:
        written = background.read_all(pipe, 30, None, background._step)
    finally:
        os.waitpid(pid, 0)
    assert written == b"the table" * 100_000
    assert steps[:3] == ["a", "a", "a"]
    assert 10 < steps.count("b") < 10**9  # steps while waiting, none once the child is done
    assert len(background._steps) == 1  # b's work is left for the next wait
    background.discard_prefetch()
    assert background._steps == []


def test_work_meanwhile_runs_while_waiting_for_its_child(fork_always):
    """`PendingTypes.meanwhile` work runs once, while that child's result is awaited, a
    failing piece of it not stopping the rest; in-process types run nothing meanwhile."""
    done = []
    model = _chain_model()
    pending = background.start_type_inference(model)
    assert pending._pid > 0  # it did fork
    pending.meanwhile(lambda: done.append("first"))
    pending.meanwhile(lambda: 1 / 0)
    pending.meanwhile(lambda: done.append("after a failure"))
    assert pending.result()._raw == infer_types(model)._raw
    assert done == ["first", "after a failure"]
    pending.result()
    assert done == ["first", "after a failure"]  # once

    from trtforge.analyzer.session import ModelSession

    session = ModelSession.unchecked(model)
    ready = session.pending_types()
    ready.meanwhile(lambda: done.append("in process"))
    ready.result()
    assert "in process" not in done


def test_structural_analyses_outlive_new_types():
    """A structural analysis (`graph.structural_analysis`) is computed once per graph and
    kept when the graph's types change; `prepare_structural` computes every one."""
    from trtforge.analyzer import graph as graph_module
    from trtforge.analyzer.graph import GraphView

    calls = []

    @graph_module.structural_analysis("test: node count")
    def count(view):
        calls.append(view)
        return len(view.fields.ops)

    try:
        view = GraphView(_chain_model().graph, {})
        view.prepare_structural()
        assert calls == [view]
        view.use_types(infer_types(_chain_model()))
        assert view.structural("test: node count") == len(_chain_model().graph.node)
        assert calls == [view]
    finally:
        del graph_module._STRUCTURAL["test: node count"]


@pytest.mark.parametrize(
    ("installed", "target", "prefetches"),
    [
        ({"tensorrt_rtx"}, "trt-10", True),  # auto = static: the parser is another line's
        ({"tensorrt_rtx"}, " TRT-11.4", True),
        ({"tensorrt_rtx"}, "rtx-1", False),  # auto may pick the parser
        ({"tensorrt_rtx"}, None, False),
        ({"tensorrt"}, "rtx-1", True),
        ({"tensorrt"}, "trt-10", False),
        ({"tensorrt", "tensorrt_rtx"}, "trt-10", False),
        (set(), None, True),
    ],
)
def test_trt_check_prefetches_where_auto_checks_statically(
    monkeypatch, installed, target, prefetches
):
    """`--backend auto` prefetches the types where it will run the static backend: no
    TensorRT module of the target's family is installed (the README's test extras install
    tensorrt_rtx, so `--target trt-10` there is a static check and gets the prefetch)."""
    import argparse
    import importlib.util

    from trtforge.analyzer import targets
    from trtforge.analyzer.cli import check as cli

    families = {family: (module,) for family, module, _ in targets._CANDIDATES}
    assert families == cli.PARSER_MODULES
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name in ("tensorrt", "tensorrt_rtx"):
            return object() if name in installed else None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    started = []
    monkeypatch.setattr(background, "prefetch", started.append)
    cli._prefetch_types(argparse.Namespace(backend="auto", target=target, model=["m.onnx"]))
    assert started == (["m.onnx"] if prefetches else [])
    if installed:  # the backend resolved for real says the same
        from trtforge.analyzer import api

        monkeypatch.setattr(api, "parser_available", lambda: True)
        line = {"tensorrt": "trt-10", "tensorrt_rtx": "rtx-1"}
        monkeypatch.setattr(
            api,
            "installed_target",
            lambda: targets.parse_target(
                line["tensorrt" if "tensorrt" in installed else "tensorrt_rtx"]
            ),
        )
        chosen = api.resolve_backend("auto", target and targets.parse_target(target))
        assert (chosen == "static") == prefetches


def _network_in_a_loop(count: int) -> onnx.ModelProto:
    """One top-level Loop whose body holds an If (its branches a Relu each) and a chain of
    `count` Relus: `count` + 4 nodes in bodies."""
    then_branch = helper.make_graph(
        [helper.make_node("Relu", ["v"], ["t"])],
        "t",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
    )
    else_branch = helper.make_graph(
        [helper.make_node("Neg", ["v"], ["e"])],
        "e",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])],
    )
    nodes = [
        helper.make_node("If", ["c_in"], ["v0"], then_branch=then_branch, else_branch=else_branch)
    ]
    nodes += [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"]) for i in range(count)]
    nodes.append(helper.make_node("Identity", ["c_in"], ["c_out"]))
    body = helper.make_graph(
        nodes,
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [4]),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"v{count}", TensorProto.FLOAT, [4]),
        ],
    )
    loop = helper.make_node("Loop", ["n", "c", "x"], ["y"], body=body)
    graph = helper.make_graph(
        [loop],
        "g",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_network_inside_bodies_counts_as_large(monkeypatch):
    """What decides that a model is large enough to be inferred in a child counts the nodes
    of its bodies (a scripted model's If or Loop around a whole network is one top-level
    node): from the parsed graph (`node_count`, which stops counting once past what it needs)
    and from the file's bytes before onnx is imported (`serialized_node_count`)."""
    from trtforge.analyzer import _speculation

    model = _network_in_a_loop(50)
    assert _speculation.node_count(model.graph, 10**6) == 1 + 50 + 4
    assert _speculation.node_count(model.graph, 0) == 1  # past it already
    assert _speculation.node_count(model.graph, 1) == 1 + 52  # the Loop's body, then stops
    ops = [node.op_type for node in model.graph.node]
    if _speculation._wire is not None:
        assert _speculation.serialized_node_count(model.SerializeToString(), ops) == 55
    assert _speculation.serialized_node_count(b"", ["Relu"] * 3) == 3  # no body: ops counted
    monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    monkeypatch.setattr(background, "MIN_NODES", 40)
    assert background.can_fork(model)
    monkeypatch.setattr(background, "MIN_NODES", 60)
    assert not background.can_fork(model)
