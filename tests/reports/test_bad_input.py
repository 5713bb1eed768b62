"""Bad input: every case exits 2 with one error line and one `Hint:` line, never a traceback,
and external data that points outside the model's folder is never opened."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import load_model

from .models import custom_op_model, run_cli, save, topk_model

CHECK = "trtforge.analyzer.cli.check"
ARGS = ("--backend", "static", "--target", "trt-10")


def assert_clean_usage_error(proc, *needles: str) -> None:
    """Exit 2; stderr is exactly `trt-check: error: …` then `Hint: …`; stdout empty."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("trt-check: error: ") and len(lines[0]) > len("trt-check: error: ")
    assert lines[1].startswith("Hint: ") and len(lines[1]) > len("Hint: ")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def external_model(folder, location: str, nbytes: int = 64 * 4) -> str:
    """A Relu(x + w) model whose initializer `w` lives in external data at `location`."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[nbytes // 4])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(nbytes))):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "w"], ["s"], name="add"),
            helper.make_node("Relu", ["s"], ["y"], name="relu"),
        ],
        "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [nbytes // 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [nbytes // 4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as handle:  # onnx.save would try to write the external data
        handle.write(model.SerializeToString())
    return path


def function_external_model(folder, location: str, as_default: bool = False) -> str:
    """A model calling a local function whose body's Constant holds 4 floats in external
    data at `location` (a Constant in a function is a tensor as any other); `as_default`:
    the Constant takes them from the function's attribute `T`, whose default
    (`attribute_proto`) holds them, and the call gives no `T`."""
    value = TensorProto(name="cv", data_type=TensorProto.FLOAT, dims=[4])
    value.data_location = TensorProto.EXTERNAL
    for key, entry_value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = value.external_data.add()
        entry.key, entry.value = key, entry_value
    constant = helper.make_node("Constant", [], ["k"])
    if as_default:
        constant.attribute.append(
            onnx.AttributeProto(name="value", ref_attr_name="T", type=onnx.AttributeProto.TENSOR)
        )
    else:
        constant.attribute.append(helper.make_attribute("value", value))
    body = [constant, helper.make_node("Add", ["a", "k"], ["b"])]
    function = helper.make_function("local", "F", ["a"], ["b"], body, [helper.make_opsetid("", 18)])
    if as_default:
        function.attribute_proto.append(helper.make_attribute("T", value))
    graph = helper.make_graph(
        [helper.make_node("F", ["x"], ["y"], domain="local", name="call")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("local", 1)],
        functions=[function],
        ir_version=8,
    )
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


# -- files that are not models ------------------------------------------------------------
def test_truncated_file(tmp_path):
    data = topk_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), str(path), "not a valid ONNX")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(7).bytes(4096))
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), str(path))


def test_text_file(tmp_path):
    path = tmp_path / "README.onnx"
    path.write_text("this is not a model\nbut it has two lines\n")
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), "empty")


def test_directory(tmp_path):
    # a folder is searched for models (trt-check FOLDER); one without any is bad input
    assert_clean_usage_error(run_cli(CHECK, str(tmp_path), *ARGS), "no .onnx file")


def test_missing_path(tmp_path):
    assert_clean_usage_error(run_cli(CHECK, str(tmp_path / "nope.onnx"), *ARGS), "no such file")


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        (CHECK, ARGS),
        (CHECK, ("EXAMPLES", *ARGS)),  # several models: an error row, not a crash
        ("trtforge.analyzer.cli.rewrite", ("-o", "OUT", "--fuse-layernorm")),
        ("trtforge.plugins.cli.build", ("-o", "OUT")),
        ("trtforge.analyzer.cli.quantize", ("-o", "OUT", "--random-calibration")),
    ],
    ids=["check", "check-many", "rewrite", "build", "quantize"],
)
def test_model_path_that_cannot_be_looked_at(tmp_path, module, extra):
    """A path the system refuses to stat (a name over 255 bytes: ENAMETOOLONG; also a folder
    this user may not enter, or a link loop) is bad input, not an internal error: pathlib's
    `is_dir`/`exists` raise for it."""
    path = str(tmp_path / ("m" * 300 + ".onnx"))
    examples = str(Path(__file__).resolve().parents[2] / "examples")
    named = {"OUT": str(tmp_path / "out.onnx"), "EXAMPLES": examples}
    args = [named.get(a, a) for a in extra]
    proc = run_cli(module, path, *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    if "EXAMPLES" in extra:
        assert proc.returncode == 2 and "could not be checked" in proc.stdout
        return
    assert proc.returncode == 2, proc.stderr
    assert "cannot read (File name too long)" in proc.stderr
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_model_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)  # opening it for reading would block until the 60 s timeout
    proc = run_cli(CHECK, str(fifo), *ARGS, timeout=60)
    assert_clean_usage_error(proc, "not a regular file")


def test_empty_graph(tmp_path):
    graph = helper.make_graph([], "empty", [], [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = save(model, tmp_path / "empty_graph.onnx")
    assert_clean_usage_error(run_cli(CHECK, path, *ARGS), "no nodes")


def test_protobuf_that_is_not_a_model(tmp_path):
    path = tmp_path / "tensor.onnx"  # a TensorProto: parses as a ModelProto with no graph
    path.write_bytes(onnx.numpy_helper.from_array(np.zeros(4, np.float32), "t").SerializeToString())
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), str(path))


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_names_that_are_not_utf8_are_reported_not_crashed_on(tmp_path, fmt):
    """protobuf returns such names as bytes; TensorRT accepts them, so the report shows them
    with a replacement character (this used to crash the JSON writer)."""
    data = custom_op_model(name="gelu_node").SerializeToString()
    path = tmp_path / "latin1.onnx"
    path.write_bytes(data.replace(b"gelu_node", b"gelu_n\xf6de"))
    proc = run_cli(CHECK, str(path), *ARGS, "--format", fmt)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert "gelu_n\ufffdde" in proc.stdout


def test_single_protobuf_over_2gib(tmp_path):
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as handle:  # sparse: no disk is used
        handle.truncate(2**31 + 10)
    assert_clean_usage_error(run_cli(CHECK, str(path), *ARGS), "2 GiB")


# -- external data ------------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path):
    """A FIFO outside the model folder: opening it would block, so a test that opened it
    would time out instead of passing."""
    os.mkdir(tmp_path / "model")
    target = tmp_path / "secret.bin"
    os.mkfifo(target)
    return tmp_path / "model", target


@pytest.mark.parametrize("kind", ["dotdot", "nested-dotdot", "absolute", "symlink", "symlink-dir"])
def test_external_data_outside_the_folder_is_refused_and_never_opened(outside, kind):
    folder, target = outside
    if kind == "dotdot":
        location = "../secret.bin"
    elif kind == "nested-dotdot":
        location = "weights/../../secret.bin"
    elif kind == "absolute":
        location = str(target)
    elif kind == "symlink":
        os.symlink(target, folder / "weights.bin")
        location = "weights.bin"
    else:
        os.symlink(target.parent, folder / "data")
        location = "data/secret.bin"
    path = external_model(str(folder), location)
    proc = run_cli(CHECK, path, *ARGS, timeout=60)
    assert_clean_usage_error(proc, "tensor 'w'")
    assert any(w in proc.stderr for w in ("outside", "leaves", "absolute"))


@pytest.mark.parametrize("as_default", [False, True])
@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
@pytest.mark.parametrize("backend", ["static", "parser"])
def test_external_data_in_a_function_body_outside_the_folder_is_refused(
    outside, kind, backend, as_default
):
    """A Constant in a model-local function's body is checked as the graph's tensors are
    (it was not: the parser backend read the symbolic link's target outside the folder)."""
    folder, target = outside
    location = {"dotdot": "../secret.bin", "absolute": str(target), "symlink": "data.bin"}[kind]
    if kind == "symlink":
        os.symlink(target, folder / "data.bin")
    path = function_external_model(str(folder), location, as_default)
    proc = run_cli(CHECK, path, "--backend", backend, "--target", "rtx-1", timeout=60)
    assert_clean_usage_error(proc, "tensor 'cv'")
    assert any(w in proc.stderr for w in ("outside", "leaves", "absolute"))


def test_external_data_in_a_function_body_inside_the_folder_is_read_there(tmp_path):
    """The valid form: checked (the call's body judged with its data found in the model's
    folder) and rewritten with the data copied beside the output."""
    (tmp_path / "w.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    path = function_external_model(str(tmp_path), "w.bin")
    proc = run_cli(CHECK, path, "--backend", "static", "--target", "rtx-1")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / "rewritten.onnx"
    out.parent.mkdir()
    proc = run_cli("trtforge.analyzer.cli.rewrite", path, "-o", str(out), "--auto")
    assert proc.returncode == 0, proc.stderr
    written = onnx.load(str(out), load_external_data=False)
    (entry,) = [
        e for e in written.functions[0].node[0].attribute[0].t.external_data if e.key == "location"
    ]
    assert (out.parent / entry.value).is_file()
    onnx.checker.check_model(str(out), full_check=True)


def test_traversal_never_opens_the_outside_file_in_process(tmp_path):
    """Audit hook: no `open` event names the outside file or the symlink to it."""
    folder = tmp_path / "m"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 4096)
    os.symlink(secret, folder / "link.bin")
    opened: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if watching[0] and event == "open" and args and isinstance(args[0], (str, bytes)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # hooks cannot be removed; `watching` turns it off
    try:
        for location in ("../secret.bin", str(secret), "link.bin"):
            path = external_model(str(folder), location)
            with pytest.raises(UserError):
                load_model(path)
    finally:
        watching[0] = False
    assert any(p.endswith("model.onnx") for p in opened)  # the hook does see opens
    assert not [p for p in opened if p.endswith(("secret.bin", "link.bin"))]


def test_missing_external_data(tmp_path):
    path = external_model(str(tmp_path), "weights.bin")
    assert_clean_usage_error(run_cli(CHECK, path, *ARGS), "weights.bin", "missing")


def test_external_data_too_short(tmp_path):
    path = external_model(str(tmp_path), "weights.bin", nbytes=1024)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 100)
    assert_clean_usage_error(run_cli(CHECK, path, *ARGS), "too short")


def test_external_data_that_is_a_directory(tmp_path):
    path = external_model(str(tmp_path), "weights")
    (tmp_path / "weights").mkdir()
    assert_clean_usage_error(run_cli(CHECK, path, *ARGS), "not a file")


def test_external_data_inside_the_folder_is_accepted(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"\0" * 256)
    path = external_model(str(tmp_path), "sub/w.bin")
    loaded = load_model(path)
    assert loaded.external_bytes == 256 and loaded.external[0].location == "sub/w.bin"


def test_external_data_over_2gb_is_handled_without_reading_it(tmp_path):
    size = 3 * 2**30  # sparse: no disk is used
    with open(tmp_path / "big.bin", "wb") as handle:
        handle.truncate(size)
    path = external_model(str(tmp_path), "big.bin", nbytes=size)
    loaded = load_model(path)
    assert loaded.external_bytes == size
    assert os.path.getsize(path) < 4096
    proc = run_cli(CHECK, path, *ARGS, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert '"node_count": 2' in proc.stdout


# -- the input is never modified; -o is atomic ------------------------------------------------
def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_input_is_never_modified_and_output_is_written_whole(tmp_path, fmt):
    model = save(topk_model(), tmp_path / "m.onnx")
    before = _digest(model), os.stat(model).st_mtime_ns
    out = tmp_path / f"report.{fmt}"
    out.write_text("old content")
    proc = run_cli(CHECK, model, *ARGS, "--format", fmt, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (_digest(model), os.stat(model).st_mtime_ns) == before
    assert proc.stdout == ""
    text = out.read_text()
    assert text != "old content" and text.endswith("\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", f"report.{fmt}"]


def test_no_output_file_on_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x08garbage")
    out = tmp_path / "report.json"
    proc = run_cli(CHECK, str(bad), *ARGS, "--format", "json", "-o", str(out))
    assert proc.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]
    out.write_text("keep me")
    run_cli(CHECK, str(bad), *ARGS, "--format", "json", "-o", str(out))
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("where", ["missing-dir", "is-dir"])
def test_bad_output_path(tmp_path, where):
    model = save(topk_model(), tmp_path / "m.onnx")
    out = tmp_path / "no" / "such" / "r.json" if where == "missing-dir" else tmp_path
    assert_clean_usage_error(run_cli(CHECK, model, *ARGS, "-o", str(out)))
