"""What a user's feeds (calibration data, verification inputs, a data-loader script) may do to
a command: never be replaced by one of its outputs, never make it write beside them, never
run it out of memory or end it with anything but one error line (exit 2)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer.cli.check import main as check_main
from trtforge.analyzer.cli.quantize import main as quantize_main
from trtforge.analyzer.cli.rewrite import main as rewrite_main
from trtforge.analyzer.errors import UserError
from trtforge.analyzer.rewrite import inputs


def _model(path, batch: int | str = 2) -> None:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _samples(folder, n=6):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        np.savez(folder / f"s{i}.npz", x=rng.standard_normal((2, 4)).astype(np.float32))


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.onnx"
    _model(path)
    return path


def test_an_output_never_replaces_calibration_data(tmp_path, model, capsys):
    data = tmp_path / "cal"
    _samples(data)
    sample = data / "s0.npz"
    before = sample.read_bytes()
    args = f"-o {tmp_path / 'q.onnx'} --calibration-data {data} --method minmax --report {sample}"
    code = quantize_main([str(model), *args.split()])
    assert code == 2 and "is an input of this command" in capsys.readouterr().err
    assert sample.read_bytes() == before and not (tmp_path / "q.onnx").exists()


def test_an_output_never_replaces_the_inputs_npz_or_the_loader(tmp_path, model, capsys):
    feed = tmp_path / "in.npz"
    np.savez(feed, x=np.ones((2, 4), np.float32))
    before = feed.read_bytes()
    args = f"-o {tmp_path / 'r.onnx'} --fold-constants --inputs {feed} --report {feed}"
    code = rewrite_main([str(model), *args.split()])
    assert code == 2 and feed.read_bytes() == before
    loader = tmp_path / "loader.py"
    loader.write_text(
        "import numpy as np\ndef load_data():\n    yield {'x': np.ones((2, 4), 'f')}\n"
    )
    text = loader.read_text()
    code = quantize_main(
        [str(model), "-o", str(loader), "--calibration-data", str(loader), "--method", "minmax"]
    )
    assert code == 2 and loader.read_text() == text
    assert capsys.readouterr().err.count("is an input of this command") == 2


def test_genai_config_beside_the_model_is_never_replaced(tmp_path):
    """onnxruntime-genai's config beside a model gives its dims to every command."""
    model = tmp_path / "m.onnx"
    _model(model, batch="batch_size")
    config = tmp_path / "genai_config.json"
    config.write_text(json.dumps({"search": {"batch_size": 2}, "model": {"context_length": 64}}))
    before = config.read_bytes()
    args = [str(model), "-o", str(tmp_path / "q.onnx"), "--random-calibration"]
    assert quantize_main([*args, "--method", "minmax", "--report", str(config)]) == 2
    assert check_main([str(model), "--backend", "static", "-o", str(config)]) == 2
    assert config.read_bytes() == before


def _loader(tmp_path, body: str) -> str:
    script = tmp_path / "loader.py"
    script.write_text("import numpy as np, os, sys\n" + body)
    return str(script)


def test_a_loader_writes_no_bytecode_and_keeps_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = _loader(
        tmp_path,
        f"def load_data():\n    os.chdir({str(elsewhere)!r})\n"
        "    yield {'x': np.ones((2, 4), 'f')}\n",
    )
    cwd = os.getcwd()
    (candidate,) = inputs.load_script(script)
    assert len(candidate.steps) == 1
    assert os.getcwd() == cwd
    assert not (tmp_path / "__pycache__").exists()
    assert sys.dont_write_bytecode is False  # restored


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("def load_data():\n    sys.exit(0)\n", "sys.exit(0)"),
        ("def load_data():\n    raise GeneratorExit\n", "GeneratorExit"),
        (
            "class E(Exception):\n    def __str__(self):\n        raise RuntimeError\n"
            "def load_data():\n    raise E()\n",
            "cannot be shown",
        ),
        ("sys.exit('at import')\n", "cannot import it"),
    ],
)
def test_what_a_loader_raises_or_exits_with_is_one_error(tmp_path, body, said):
    with pytest.raises(UserError) as err:
        inputs.load_script(_loader(tmp_path, body))
    assert said in err.value.message


def test_a_loader_that_never_stops_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_FEEDS", 50)
    script = _loader(
        tmp_path, "def load_data():\n    while True:\n        yield {'x': np.ones((2, 4), 'f')}\n"
    )
    with pytest.raises(UserError, match="more than 50 feeds"):
        inputs.load_script(script)


def test_a_folder_of_archives_is_held_to_one_budget_before_decompressing(tmp_path, monkeypatch):
    data = tmp_path / "cal"
    _samples(data, n=4)  # 4 x 32 bytes of arrays
    monkeypatch.setattr(inputs, "MAX_FEED_BYTES", 100)
    with pytest.raises(UserError, match="together"):
        inputs.load_npz([str(data)], "--calibration-data")


def test_a_loader_path_too_long_is_one_error(tmp_path):
    with pytest.raises(UserError, match="cannot read it"):
        inputs.load_script(str(tmp_path / ("a" * 300 + ".py")))


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_calibration_takes_samples_of_different_lengths(tmp_path, method, capsys):
    """A dynamic dim that differs from sample to sample (sentences, box counts): the
    histogram methods stacked the samples and ended in exit 3."""
    model = tmp_path / "m.onnx"
    _model(model, batch="n")
    data = tmp_path / "cal"
    data.mkdir()
    rng = np.random.default_rng(2)
    for i, rows in enumerate([1, 3, 2, 5, 4, 2]):
        np.savez(data / f"s{i}.npz", x=rng.standard_normal((rows, 4)).astype(np.float32))
    out = tmp_path / "q.onnx"
    code = quantize_main([str(model), "-o", str(out), "--calibration-data", str(data),
                          "--method", method])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    onnx.checker.check_model(onnx.load(out), full_check=True)


def test_a_sample_without_elements_is_refused(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    _model(model, batch="n")
    feed = tmp_path / "empty.npz"
    np.savez(feed, x=np.zeros((0, 4), np.float32))
    code = quantize_main([str(model), "-o", str(tmp_path / "q.onnx"), "--calibration-data",
                          str(feed)])  # fmt: skip
    assert code == 2 and "no element to calibrate on" in capsys.readouterr().err


def test_random_samples_are_held_to_the_feed_budget(tmp_path, monkeypatch, capsys):
    """`--dim` sizes make the random samples: 16 samples of 3 GiB were an OOM kill."""
    model = tmp_path / "m.onnx"
    _model(model, batch="n")
    monkeypatch.setattr(inputs, "MAX_FEED_BYTES", 4096)
    code = quantize_main([str(model), "-o", str(tmp_path / "q.onnx"), "--random-calibration",
                          "--dim", "n=64"])  # fmt: skip
    assert code == 2 and "GiB together" in capsys.readouterr().err


def test_a_loader_is_the_user_s_file_whatever_its_name(tmp_path):
    """A script named after an imported module (json.py) is the user's script, a dotted
    name loads, and a syntax error is reported as one."""
    body = "import numpy as np\ndef load_data():\n    yield {'x': np.full((2, 4), 7, 'f')}\n"
    for name in ("json.py", "my.loader.py"):
        script = tmp_path / name
        script.write_text(body)
        (candidate,) = inputs.load_script(str(script))
        assert float(candidate.steps[0].feed["x"][0, 0]) == 7.0
    bad = tmp_path / "bad.py"
    bad.write_text("def load_data(:\n")
    with pytest.raises(UserError, match="SyntaxError"):
        inputs.load_script(str(bad))


def test_an_output_that_is_an_input_under_another_path_is_refused(tmp_path, model, capsys):
    """The check compared real paths, so one file reached by two paths that are not links
    (a folder bind-mounted twice, a case-insensitive file system) was replaced: trt-check's
    report and trt-rewrite's model overwrote the input. Inputs are known by their identity
    (device, inode) too; a hard link — a second name of the same file — shows it here."""
    alias = tmp_path / "alias.onnx"
    os.link(model, alias)
    before = model.read_bytes()
    code = check_main([str(model), "--backend", "static", "-o", str(alias)])
    assert code == 2 and "is an input of this command" in capsys.readouterr().err
    code = rewrite_main([str(model), "-o", str(alias), "--fold-constants"])
    assert code == 2 and "is an input of this command" in capsys.readouterr().err
    assert model.read_bytes() == before
    # the input's external data file under OUT.data's name: nothing replaces it either (a
    # data file with a second name is refused as the model is loaded)
    external = tmp_path / "ext"
    external.mkdir()
    proto = onnx.load(model)
    onnx.save(proto, external / "m.onnx", save_as_external_data=True, location="w.bin",
              size_threshold=0)  # fmt: skip
    os.link(external / "w.bin", external / "o.onnx.data")
    data = (external / "w.bin").read_bytes()
    code = rewrite_main(
        [str(external / "m.onnx"), "-o", str(external / "o.onnx"), "--fold-constants"]
    )
    assert code == 2, capsys.readouterr()
    assert (external / "w.bin").read_bytes() == data
