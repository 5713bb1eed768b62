"""Two trtforge source trees, one interpreter: are the reports byte-identical, and how fast is each?

Each tree is a checkout of this repository (e.g. `git worktree add /tmp/before <commit>`). A
model is checked by `trt-check MODEL --backend static --target T --format json -o FILE`, run
as that tree's code in a fresh process (the editable install's import redirect is bypassed and
the tree put first on `sys.path`), so both trees share the same Python and packages.

    # reports: every model (files, or folders searched for *.onnx), both targets, compared
    # (JSON; --format text or markdown: those reports)
    python benchmarks/compare_trees.py reports BEFORE AFTER examples tests/fixtures MODEL...
    # timing: N interleaved runs of each tree per model; median wall and CPU (user + system,
    # children included: the forked shape-inference child) of each (--format text: the
    # command's default report instead of JSON)
    python benchmarks/compare_trees.py time BEFORE AFTER --runs 5 MODEL...

A tree runs its own Python sources only: its native modules (`trtforge.analyzer._wire`,
`_memo_keys`) are used when the built `.so` files are in its `analyzer/` folder (copy them
from an install, or `cmake --install` into it); otherwise it runs their Python fallbacks.

Exit status 1 when a report differs (`reports`) or a run's report differs between the trees
(`time`).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: runs trt-check's console entry from the tree whose parent folder is argv[1] (a folder
#: holding a `trtforge` link to the checkout)
_RUNNER = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "Redirecting" not in type(f).__name__]
sys.path.insert(0, sys.argv.pop(1))
sys.argv[0] = "trt-check"
from trtforge.analyzer.cli.check import console_main
console_main()
"""


def _package_root(tree: Path, scratch: Path, label: str) -> str:
    """A folder whose `trtforge` entry is `tree` (the repository root is the package)."""
    root = scratch / label
    root.mkdir()
    (root / "trtforge").symlink_to(tree.resolve())
    return str(root)


def _models(paths: list[str]) -> list[str]:
    out: list[str] = []
    for path in map(Path, paths):
        out.extend(sorted(map(str, path.rglob("*.onnx"))) if path.is_dir() else [str(path)])
    return out


def _run(
    root: str, model: str, target: str, output: str, fmt: str = "json"
) -> tuple[int, float, float]:
    """(exit status, wall s, CPU s of the process and its children) of one check."""
    argv = [sys.executable, "-c", _RUNNER, root, model, "--backend", "static"]
    argv += ["--target", target, "--format", fmt, "-o", output]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return done.returncode, wall, cpu


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""  # refused model: no report (the exit status is compared)


def compare_reports(
    roots: tuple[str, str], models: list[str], scratch: Path, fmt: str = "json"
) -> int:
    differ = 0
    for model in models:
        for target in ("rtx-1", "trt-10"):
            results = []
            for side, root in zip(("before", "after"), roots, strict=True):
                out = str(scratch / f"{side}.{fmt}")
                Path(out).unlink(missing_ok=True)
                code, _, _ = _run(root, model, target, out, fmt)
                results.append((code, _read(out)))
            if results[0] != results[1]:
                differ += 1
                print(f"DIFFERS {model} ({target}): exit {results[0][0]} vs {results[1][0]}")
    print(f"{len(models)} models x 2 targets: {differ} differ")
    return 1 if differ else 0


def compare_times(
    roots: tuple[str, str], models: list[str], runs: int, scratch: Path, fmt: str = "json"
) -> int:
    status = 0
    print("| model | before: wall / CPU | after: wall / CPU |")
    print("|---|---:|---:|")
    for model in models:
        samples: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        for side, root in zip(("before", "after"), roots, strict=True):  # warm-up, .pyc
            _run(root, model, "rtx-1", str(scratch / f"{side}.json"), fmt)
        for _ in range(runs):
            reports = []
            for side, root in zip(("before", "after"), roots, strict=True):
                out = str(scratch / f"{side}.json")
                _, wall, cpu = _run(root, model, "rtx-1", out, fmt)
                samples[side].append((wall, cpu))
                reports.append(_read(out))
            if reports[0] != reports[1]:
                print(f"DIFFERS {model}")
                status = 1
        cells = []
        for side in ("before", "after"):
            walls, cpus = zip(*samples[side], strict=True)
            cells.append(f"{statistics.median(walls):.2f} s / {statistics.median(cpus):.2f} s")
        print(f"| {Path(model).name} | {cells[0]} | {cells[1]} |", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("reports", "time"))
    parser.add_argument("before", type=Path, help="checkout of the 'before' tree")
    parser.add_argument("after", type=Path, help="checkout of the 'after' tree")
    parser.add_argument("models", nargs="+", help="models, or folders searched for *.onnx")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--format",
        choices=("json", "text", "markdown"),
        default="json",
        help="report format of the runs: compared (reports mode) or timed (time mode)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        roots = (
            _package_root(args.before, scratch, "before"),
            _package_root(args.after, scratch, "after"),
        )
        models = _models(args.models)
        if args.mode == "reports":
            return compare_reports(roots, models, scratch, args.format)
        return compare_times(roots, models, args.runs, scratch, args.format)


if __name__ == "__main__":
    sys.exit(main())
