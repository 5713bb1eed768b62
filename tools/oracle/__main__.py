"""Score the static knowledge base against the installed TensorRT ONNX parser.

Builds the corpus (onnx wheel test data, every onnx node test case, the project's fixtures),
runs the real parser on each model in worker processes (cached by sha256), runs the static
backend for the target, and prints recall and precision of unsupported nodes and whole-model
verdict agreement, then every disagreement. Exit status 0 when all three reach the threshold
(0.97), 1 when one does not, 2 on bad arguments.

With --out DIR it writes DIR/scores.txt, DIR/disagreements.json (scores + every disagreement),
DIR/ground_truth.json (the parser's verdicts per model), DIR/parser_rejections.md (what the
parser rejects, per op) and DIR/corpus/ (the generated models).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("trtforge.oracle")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.oracle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target",
        default=None,
        help="static target (default: the installed parser's line, e.g. rtx-1)",
    )
    parser.add_argument("--out", type=Path, help="folder for the result files")
    parser.add_argument(
        "--workers", type=int, default=None, help="parser processes (default: one per CPU)"
    )
    parser.add_argument(
        "--json", type=Path, help="write the scores and every disagreement to this JSON file"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore the ground-truth cache")
    parser.add_argument(
        "--sources",
        default="wheel,node,fixture",
        help="comma-separated corpus sources: wheel, node, fixture (the acceptance corpus), "
        "and the held-out variants const, dynamic, alldyn, fp16, opset, torch (see oracle.corpus)",
    )
    parser.add_argument(
        "--fixtures",
        type=Path,
        action="append",
        help="fixture folder (default: the checkout's tests/)",
    )
    parser.add_argument("--only", default="", help="only models whose name contains this text")
    parser.add_argument("-q", "--quiet", action="store_true", help="print the scores only")
    return parser


def run(args: argparse.Namespace) -> int:
    from tools.oracle.corpus import build_corpus
    from tools.oracle.groundtruth import cache_path, ground_truth
    from tools.oracle.score import rejection_table, score
    from trtforge.analyzer import trt as trt_adapter
    from trtforge.analyzer.targets import parse_target

    if trt_adapter.flavour() is None:
        print(
            "error: neither tensorrt nor tensorrt_rtx is installed\nHint: pip install tensorrt-rtx",
            file=sys.stderr,
        )
        return 2
    installed = trt_adapter.target()
    target = parse_target(args.target or (installed.line if installed else "rtx-1"))
    tmp = None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        workdir = args.out / "corpus"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="trtforge-oracle-")
        workdir = Path(tmp.name)
    t0 = time.perf_counter()
    models = build_corpus(workdir, args.sources.split(","), args.fixtures)
    if args.only:
        models = [m for m in models if args.only in m.name]
    t1 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done % 100 == 0 or done == total):
            print(f"  parsed {done}/{total}", file=sys.stderr, flush=True)

    truth = ground_truth(models, args.workers, args.fresh, progress=progress)
    t2 = time.perf_counter()
    scores = score(models, truth, target, trt_adapter.parser_name())
    t3 = time.perf_counter()
    timing = (
        f"  time: corpus {t1 - t0:.1f} s, parser {t2 - t1:.1f} s "
        f"(cache {cache_path()}), static {t3 - t2:.1f} s"
    )
    summary = scores.summary() + "\n" + timing
    lines = scores.disagreement_lines()
    patterns = [f"  {n:4d}  {key}" for key, n in scores.op_patterns()]
    crashes = [f"  {c['model']}: {c['crash']}" for c in scores.crashes]
    errors = [f"  {e['model']}: {e['error']}" for e in scores.static_errors]
    text = "\n".join(
        [
            summary,
            "",
            "disagreements by kind and op:",
            *patterns,
            "",
            f"disagreements ({len(lines)}):",
            *lines,
            "",
            f"parser crashes ({len(crashes)}):",
            *crashes,
            "",
            f"static errors ({len(errors)}):",
            *errors,
        ]
    )
    print(summary if args.quiet else text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(scores.to_json(), indent=1))
    if args.out is not None:
        (args.out / "scores.txt").write_text(text + "\n")
        (args.out / "disagreements.json").write_text(json.dumps(scores.to_json(), indent=1))
        gt = {
            m.sha256: {
                "name": m.name,
                "source": m.source,
                "path": str(m.path),
                **truth[m.sha256].to_json(),
            }
            for m in models
            if m.sha256 in truth
        }
        (args.out / "ground_truth.json").write_text(json.dumps(gt, indent=1))
        (args.out / "parser_rejections.md").write_text(
            f"# What the {trt_adapter.parser_name()} rejects in the corpus\n\n"
            + rejection_table(models, truth)
            + "\n"
        )
    if tmp is not None:
        tmp.cleanup()
    return 0 if scores.passed else 1


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
