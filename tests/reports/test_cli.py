"""CLI hygiene: every CLI's -h works fast with the heavy modules blocked; trt-check exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .models import custom_op_model, nonzero_model, save, topk_model

CLIS = {
    "trt-check": "trtforge.analyzer.cli.check",
    "trt-rewrite": "trtforge.analyzer.cli.rewrite",
    "trt-build": "trtforge.plugins.cli.build",
    "trt-plugin": "trtforge.plugins.cli.plugin",
    "trt-quantize": "trtforge.analyzer.cli.quantize",
}
#: what a static check must not import.
BLOCKED = ("tensorrt", "tensorrt_rtx", "onnxruntime", "cupy", "torch", "polygraphy")
#: what `-h` must not import either: discovering the passes' and plugins' declarations and
#: building the parser needs none of them (onnx and numpy alone cost 0.3 s of start-up).
HELP_BLOCKED = (*BLOCKED, "onnx_graphsurgeon", "onnx", "numpy", "ml_dtypes")

BLOCKER = textwrap.dedent(
    """
    import os, sys

    BLOCKED = set(os.environ["TRTFORGE_TEST_BLOCKED"].split(","))
    LOG = os.environ["TRTFORGE_TEST_BLOCK_LOG"]


    class _Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                with open(LOG, "a") as handle:
                    handle.write(name + "\\n")
                raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
            return None


    sys.meta_path.insert(0, _Blocker())
    """
)


def _blocking(tmp_path, modules):
    """An environment whose Python refuses to import `modules` and logs attempts."""
    site = tmp_path / "block"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp_path / "attempts.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env["TRTFORGE_TEST_BLOCKED"] = ",".join(modules)
    env["TRTFORGE_TEST_BLOCK_LOG"] = str(log)
    return env, log


@pytest.fixture
def blocked_env(tmp_path):
    return _blocking(tmp_path, BLOCKED)


@pytest.fixture
def help_env(tmp_path):
    return _blocking(tmp_path, HELP_BLOCKED)


def _run(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_the_blocker_blocks(blocked_env):
    env, log = blocked_env
    proc = _run(env, "-c", "import onnxruntime")
    assert proc.returncode == 1 and "blocked for this test: onnxruntime" in proc.stderr
    assert log.read_text().split() == ["onnxruntime"]


@pytest.mark.parametrize("prog", sorted(CLIS))
def test_help_is_fast_and_imports_nothing_heavy(help_env, prog):
    env, log = help_env
    # how fast -h is belongs to the benchmarks (docs/benchmarks.md); here: what it imports
    proc = _run(env, "-m", CLIS[prog], "-h")
    assert "Traceback" not in proc.stderr
    assert not log.exists(), f"{prog} -h tried to import {log.read_text().split()}"
    if proc.returncode == 2 and "not yet available" in proc.stderr:
        pytest.xfail(f"{prog} is not implemented on this branch yet")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and prog in proc.stdout


def test_help_lists_every_trt_check_option(help_env):
    env, _ = help_env
    out = _run(env, "-m", CLIS["trt-check"], "-h").stdout
    for option in ("--target", "--backend", "--format", "--output", "--verbose", "--quiet"):
        assert option in out
    assert "Exit status" in out


# -- exit codes of trt-check (static backend, explicit target, heavy modules blocked) ----------
@pytest.fixture
def models(tmp_path):
    return {
        "ok": save(topk_model(), tmp_path / "ok.onnx"),
        "custom": save(custom_op_model(), tmp_path / "custom.onnx"),
        "nonzero": save(nonzero_model(), tmp_path / "nonzero.onnx"),
    }


@pytest.mark.parametrize(
    ("model", "target", "code"),
    [
        ("ok", "trt-10", 0),
        ("ok", "rtx-1.7", 0),
        ("custom", "trt-11", 1),
        ("nonzero", "trt-10", 0),  # through TensorRT's NonZero plugin
        # TensorRT-RTX's importer asks for a NonZero plugin: trtforge's, when it was built
        ("nonzero", "rtx-1", "nonzero-plugin"),
    ],
)
def test_exit_codes(blocked_env, models, model, target, code):
    if code == "nonzero-plugin":
        from trtforge.plugins import catalog

        code = 0 if catalog.is_available(catalog.find_plugin("NonZero", "1", "")) else 1
    env, log = blocked_env
    proc = _run(
        env, "-m", CLIS["trt-check"], models[model], "--backend", "static", "--target", target
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stderr == ""
    assert not log.exists(), log.read_text()
    expected = "SUPPORTED: all" if code == 0 else "NOT SUPPORTED"
    assert proc.stdout.splitlines()[2].startswith(expected)  # after the header and selection


@pytest.mark.parametrize(
    "args",
    [
        ("--target", "trt-9"),
        ("--target", "trt-10.99"),
        ("--backend", "oracle"),
        ("--format", "xml"),
        ("--no-such-option",),
    ],
)
def test_bad_arguments_exit_2_with_a_hint(blocked_env, models, args):
    env, _ = blocked_env
    proc = _run(env, "-m", CLIS["trt-check"], models["ok"], "--backend", "static", *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("Hint: ")


def test_no_model_argument_exits_2(blocked_env):
    env, _ = blocked_env
    proc = _run(env, "-m", CLIS["trt-check"])
    assert proc.returncode == 2 and "Hint: " in proc.stderr


def test_bundled_example_reports_the_contrib_op(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "transformer_block.onnx"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            CLIS["trt-check"],
            str(example),
            "--backend",
            "static",
            "--target",
            "trt-10",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    import json

    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    gelu = [n for n in report["nodes"] if n["op_type"] == "FastGelu"]
    assert len(gelu) == 1 and gelu[0]["status"] == "unsupported"
    assert gelu[0]["domain"] == "com.microsoft"
    assert report["model"]["node_count"] == 39


def test_bundled_example_is_reproducible_and_runs_in_onnxruntime():
    import importlib.util

    import numpy as np

    root = Path(__file__).resolve().parents[2] / "examples"
    spec = importlib.util.spec_from_file_location("make_example", root / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build()
    assert model.SerializeToString() == (root / "transformer_block.onnx").read_bytes()
    assert (root / "transformer_block.onnx").stat().st_size < 200_000
    ops = [n.op_type for n in model.graph.node]
    for op in ("ReduceMean", "Pow", "Sqrt", "Softmax", "MatMul", "FastGelu"):
        assert op in ops
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, 5, 64)).astype(np.float32)
    (y,) = session.run(None, {"x": x})
    assert y.shape == (2, 5, 64) and np.isfinite(y).all()


def test_discovering_passes_and_plugins_imports_nothing_heavy(help_env):
    """Every pass and plugin module is imported (that is how they are discovered) and their
    declarations read, with graphsurgeon, onnx, numpy, onnxruntime and TensorRT blocked."""
    env, log = help_env
    code = (
        "from trtforge.analyzer.rewrite import registry\n"
        "from trtforge.plugins import all_plugins\n"
        "passes = registry.pass_classes()\n"
        "assert passes and registry.declared_options() and registry.advised_passes()\n"
        "print(len(passes), len(all_plugins()), registry.passes_removing('com.microsoft', 'Gelu'))\n"
    )
    proc = _run(env, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert not log.exists(), f"discovery tried to import {log.read_text().split()}"
    n_passes, n_plugins, removing = proc.stdout.split(maxsplit=2)
    assert int(n_passes) > 5 and int(n_plugins) >= 2 and "decompose-contrib" in removing
