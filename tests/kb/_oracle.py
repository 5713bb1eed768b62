"""Runs TensorRT-RTX's ONNX parser on models, each batch in a subprocess; and the checks every
oracle-case test makes of the static backend's verdict (`assert_supported`, `assert_refused`).

A parser abort (e.g. a plugin dlopen failure) kills only the worker: the model being parsed is
recorded as failed with the exit status, and the worker restarts with the remaining models.
The PyPI wheel lacks the unversioned `libtensorrt_rtx.so` the parser dlopens for plugins; a
temporary directory with that symlink is put on LD_LIBRARY_PATH (see docs/install.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None

_WORKER = r"""
import json, sys
import tensorrt_rtx as trt
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
for line in sys.stdin:
    path = line.strip()
    if not path:
        continue
    print("START " + path, flush=True)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    with open(path, "rb") as f:
        ok = bool(parser.parse(f.read(), path))
    errors = [parser.get_error(i).desc() for i in range(parser.num_errors)]
    print("RESULT " + json.dumps({"path": path, "ok": ok, "errors": errors}), flush=True)
"""


@dataclass(frozen=True)
class ParseResult:
    ok: bool
    errors: tuple[str, ...]


def _library_dir(tmp: Path) -> str:
    spec = importlib.util.find_spec("tensorrt_rtx_libs")
    if spec is None or not spec.submodule_search_locations:
        return ""
    libs = Path(list(spec.submodule_search_locations)[0])
    versioned = sorted(libs.glob("libtensorrt_rtx.so.*"))
    if not versioned:
        return ""
    link = tmp / "libtensorrt_rtx.so"
    if not link.exists():
        link.symlink_to(versioned[0])
    return str(tmp)


def parse_models(
    models: dict[str, onnx.ModelProto], timeout: float = 300
) -> dict[str, ParseResult]:
    """Parses each model with TensorRT-RTX; returns name -> ParseResult."""
    with tempfile.TemporaryDirectory(prefix="trtforge-oracle-") as tmpdir:
        tmp = Path(tmpdir)
        paths: dict[str, str] = {}
        for i, (name, model) in enumerate(models.items()):
            path = tmp / f"m{i}.onnx"
            onnx.save(model, str(path))
            paths[str(path)] = name
        env = dict(os.environ)
        libdir = _library_dir(tmp)
        if libdir:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (libdir, env.get("LD_LIBRARY_PATH", "")) if p
            )
        results: dict[str, ParseResult] = {}
        todo = list(paths)
        while todo:
            proc = subprocess.run(
                [sys.executable, "-c", _WORKER],
                input="\n".join(todo) + "\n",
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
            )
            started = None
            for line in proc.stdout.splitlines():
                if line.startswith("START "):
                    started = line[6:]
                elif line.startswith("RESULT "):
                    record = json.loads(line[7:])
                    results[paths[record["path"]]] = ParseResult(
                        record["ok"], tuple(record["errors"])
                    )
                    started = None
            if started is not None and paths[started] not in results:
                results[paths[started]] = ParseResult(
                    False, (f"parser aborted ({proc.returncode})",)
                )
            done = {p for p, n in paths.items() if n in results}
            remaining = [p for p in todo if p not in done]
            if len(remaining) == len(todo):  # no progress: give up on the rest
                for p in remaining:
                    results[paths[p]] = ParseResult(False, (proc.stderr[-500:],))
                break
            todo = remaining
        return results


def assert_supported(report, case_id: str) -> None:
    """Every node of the case's model is supported (else: which are not, and why)."""
    assert report.supported, f"{case_id}: expected supported, got " + "; ".join(
        f"{n.op_type}: {[f.code for f in n.errors]}" for n in report.nodes if not n.ok
    )


def assert_refused(verdict, case_id: str, code: str, sourced: bool = True) -> None:
    """`verdict` refuses the node with finding `code`, whose message names the node and which
    carries a hint and (when `sourced`) the source of the fact."""
    codes = [f.code for f in verdict.errors]
    assert not verdict.ok and code in codes, f"{case_id}: expected {code}, got {codes}"
    finding = next(f for f in verdict.errors if f.code == code)
    assert finding.message.startswith(f"{verdict.op_type} node '")
    assert finding.hint, f"{case_id}: {code} has no hint"
    assert finding.source or not sourced, f"{case_id}: {code} cites no source"
