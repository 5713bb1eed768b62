"""Output paths: every file a trtforge command writes is a regular file written all at once,
or nothing is written (analyzer/outputs.py). Real commands on real models; disk errors are
real where the system allows (a folder unwritable for `nobody`), injected otherwise."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import outputs
from trtforge.analyzer.cli import check as check_cli
from trtforge.analyzer.cli import rewrite as rewrite_cli
from trtforge.analyzer.errors import UserError


def _ln(width: int = 8) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "beta"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], "rm1", axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["d"], "sub"),
        helper.make_node("Pow", ["d", "two"], ["p"], "pow"),
        helper.make_node("ReduceMean", ["p"], ["var"], "rm2", axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["e"], "add_eps"),
        helper.make_node("Sqrt", ["e"], ["s"], "sqrt"),
        helper.make_node("Div", ["d", "s"], ["n"], "div"),
        helper.make_node("Mul", ["n", "gamma"], ["y"], "mul"),
        helper.make_node("Add", ["y", "beta"], ["z"], "add_beta"),
    ]
    graph = helper.make_graph(
        nodes,
        "ln",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, width])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3, width])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "in" / "model.onnx"
    path.parent.mkdir()
    onnx.save(_ln(), path)
    return path


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _rewrite(model, out, *extra):
    return rewrite_cli.main([str(model), "-o", str(out), "--fuse-layernorm", "-q", *extra])


def _check(model, out, *extra):
    return check_cli.main(
        [str(model), "--backend", "static", "--target", "trt-10", "-o", str(out), *extra]
    )


def _one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Hint: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _special(path, kind):
    if kind == "chardev":
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "dir":
        path.mkdir()


# -- special files are refused, never replaced -------------------------------------------------
@pytest.mark.parametrize("kind", ["chardev", "fifo", "socket", "dir"])
@pytest.mark.parametrize("tool", ["check", "rewrite", "rewrite-report"])
def test_special_output_refused(model, out_dir, capsys, kind, tool):
    if kind == "chardev" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    target = out_dir / "target"
    _special(target, kind)
    before = os.lstat(target)
    if tool == "check":
        code = _check(model, target)
    elif tool == "rewrite":
        code = _rewrite(model, target)
    else:
        code = _rewrite(model, out_dir / "m.onnx", "--report", str(target))
    assert code == 2
    _one_error_line(capsys.readouterr().err, str(target))
    after = os.lstat(target)
    assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (
        before.st_ino,
        stat.S_IFMT(before.st_mode),
    )
    assert sorted(p.name for p in out_dir.iterdir()) == ["target"]  # no model, no temporary


def test_real_dev_null_is_refused_and_untouched(model, capsys):
    before = os.stat("/dev/null")
    assert _rewrite(model, "/dev/null") == 2
    assert "is a device" in capsys.readouterr().err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize("points_to", ["file", "outside", "dangling"])
def test_symlink_output_refused(model, out_dir, tmp_path, capsys, points_to):
    target = out_dir / "real.onnx"
    if points_to == "file":
        target.write_bytes(b"old")
    elif points_to == "outside":
        target = tmp_path / "in" / "model.onnx"  # the input itself, through a link
    link = out_dir / "link.onnx"
    os.symlink(target, link)
    original = model.read_bytes()
    assert _rewrite(model, link) == 2
    _one_error_line(capsys.readouterr().err, "symbolic link")
    assert os.path.islink(link)
    assert model.read_bytes() == original
    if points_to == "file":
        assert target.read_bytes() == b"old"


def test_folder_symlink_above_out_is_followed(model, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "via")
    assert _rewrite(model, tmp_path / "via" / "m.onnx") == 0
    assert (real / "m.onnx").is_file()


@pytest.mark.parametrize(
    "where, needle",
    [("missing/m.onnx", "does not exist"), ("file/m.onnx", "Not a directory"), ("", "directory")],
)
def test_bad_folders(model, out_dir, capsys, where, needle):
    (out_dir / "file").write_bytes(b"x")
    target = str(out_dir / where) if where else ""
    assert _rewrite(model, target) == 2
    _one_error_line(capsys.readouterr().err, needle)


def test_name_too_long(model, out_dir, capsys):
    assert _rewrite(model, out_dir / ("n" * 300)) == 2
    _one_error_line(capsys.readouterr().err, "File name too long")
    assert list(out_dir.iterdir()) == []


# -- disk errors ---------------------------------------------------------------------------------
def _setpriv() -> str | None:
    return shutil.which("setpriv") if os.geteuid() == 0 else None


@pytest.mark.skipif(_setpriv() is None, reason="needs root and setpriv to run as nobody")
@pytest.mark.parametrize("tool", ["trtforge.analyzer.cli.rewrite", "trtforge.analyzer.cli.check"])
def test_unwritable_folder_as_nobody(model, tmp_path, tool):
    """A real permission error: the command runs as `nobody` in a folder it cannot write."""
    for path in (tmp_path, model.parent, model):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    args = ["--fuse-layernorm"] if tool.endswith("rewrite") else ["--backend", "static"]
    cmd = [
        _setpriv(),
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-m",
        tool,
        str(model),
        "-o",
        str(locked / "out"),
        *args,
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if "No module named" in proc.stderr or "Permission denied: '/root" in proc.stderr:
        pytest.skip("the venv is not readable for nobody here")
    assert proc.returncode == 2, proc.stderr
    _one_error_line("\n".join(proc.stderr.strip().splitlines()[-2:]), "Permission denied")
    assert "Traceback" not in proc.stderr
    assert list(locked.iterdir()) == []


@pytest.fixture
def immutable_dir(tmp_path):
    """A folder nobody may write into, root included (`chattr +i`): a real EPERM."""
    folder = tmp_path / "immutable"
    folder.mkdir()
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr")
    proc = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("chattr +i is not allowed here (needs root on ext4/xfs/btrfs)")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("tool", ["check", "rewrite", "rewrite-report", "rewrite-data"])
def test_unwritable_folder_real(model, immutable_dir, out_dir, capsys, tool):
    if tool == "check":
        code = _check(model, immutable_dir / "r.txt")
    elif tool == "rewrite":
        code = _rewrite(model, immutable_dir / "m.onnx")
    elif tool == "rewrite-report":
        code = _rewrite(model, out_dir / "m.onnx", "--report", str(immutable_dir / "r.json"))
    else:  # a model with external data: the scratch folder cannot be made
        big = _ln(4096)
        onnx.save(big, model, save_as_external_data=True, location="model.onnx.data")
        code = _rewrite(model, immutable_dir / "m.onnx")
    assert code == 2
    _one_error_line(capsys.readouterr().err, "Operation not permitted")
    assert list(immutable_dir.iterdir()) == [] and list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    "call, code",
    [
        ("fsync", errno.ENOSPC),
        ("open", errno.EACCES),
        ("open", errno.EROFS),
        ("replace", errno.EDQUOT),
    ],
)
def test_disk_errors_are_one_line_and_leave_nothing(
    model, out_dir, monkeypatch, capsys, call, code
):
    real = {"fsync": os.fsync, "open": os.open, "replace": os.replace}[call]

    def fail(*args, **kwargs):
        if call == "open" and not (args[1] & os.O_CREAT):
            return real(*args, **kwargs)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(outputs.os, call, fail)
    assert _rewrite(model, out_dir / "m.onnx", "--report", str(out_dir / "r.json")) == 2
    _one_error_line(capsys.readouterr().err, os.strerror(code))
    assert list(out_dir.iterdir()) == []


def test_model_and_report_together_or_not_at_all(model, out_dir, tmp_path, capsys):
    """The report cannot be written: the model is not written either."""
    nested = tmp_path / "gone"
    assert _rewrite(model, out_dir / "m.onnx", "--report", str(nested / "r.json")) == 2
    _one_error_line(capsys.readouterr().err, "does not exist")
    assert list(out_dir.iterdir()) == []


def test_second_rename_failing_restores_the_first(model, out_dir, monkeypatch, capsys):
    (out_dir / "m.onnx").write_bytes(b"previous model")
    real = os.replace

    def fail_on_report(src, dst, *a, **k):
        if str(dst).endswith("r.json"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(outputs.os, "replace", fail_on_report)
    assert _rewrite(model, out_dir / "m.onnx", "--report", str(out_dir / "r.json")) == 2
    assert (out_dir / "m.onnx").read_bytes() == b"previous model"
    assert sorted(p.name for p in out_dir.iterdir()) == ["m.onnx"]


# -- modes and stale temporaries -----------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_mode_follows_umask(model, out_dir, mask):
    old = os.umask(mask)
    try:
        assert _rewrite(model, out_dir / "m.onnx", "--report", str(out_dir / "r.json")) == 0
        assert _check(model, out_dir / "c.txt") in (0, 1)
    finally:
        os.umask(old)
    for name in ("m.onnx", "r.json", "c.txt"):
        assert stat.S_IMODE(os.stat(out_dir / name).st_mode) == 0o666 & ~mask, name


def test_stale_temporaries_only_if_provably_ours(out_dir):
    out = out_dir / "m.onnx"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = outputs._host()
    ours = out_dir / f".m.onnx{outputs.TAG}{host}-{dead.pid}-0123abcd.tmp"
    alive = out_dir / f".m.onnx{outputs.TAG}{host}-{os.getppid()}-0123abcd.tmp"
    other_host = out_dir / f".m.onnx{outputs.TAG}ffffffff-{dead.pid}-0123abcd.tmp"
    other_out = out_dir / f".n.onnx{outputs.TAG}{host}-{dead.pid}-0123abcd.tmp"
    user_file = out_dir / ".m.onnx.tmp"
    for path in (ours, alive, other_host, other_out, user_file):
        path.write_bytes(b"x")
    ours_dir = out_dir / f".m.onnx{outputs.TAG}{host}-{dead.pid}-0123abce.tmp"
    ours_dir.mkdir()
    (ours_dir / "m.onnx.data").write_bytes(b"x")
    outputs.write_bytes(out, b"model")
    left = sorted(p.name for p in out_dir.iterdir())
    assert ours.name not in left and ours_dir.name not in left
    assert {alive.name, other_host.name, other_out.name, user_file.name, "m.onnx"} == set(left)


# -- signals -------------------------------------------------------------------------------------
SLOW_WRITE = textwrap.dedent("""
    import os, sys, time
    real = os.fsync
    def slow(fd):
        print("WRITING", flush=True)
        time.sleep(float(os.environ.get("PAUSE", "30")))
        return real(fd)
    os.fsync = slow
    if os.environ.get("AFTER"):
        import trtforge.analyzer.outputs as o
        real_commit = o.OutputSet.commit
        def commit(self):
            os.fsync = real
            done = real_commit(self)
            print("COMMITTED", flush=True)
            time.sleep(3)
            return done
        o.OutputSet.commit = commit
        os.environ["PAUSE"] = "0"
    sys.argv = ["trt-rewrite", *sys.argv[1:]]
    from trtforge.analyzer.cli.rewrite import main
    sys.exit(main())
""")


def _start(model, out_dir, ignored=(), **env):
    """The slow-writing trt-rewrite, with the default disposition of each signal but those
    `ignored` (under nohup the runner's SIGHUP is ignored, and trtforge rightly keeps ignoring
    an ignored signal: each test says what it expects)."""

    def dispositions() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)

    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_WRITE,
            str(model),
            "-o",
            str(out_dir / "m.onnx"),
            "--fuse-layernorm",
            "--report",
            str(out_dir / "r.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        preexec_fn=dispositions,
    )


def _wait_for(proc, word: str) -> None:
    deadline = time.monotonic() + 120
    line = ""
    while word not in line:
        assert time.monotonic() < deadline, "the child never got there"
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_during_write_cleans_up_and_says_so(model, out_dir, signum):
    proc = _start(model, out_dir)
    _wait_for(proc, "WRITING")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "nothing written" in err and "Traceback" not in err and "KeyboardInterrupt" not in err
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_after_the_rename_keeps_the_truth(model, out_dir, signum):
    """Once OUT is renamed into place, a signal no longer turns the run into 'interrupted'."""
    proc = _start(model, out_dir, AFTER="1")
    _wait_for(proc, "COMMITTED")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "KeyboardInterrupt" not in err and "interrupted" not in err
    assert "came after the outputs were written" in err
    onnx.checker.check_model(str(out_dir / "m.onnx"))
    assert json.loads((out_dir / "r.json").read_text())["written"] is True


def test_ignored_sighup_stays_ignored(model, out_dir):
    """Under nohup (SIGHUP ignored), trtforge does not start honouring SIGHUP."""
    proc = _start(model, out_dir, ignored=(signal.SIGHUP,), PAUSE="2")
    _wait_for(proc, "WRITING")
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (out_dir / "m.onnx").is_file()


def test_handlers_restored_after_main(model, out_dir):
    before = {s: signal.getsignal(s) for s in outputs.SIGNALS}
    assert _rewrite(model, out_dir / "m.onnx") == 0
    assert {s: signal.getsignal(s) for s in outputs.SIGNALS} == before


def test_check_output_api(tmp_path):
    with pytest.raises(UserError, match="regular files"):
        outputs.check_output(tmp_path)
    assert outputs.check_output(tmp_path / "new") == tmp_path / "new"


def test_a_signal_inside_a_finalizer_is_not_lost(capsys):
    """A signal whose handler runs inside a `__del__` (the garbage collector finalizing a
    ZipFile, found by fuzzing) raises `Interrupted` there, which Python would print as
    "Exception ignored" and drop: it is delivered again, and raised in the command's own code."""
    import gc
    import sys
    import time

    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGTERM)
            for _ in range(100):  # the handler runs here, inside the finalizer
                pass

    hook = sys.unraisablehook
    with pytest.raises(outputs.Interrupted) as caught:
        with outputs.signal_guard():
            item = Finalized()
            item.cycle = item  # freed by the collector, not by reference counting
            del item
            gc.collect()
            time.sleep(5)  # the signal, delivered again, interrupts this
    assert caught.value.signum == signal.SIGTERM
    assert "Exception ignored" not in capsys.readouterr().err
    assert sys.unraisablehook is hook  # restored with the handlers


def test_a_signal_during_an_import_waits_for_the_import(tmp_path, monkeypatch):
    """A signal whose handler runs while a module is imported (a C extension calling back into
    Python as it initializes: onnx's, which died of SIGSEGV or SIGABRT on SIGTERM 65 ms after
    the command started, found by fuzzing) is not raised there: the import completes, and the
    signal is delivered again and raised in the command's own code."""
    import sys
    import time

    module = tmp_path / "trtforge_signal_probe.py"
    module.write_text(
        "import signal\n"
        "signal.raise_signal(signal.SIGTERM)\n"
        "for _ in range(1000):  # the handler runs here, inside the import\n"
        "    pass\n"
        "COMPLETE = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(outputs.Interrupted) as caught:
        with outputs.signal_guard():
            import trtforge_signal_probe  # noqa: F401

            assert trtforge_signal_probe.COMPLETE
            time.sleep(5)  # the signal, delivered again, interrupts this
    assert caught.value.signum == signal.SIGTERM
    assert sys.modules["trtforge_signal_probe"].COMPLETE
    sys.modules.pop("trtforge_signal_probe")
