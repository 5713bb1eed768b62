"""A bounded fuzz run in CI: benchmarks/fuzz.py's case generators (byte-level and structural
mutations, external-data abuse, special output paths and disk errors, signals during writes,
hostile names) over trt-check (static and parser), trt-rewrite and trt-build, with a fixed
seed. Every case must end without a traceback, a crash, a hang, an output left after a
failure, a modified input or an open outside the model's folder (see the module docstring).

The campaign runs in a fresh process (it forks a child per case; forking pytest's worker,
which has threads, would not be safe). Long campaigns: `python benchmarks/fuzz.py -n 10000`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"
CASES = 130
SECONDS = 60  # per part: stop starting cases after this (slow machines)


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzz_campaign(tmp_path, seed):
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(FUZZ),
            "-n",
            str(CASES),
            "--seed",
            str(seed),
            "--out",
            str(tmp_path / "work"),
            "--results",
            str(results),
            "--timeout",
            "90",
            "--time-limit",
            str(SECONDS),
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 300,
    )
    summary = json.loads(results.read_text())
    assert summary["cases"] >= 40, proc.stderr[-2000:]
    categories = {key.split("/")[0] for key in summary["by_key"]}
    assert {"bytes", "struct", "extdata", "outpath", "text"} <= categories
    bad = [(b["key"], b["detail"], b["bad"], b["stderr"][-300:]) for b in summary["bad"]]
    assert not bad, json.dumps(bad[:5], indent=1)
