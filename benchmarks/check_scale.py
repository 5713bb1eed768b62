"""trt-check at scale: wall time and peak memory of the static backend, beside the parser's.

Two synthetic models are written to a scratch folder:

* `nodes-100k.onnx`: 100,000 nodes (a residual MLP chain: MatMul, Add, Relu, Mul, Add, with a
  LayerNormalization every 25 blocks), small shared weights, static shapes;
* `weights-3g.onnx`: a 12-layer MLP whose 3 GiB of FP32 weights live in external data, written
  as a *sparse* file (`truncate`), so no disk space or time is spent on zeros.

For each model it measures, one run each, every run in a fresh subprocess (peak RSS from
`os.wait4`):

* `trt-check --backend static` end to end (the CLI, JSON to a file), and the in-process
  phases of the static check (load, shape inference + rules, render);
* the TensorRT-RTX ONNX parser (`tensorrt_rtx.OnnxParser.parse_from_file`) when installed.

    python benchmarks/check_scale.py                 # prints a Markdown table
    python benchmarks/check_scale.py --nodes 20000   # a smaller model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN = 64
TARGET = "rtx-1"


def make_many_nodes(path: Path, nodes: int) -> int:
    """A chain of `nodes` nodes (static shapes, shared small weights). Returns the node count."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((HIDDEN, HIDDEN)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(HIDDEN).astype(np.float32), "b"),
        numpy_helper.from_array(np.float32(0.5) * np.ones(HIDDEN, np.float32), "s"),
        numpy_helper.from_array(np.ones(HIDDEN, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(HIDDEN, np.float32), "beta"),
    ]
    graph_nodes: list[onnx.NodeProto] = []
    cur = "x"
    block = 0
    while len(graph_nodes) < nodes:
        p = f"blk{block}"
        steps = [
            ("MatMul", [cur, "W"], f"{p}/mm", {}),
            ("Add", [f"{p}/mm", "b"], f"{p}/bias", {}),
            ("Relu", [f"{p}/bias"], f"{p}/act", {}),
            ("Mul", [f"{p}/act", "s"], f"{p}/scale", {}),
            ("Add", [cur, f"{p}/scale"], f"{p}/res", {}),
        ]
        if block % 25 == 24:
            steps.append(
                ("LayerNormalization", [f"{p}/res", "gamma", "beta"], f"{p}/ln", {"axis": -1})
            )
        for op, ins, out, attrs in steps:
            if len(graph_nodes) == nodes:
                break
            graph_nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
            cur = out
        block += 1
    graph = helper.make_graph(
        graph_nodes,
        "many_nodes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, HIDDEN])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [8, HIDDEN])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return len(graph_nodes)


def make_big_weights(path: Path, layers: int = 12, width: int = 8192) -> int:
    """An MLP of `layers` [width, width] FP32 MatMuls, weights in one sparse external file.

    Returns the external data size in bytes.
    """
    data = path.with_suffix(".weights")
    per = width * width * 4
    inits, graph_nodes = [], []
    cur = "x"
    for i in range(layers):
        w = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[width, width])
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", data.name), ("offset", str(i * per)), ("length", str(per))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        inits.append(w)
        graph_nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"h{i}"], name=f"fc{i}"))
        graph_nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        cur = f"a{i}"
    graph = helper.make_graph(
        graph_nodes,
        "big_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [1, width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path.write_bytes(model.SerializeToString())
    with open(data, "wb") as handle:
        handle.truncate(layers * per)  # sparse: no blocks allocated
    return layers * per


#: runs argv[1:] (`-m module args…` or `-c code args…`) and writes this process's peak RSS
#: (VmHWM: the peak of this process image; getrusage's ru_maxrss would include the RSS the
#: parent had when it forked) to the file named by TRTFORGE_BENCH_HWM.
HWM_WRAPPER = """
import atexit, os, runpy, sys

def _hwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(os.environ["TRTFORGE_BENCH_HWM"], "w") as out:
                    out.write(line.split()[1])

atexit.register(_hwm)
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
"""

PHASES = """
import json, sys, time
clock = time.process_time  # CPU seconds: what a busy machine does not inflate
t0 = clock()
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.backends.static import check_static
from trtforge.analyzer.reports import render
from trtforge.analyzer.targets import parse_target
t1 = clock()
loaded = load_model(sys.argv[1])
t2 = clock()
report = check_static(loaded, parse_target(sys.argv[2]))
t3 = clock()
text = render(report, "json")
t4 = clock()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "check": t3 - t2, "render": t4 - t3,
                  "nodes": len(report.nodes), "supported": report.supported}))
"""

PARSER = """
import json, sys, time
t0 = time.perf_counter()
import tensorrt_rtx as trt
t1 = time.perf_counter()
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
ok = parser.parse_from_file(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "parse": t2 - t1, "ok": bool(ok),
                  "errors": parser.num_errors, "layers": network.num_layers,
                  "version": trt.__version__}))
"""


def measure(argv: list[str], timeout: float = 900) -> dict:
    """Runs `python -m …` / `python -c …` (argv without the interpreter) in a subprocess.

    Returns wall seconds, CPU seconds (user + system, from os.wait4), peak RSS in MiB (VmHWM
    of the child), exit status and stdout.
    """
    hwm = tempfile.NamedTemporaryFile(prefix="hwm-", delete=False)
    hwm.close()
    env = dict(os.environ, TRTFORGE_BENCH_HWM=hwm.name)
    out_file = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", HWM_WRAPPER, *argv],
        stdout=out_file,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = start + timeout
    rc: int | str
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            rc = "timeout"
            break
        time.sleep(0.005)
    wall = time.perf_counter() - start
    proc.returncode = rc if isinstance(rc, int) else -9
    out_file.seek(0)
    text = Path(hwm.name).read_text().strip()
    os.unlink(hwm.name)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": int(text) / 1024 if text else None,
        "rc": rc,
        "out": out_file.read(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--dir", help="scratch folder (default: a temporary one)")
    parser.add_argument("--no-parser", action="store_true", help="skip the TensorRT-RTX parser")
    args = parser.parse_args()

    scratch = Path(args.dir or tempfile.mkdtemp(prefix="trtforge-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    many = scratch / "nodes-100k.onnx"
    big = scratch / "weights-3g.onnx"
    small = scratch / "weights-small.onnx"
    n = make_many_nodes(many, args.nodes)
    ext = make_big_weights(big)
    ext_small = make_big_weights(small, width=256)
    models = [
        (f"{n:,} nodes ({many.stat().st_size / 2**20:.1f} MiB file)", many),
        (f"24 nodes + {ext / 2**30:.1f} GiB external data (sparse)", big),
        (f"same 24 nodes + {ext_small / 2**20:.1f} MiB external data", small),
    ]
    has_rtx = False
    if not args.no_parser:
        import importlib.util

        has_rtx = importlib.util.find_spec("tensorrt_rtx") is not None

    rows = []
    for label, path in models:
        out = scratch / (path.stem + ".json")
        cli = measure(
            [
                "-m",
                "trtforge.analyzer.cli.check",
                str(path),
                "--backend",
                "static",
                "--target",
                TARGET,
                "--format",
                "json",
                "-o",
                str(out),
            ]
        )
        phases = measure(["-c", PHASES, str(path), TARGET])
        phase = json.loads(phases["out"]) if phases["rc"] == 0 else {}
        row = {"model": label, "cli": cli, "phases": phase, "phases_rss": phases["rss_mib"]}
        if has_rtx:
            rtx = measure(["-c", PARSER, str(path)])
            row["parser"] = rtx
            row["parser_info"] = json.loads(rtx["out"]) if rtx["rc"] == 0 and rtx["out"] else {}
        rows.append(row)
        print(json.dumps(row, default=str), file=sys.stderr)

    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"python {platform.python_version()}, onnx {onnx.__version__}, {os.cpu_count()} cores")
    print()
    print(
        "| model | trt-check static (CLI): wall / CPU | peak RSS | in-process CPU: load + check "
        "+ render | TensorRT-RTX parser: wall / CPU | of which parse (wall) | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        cli, ph = row["cli"], row["phases"]
        inproc = f"{ph['load']:.2f} + {ph['check']:.2f} + {ph['render']:.2f} s" if ph else "failed"
        if "parser" in row:
            p, info = row["parser"], row["parser_info"]
            parse = (
                f"{info['parse']:.2f} s ({'ok' if info.get('ok') else 'failed'}, "
                f"{info.get('layers', 0):,} layers)"
                if info
                else f"failed (exit {p['rc']})"
            )
            parser_cols = (
                f"{p['wall']:.2f} s / {p['cpu']:.2f} s | {parse} | {p['rss_mib'] or 0:.0f} MiB"
            )
        else:
            parser_cols = "not installed | – | –"
        print(
            f"| {row['model']} | {cli['wall']:.2f} s / {cli['cpu']:.2f} s (exit {cli['rc']}) | "
            f"{cli['rss_mib'] or 0:.0f} MiB | {inproc} | {parser_cols} |"
        )


if __name__ == "__main__":
    main()
