"""trt-rewrite CLI: exit codes, IN never modified, verification gate, atomic writes, reports."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.cli import rewrite as cli

MODULE = "trtforge.analyzer.cli.rewrite"

LN = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,3,8] x) => (float[2,3,8] z) <float[8] gamma = {1,2,3,4,5,6,7,8}, float[8] beta = {0,0,0,1,1,1,2,2}, float two = {2.0}, float eps = {1e-5}> {
 mean = ReduceMean<axes=[-1]>(x)
 d = Sub(x, mean)
 p = Pow(d, two)
 var = ReduceMean<axes=[-1]>(p)
 e = Add(var, eps)
 s = Sqrt(e)
 n = Div(d, s)
 y = Mul(n, gamma)
 z = Add(y, beta)
}"""


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", MODULE, *args], capture_output=True, text=True, timeout=timeout
    )


def raw(model: onnx.ModelProto) -> onnx.ModelProto:
    """Initializers as raw_data, so that onnx.save can move them to an external file."""
    for i, t in enumerate(model.graph.initializer):
        model.graph.initializer[i].CopyFrom(
            onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t), t.name)
        )
    return model


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def ln_file(tmp_path):
    path = tmp_path / "in.onnx"
    onnx.save(onnx.parser.parse_model(LN), path)
    return path


def test_writes_verified_model_and_leaves_input_untouched(ln_file, tmp_path):
    before = sha(ln_file)
    out = tmp_path / "out.onnx"
    report = tmp_path / "r.json"
    proc = run(
        str(ln_file),
        "-o",
        str(out),
        "--fuse-layernorm",
        "--report",
        str(report),
        "--target",
        "trt-10",
    )
    assert proc.returncode == 0, proc.stderr
    assert sha(ln_file) == before
    model = onnx.load(out)
    assert [n.op_type for n in model.graph.node] == ["LayerNormalization"]
    data = json.loads(report.read_text())
    assert data["schema"] == "trtforge.rewrite/1"
    assert data["input"]["sha256"] == before
    assert data["passes"]["fuse-layernorm"] == {"applied": 1, "skipped": []}
    assert data["verification"]["ok"] is True and data["written"] is True
    assert "fuse-layernorm: applied 1" in proc.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_second_run_is_idempotent(ln_file, tmp_path):
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    assert run(str(ln_file), "-o", str(first), "--fuse-layernorm").returncode == 0
    proc = run(str(first), "-o", str(second), "--fuse-layernorm")
    assert proc.returncode == 0 and "graph unchanged" in proc.stderr
    assert onnx.load(first).graph == onnx.load(second).graph


def test_broken_pass_fails_verification_and_writes_nothing(ln_file, tmp_path, monkeypatch, capsys):
    from trtforge.analyzer.rewrite.passes import fuse_layernorm

    original_rewrite = fuse_layernorm.FuseLayerNorm.rewrite

    def broken(self, match, ctx):  # a deliberate bug: the wrong epsilon
        match.data["eps"] = 0.5
        original_rewrite(self, match, ctx)

    monkeypatch.setattr(fuse_layernorm.FuseLayerNorm, "rewrite", broken)
    out, report = tmp_path / "out.onnx", tmp_path / "r.json"
    before = sha(ln_file)
    code = cli.main([str(ln_file), "-o", str(out), "--fuse-layernorm", "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 1
    assert not out.exists()
    assert "verification failed" in err and "output 'z'" in err and "nothing written" in err
    assert sha(ln_file) == before
    data = json.loads(report.read_text())
    assert data["written"] is False and data["verification"]["worst"]["name"] == "z"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_no_verify_writes_even_a_broken_rewrite(ln_file, tmp_path, monkeypatch):
    from trtforge.analyzer.rewrite.passes import fuse_layernorm

    original_rewrite = fuse_layernorm.FuseLayerNorm.rewrite
    monkeypatch.setattr(
        fuse_layernorm.FuseLayerNorm,
        "rewrite",
        lambda self, m, c: (m.data.__setitem__("eps", 0.5), original_rewrite(self, m, c)),
    )
    out = tmp_path / "out.onnx"
    assert cli.main([str(ln_file), "-o", str(out), "--fuse-layernorm", "--no-verify", "-q"]) == 0
    assert out.exists()


KILLER = textwrap.dedent("""
    import os, signal, sys
    def die(fd):  # the file is written, not yet renamed into place
        os.kill(os.getpid(), signal.SIGKILL)
    os.fsync = die
    from trtforge.analyzer.cli.rewrite import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("external", [False, True])
def test_killed_mid_write_leaves_no_file(ln_file, tmp_path, external):
    src = ln_file
    if external:
        src = tmp_path / "ext" / "in.onnx"
        src.parent.mkdir()
        onnx.save(
            raw(onnx.load(ln_file)),
            src,
            save_as_external_data=True,
            size_threshold=0,
            location="in.onnx.data",
        )
        assert (src.parent / "in.onnx.data").exists()
    out = tmp_path / "out.onnx"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(src), "-o", str(out), "--fuse-layernorm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()
    assert not (tmp_path / "out.onnx.data").exists()
    # SIGKILL cannot be caught: a recognizable temporary stays, and the next write to the
    # same OUT removes it (its process is gone).
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".out.onnx.trtforge-")]
    assert stale
    assert cli.main([str(src), "-o", str(out), "--fuse-layernorm", "-q"]) == 0
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failure_inside_the_write_cleans_up(ln_file, tmp_path, monkeypatch, capsys):
    from trtforge.analyzer import outputs

    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", fail)
    out = tmp_path / "out.onnx"
    assert cli.main([str(ln_file), "-o", str(out), "--fuse-layernorm", "-q"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx"]


WIDE = (
    LN.replace("float[2,3,8]", "float[2,3,512]")
    .replace(
        "float[8] gamma = {1,2,3,4,5,6,7,8}", "float[512] gamma = {" + ",".join(["1.5"] * 512) + "}"
    )
    .replace(
        "float[8] beta = {0,0,0,1,1,1,2,2}", "float[512] beta = {" + ",".join(["0.25"] * 512) + "}"
    )
)


def test_external_data_written_beside_the_output(tmp_path):
    src = tmp_path / "in" / "model.onnx"
    src.parent.mkdir()
    onnx.save(
        raw(onnx.parser.parse_model(WIDE)),
        src,
        save_as_external_data=True,
        size_threshold=64,  # scalars stay inline, as exporters keep them
        location="weights.bin",
    )
    data_before = sha(src.parent / "weights.bin")
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    proc = run(str(src), "-o", str(out), "--fuse-layernorm")
    assert proc.returncode == 0, proc.stderr
    assert (out.parent / "model.onnx.data").exists()
    assert sha(src.parent / "weights.bin") == data_before
    loaded = onnx.load(out)  # loads its own external data from out's folder
    assert [n.op_type for n in loaded.graph.node] == ["LayerNormalization"]
    gamma = next(t for t in loaded.graph.initializer if t.name == "gamma")
    assert onnx.numpy_helper.to_array(gamma).tolist() == [1.5] * 512
    import shutil

    shutil.rmtree(src.parent)  # the output does not depend on the input's files
    assert len(onnx.load(out).graph.initializer) == 2


def test_no_pattern_output_equals_input(tmp_path):
    src = tmp_path / "in.onnx"
    onnx.save(
        onnx.parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y) { y = Relu(x) }"""),
        src,
    )
    out = tmp_path / "out.onnx"
    proc = run(
        str(src),
        "-o",
        str(out),
        "--fuse-layernorm",
        "--fuse-gelu",
        "--fuse-rmsnorm",
        "--decompose-contrib",
        "--fold-constants",
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["missing.onnx", "-o", "x.onnx", "--fuse-layernorm"], "no such file"),
        (["IN", "-o", "x.onnx"], "no rewrite pass selected"),
        (["IN", "-o", "IN", "--fuse-layernorm"], "overwrite the input"),
        (["IN", "-o", "x.onnx", "--fuse-layernorm", "--dim", "seq"], "NAME=SIZE"),
        (["IN", "-o", "x.onnx", "--fuse-layernorm", "--dim", "seq=0"], "NAME=SIZE"),
        (["IN", "-o", "x.onnx", "--fuse-layernorm", "--dim", "nosuch=4"], "no dynamic dim"),
        (["IN", "-o", "x.onnx", "--fuse-layernorm", "--target", "trt-99"], "unknown target"),
        (["IN", "-o", "nodir/x.onnx", "--fuse-layernorm"], "does not exist"),
        (["IN", "--fuse-layernorm"], "required"),
    ],
)
def test_bad_input_exits_2_with_a_hint(ln_file, tmp_path, args, needle):
    args = [
        str(ln_file)
        if a == "IN"
        else str(tmp_path / a)
        if a.endswith(".onnx") and a != "missing.onnx"
        else a
        for a in args
    ]
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_every_pass():
    proc = run("-h")
    assert proc.returncode == 0
    for flag in (
        "--fuse-layernorm",
        "--fuse-rmsnorm",
        "--fuse-gelu",
        "--decompose-contrib",
        "--fold-constants",
        "--auto",
        "--layernorm-impl",
        "--no-verify",
        "--report",
    ):
        assert flag in proc.stdout


def test_an_input_too_large_to_generate_is_bad_input_not_a_crash(tmp_path, capsys):
    """A declared static shape of 2^62 elements (found by fuzzing): verification cannot
    generate it; trt-rewrite says so in one line (exit 2, nothing written), and --no-verify
    still rewrites."""
    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2, 4611686018427387904, 8] x) => (float[2, 4611686018427387904, 8] y) {
            m = ReduceMean <axes = [-1], keepdims = 1> (x)
            d = Sub (x, m)
            y = Relu (d)
        }"""
    )
    src, out = tmp_path / "m.onnx", tmp_path / "o.onnx"
    onnx.save(model, src)
    before = src.read_bytes()
    assert cli.main([str(src), "-o", str(out), "--upgrade-opset", "18"]) == 2
    err = capsys.readouterr().err
    assert "too large to generate for verification" in err and "Traceback" not in err
    assert not out.exists() and src.read_bytes() == before
    assert cli.main([str(src), "-o", str(out), "--upgrade-opset", "18", "--no-verify"]) == 0
    assert out.exists()


def _external_in_and_out(tmp_path, model):
    """`model` saved in `in/` with every tensor in an external data file, and the path of an
    output in `out/` (both folders made)."""
    src = tmp_path / "in" / "model.onnx"
    src.parent.mkdir()
    onnx.save(model, src, save_as_external_data=True, size_threshold=0, location="m.data")
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    return src, out


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "read-write"])
def test_external_weights_of_any_size_are_written_where_their_offsets_say(
    tmp_path, monkeypatch, kernel_copy
):
    """Tensors copied from the input's data file land at the offsets the written model
    records, whatever their sizes: the 64-byte alignment padding was written through the
    file's buffer and the tensor beneath it (os.copy_file_range), so every tensor after one
    whose size is not a multiple of 64 bytes was read back shifted — from a rewrite that
    verified (onnxruntime-genai exports: norm weights of 8 or 10 floats)."""
    from trtforge.analyzer.cli.rewrite import main

    if not kernel_copy:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    rng = np.random.default_rng(7)
    sizes = [2, 3, 8, 10, 17, 1, 33, 5]  # floats: 8 to 132 bytes, mostly not 64-aligned
    weights = {f"w{i}": rng.standard_normal(n).astype(np.float32) for i, n in enumerate(sizes)}
    nodes, last = [], "x"
    for i, name in enumerate(weights):  # x + sum(x + w_i) for every i: each weight is read
        nodes.append(helper.make_node("Add", ["x", name], [f"b{i}"]))
        nodes.append(helper.make_node("ReduceSum", [f"b{i}"], [f"s{i}"], keepdims=0))
        nodes.append(helper.make_node("Add", [last, f"s{i}"], [f"a{i}"]))
        last = f"a{i}"
    nodes.append(helper.make_node("Identity", [last], ["y"]))  # what --fold-constants drops
    inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, out = _external_in_and_out(tmp_path, model)
    assert main([str(src), "-o", str(out), "--fold-constants"]) == 0
    written = onnx.load(out)
    assert not any(n.op_type == "Identity" for n in written.graph.node)
    got = {t.name: numpy_helper.to_array(t) for t in written.graph.initializer}
    for name, value in weights.items():
        assert np.array_equal(got[name], value), name
    for tensor in written.graph.initializer:
        offsets = {e.key: e.value for e in tensor.external_data}
        if "offset" in offsets:
            assert int(offsets["offset"]) % 64 == 0


def test_value_info_that_inference_refutes_is_not_written(tmp_path):
    """A declaration the input's strict inference refutes (onnxruntime-genai's rank-0
    value_info of a [1] constant) is not written: the output passes onnx.checker's full
    check, even where no pass changed the graph."""
    from trtforge.analyzer.cli.rewrite import main

    model = onnx.parser.parse_model(
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[batch, 8] x) => (float[batch, 8] y) {
          c = Constant <value = float[1] {1.0}> ()
          y = Add(x, c)
        }"""
    )
    model.graph.value_info.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, []))
    model.graph.value_info.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    src, out = tmp_path / "m.onnx", tmp_path / "out.onnx"
    onnx.save(model, src)
    assert main([str(src), "-o", str(out), "--fuse-gelu"]) == 0
    onnx.checker.check_model(str(out), full_check=True)
    assert [v.name for v in onnx.load(out).graph.value_info] == ["y"]  # the rest is kept


def test_a_misplaced_weight_stops_the_write(tmp_path, monkeypatch, capsys):
    """Every tensor copied from the input's data file is read back at both ends: a copy that
    lands anywhere but where its offset says is an internal error (exit 3) and nothing is
    written, never a model with wrong weights that verified in memory."""
    from trtforge.analyzer.cli.rewrite import main
    from trtforge.analyzer.rewrite import writer

    real = writer._copy_range

    def shifted(src, dst, offset, length):  # one stray byte first: the old bug's effect
        dst.seek(0, os.SEEK_END)
        dst.write(b"\0")
        real(src, dst, offset, length)

    monkeypatch.setattr(writer, "_copy_range", shifted)
    model = helper.make_model(
        helper.make_graph(
            [
                helper.make_node("Add", ["x", "w"], ["a"]),
                helper.make_node("Identity", ["a"], ["y"]),
            ],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [100])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [100])],
            [numpy_helper.from_array(np.arange(100, dtype=np.float32), "w")],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    src, out = _external_in_and_out(tmp_path, model)
    assert main([str(src), "-o", str(out), "--fold-constants"]) == 3
    assert "other bytes" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_a_signal_stops_verification_while_onnxruntime_runs(tmp_path):
    """Verification runs the model in onnxruntime, native code in which Python handles no
    signal: SIGTERM was acted on only when the run returned (~40 s for a long Loop). The run
    is made in a worker thread now: 143 at once, nothing written."""
    import signal as signals
    import time

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.array([1], np.float32), "one")],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["x"], ["xi"]),
            helper.make_node("Loop", ["m", "c", "xi"], ["y"], body=body),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [
            numpy_helper.from_array(np.array(10**9, np.int64), "m"),
            numpy_helper.from_array(np.array(True), "c"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "slow.onnx")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trtforge.analyzer.cli.rewrite", str(tmp_path / "slow.onnx")]
        + ["-o", str(tmp_path / "o.onnx"), "--fold-constants"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(6)  # the import, the rewrite, and verification's run of a billion steps
        assert proc.poll() is None
        proc.send_signal(signals.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signals.SIGTERM, err
    assert "interrupted (SIGTERM); nothing written" in err
    assert not (tmp_path / "o.onnx").exists()


def _variadic_with_empty_input() -> onnx.ModelProto:
    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Max", ["x", "x", ""], ["m"], name="max"),
            onnx.helper.make_node("Identity", ["m"], ["y"], name="id"),
        ],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 4])],
    )
    return onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8
    )


def test_a_graph_onnxruntime_crashes_on_is_refused_before_it_runs(tmp_path):
    """A Max with an input given as an empty name is valid ONNX, and onnxruntime dies of
    SIGSEGV running it: verification refused it with one line (exit 2) instead of exit 139;
    without verification, trim-empty-inputs fixes it."""
    src = tmp_path / "m.onnx"
    onnx.save(_variadic_with_empty_input(), src)
    proc = run(str(src), "-o", str(tmp_path / "o.onnx"), "--fold-constants", timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "onnxruntime crashes" in proc.stderr and "Traceback" not in proc.stderr
    assert "does not run on any" not in proc.stderr
    proc = run(
        str(src), "-o", str(tmp_path / "t.onnx"), "--trim-empty-inputs", "--no-verify", timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert list(onnx.load(tmp_path / "t.onnx").graph.node[0].input) == ["x", "x"]


def test_string_constants_survive_a_rewrite(tmp_path):
    """graphsurgeon writes constants as raw_data, which a STRING tensor cannot hold: a
    rewrite of a model with one ended in a traceback (exit 3)."""
    words = onnx.helper.make_tensor("words", onnx.TensorProto.STRING, [2], [b"a", b"b"])
    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Identity", ["x"], ["y"], name="id"),
            onnx.helper.make_node("Identity", ["words"], ["w"], name="keep"),
        ],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [
            onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2]),
            onnx.helper.make_tensor_value_info("w", onnx.TensorProto.STRING, [2]),
        ],
        [words],
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8
    )
    src = tmp_path / "m.onnx"
    onnx.save(model, src)
    proc = run(str(src), "-o", str(tmp_path / "o.onnx"), "--fold-constants", timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = onnx.load(tmp_path / "o.onnx")
    onnx.checker.check_model(written, full_check=True)
    strings = [t for t in written.graph.initializer if t.data_type == onnx.TensorProto.STRING]
    assert strings and list(strings[0].string_data) == [b"a", b"b"]


def test_a_read_sparse_initializer_is_refused(tmp_path):
    """onnx.checker's full check types a sparse initializer as no tensor: the model was
    written unchanged, failing it (TensorRT does not import sparse initializers either)."""
    import numpy as np

    sparse = onnx.SparseTensorProto()
    sparse.values.CopyFrom(onnx.numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "w"))
    sparse.indices.CopyFrom(onnx.numpy_helper.from_array(np.array([0, 3], np.int64), "w_idx"))
    sparse.dims.extend([2, 3])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])],
        sparse_initializer=[sparse],
    )
    src = tmp_path / "m.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), src)
    proc = run(str(src), "-o", str(tmp_path / "o.onnx"), "--auto", timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "sparse initializer" in proc.stderr and not (tmp_path / "o.onnx").exists()
