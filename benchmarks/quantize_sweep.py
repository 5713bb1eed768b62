"""trt-quantize over every model of some folders: which are quantized, refused, or a bug?

Each model (`*.onnx`, searched recursively) goes through the command as a user runs it, with
random calibration samples (`--random-calibration`: the point is what the command does with
the graph, not the scales): exit 0 written, 1 a check stopped the write (the reason is
listed), 2 refused with a one-line error (the reasons are counted), 3 an internal error — a
traceback, always a bug — and a run past the timeout. The fixability corpus
(`benchmarks/fixability.py build DIR`) is the usual input.

    python benchmarks/quantize_sweep.py DIR... [--method entropy] [-j 2] [--json out.json]

Exit status 1 when some model exited 3 or timed out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def run_one(model: Path, method: str, out_dir: Path, timeout: float) -> dict:
    """The command's exit status and last stderr line for `model`."""
    out = out_dir / f"{abs(hash(str(model)))}.int8.onnx"
    command = [
        sys.executable, "-m", "trtforge.analyzer.cli.quantize", str(model), "-o", str(out),
        "--random-calibration", "--method", method,
    ]  # fmt: skip
    start = time.monotonic()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        status, lines = proc.returncode, proc.stderr.strip().splitlines()
    except subprocess.TimeoutExpired:
        status, lines = "timeout", []
    out.unlink(missing_ok=True)
    reason = next((line for line in reversed(lines) if line.startswith("trt-quantize")), "")
    return {
        "model": str(model),
        "status": status,
        "seconds": round(time.monotonic() - start, 1),
        "reason": reason or (lines[-1] if lines else ""),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--method", default="entropy", choices=("entropy", "minmax", "percentile"))
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", type=Path, help="every model's outcome")
    args = parser.parse_args()
    models = sorted({p for folder in args.folders for p in folder.rglob("*.onnx")})
    if not models:
        raise SystemExit("no *.onnx under the folders given")
    with tempfile.TemporaryDirectory(prefix="quantize-sweep-") as tmp:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(
                pool.map(lambda m: run_one(m, args.method, Path(tmp), args.timeout), models)
            )
    counts = Counter(str(r["status"]) for r in rows)
    print(f"{len(rows)} models, --method {args.method}: " + ", ".join(
        f"exit {status}: {count}" for status, count in sorted(counts.items())
    ))  # fmt: skip
    refusals = Counter(r["reason"].split("(")[0][:90] for r in rows if r["status"] == 2)
    for reason, count in refusals.most_common():
        print(f"  exit 2 ×{count}: {reason}")
    for row in rows:
        if row["status"] in (1, 3, "timeout"):
            print(f"  exit {row['status']}: {row['model']}: {row['reason'][:200]}")
    if args.json:
        args.json.write_text(json.dumps({"method": args.method, "models": rows}, indent=1) + "\n")
    return 1 if counts.get("3") or counts.get("timeout") else 0


if __name__ == "__main__":
    sys.exit(main())
