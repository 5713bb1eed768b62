"""Start-up cost of every CLI's -h and of trt-check on a small model and on a folder.

Each command runs in a fresh process `--runs` times; the table gives the median wall time and
the median CPU time (user + system of the child, from `resource.getrusage`), since on a shared
machine wall time mostly measures the other jobs. Bytecode caching stays on (a real install
has .pyc files), so one unmeasured warm-up run precedes each command.

    python benchmarks/startup.py [--runs 7] [--folder tests/fixtures/hf]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(folder: Path) -> list[tuple[str, list[str]]]:
    def exe(name: str) -> str:
        return shutil.which(name) or name

    example = str(ROOT / "examples" / "transformer_block.onnx")
    static = ["--backend", "static", "--target", "rtx-1.7"]
    return [
        *(
            (f"{cli} -h", [exe(cli), "-h"])
            for cli in ("trt-check", "trt-rewrite", "trt-build", "trt-plugin", "trt-quantize")
        ),
        ("trt-check example (static)", [exe("trt-check"), example, *static]),
        ("trt-check example (default backend)", [exe("trt-check"), example]),
        (f"trt-check {folder.name}/ (static)", [exe("trt-check"), str(folder), *static]),
    ]


def measure(argv: list[str], runs: int, env: dict) -> tuple[float, float]:
    """(median wall s, median CPU s) of `argv` over `runs` fresh processes."""
    subprocess.run(argv, capture_output=True, env=env, check=False)  # warm-up, writes .pyc
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=ROOT / "tests" / "fixtures" / "hf")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    models = len(list(args.folder.rglob("*.onnx")))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.folder} holds {models} models")
    print("| command | wall (median) | CPU user+sys (median) |\n|---|---:|---:|")
    for label, command in _commands(args.folder):
        wall, cpu = measure(command, args.runs, env)
        print(f"| `{label}` | {wall:.2f} s | {cpu:.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
