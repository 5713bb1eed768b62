"""Rewrite an ONNX model so TensorRT accepts it (graph passes, verified with onnxruntime).

Choose passes by flag (e.g. --fuse-layernorm --decompose-contrib), or --auto to apply the passes
trt-check suggests for the target. The rewritten model is run against the original in
onnxruntime on random inputs and written only if every output matches within its dtype's
tolerance (--no-verify skips that). IN is never modified; OUT is written atomically.

Exit status: 0 written, 1 verification failed (nothing written), 2 bad input or arguments,
3 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from trtforge.analyzer.cli._args import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_logging_args,
    add_target_args,
    configure_logging,
    make_parser,
    run_cli,
)

PROG = "trt-rewrite"
REPORT_SCHEMA = "trtforge.rewrite/1"
#: models (weights included) larger than this are verified region by region: the original
#: runs once and only what the passes changed runs again (`rewrite.regional`).
REGIONAL_BYTES = 256 << 20


def build_parser():
    from trtforge.analyzer.rewrite.registry import all_passes, declared_options, get_pass

    parser = make_parser(PROG, __doc__)
    parser.add_argument("model", metavar="IN", help="the ONNX model to rewrite (never modified)")
    parser.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="where to write the rewritten model"
    )
    passes = parser.add_argument_group("passes (run in this order until nothing changes)")
    option_flags = {o.flag for o in declared_options().values()}
    for pid in all_passes():
        if f"--{pid}" in option_flags:
            continue  # the pass's own option (--upgrade-opset N) selects it
        passes.add_argument(
            f"--{pid}", dest="passes", action="append_const", const=pid, help=get_pass(pid).summary
        )
    passes.add_argument(
        "--auto",
        action="store_true",
        help="run trt-check (static) for the target, apply the passes its findings "
        "name, and re-check",
    )
    for option in declared_options().values():
        _add_option(passes, option)
    add_target_args(parser)
    ver = parser.add_argument_group("verification")
    ver.add_argument(
        "--verify",
        dest="verify",
        action="store_true",
        default=True,
        help="compare outputs with the original in onnxruntime (default)",
    )
    ver.add_argument("--no-verify", dest="verify", action="store_false", help="skip verification")
    ver.add_argument("--seed", type=int, default=0, help="random-input seed (default 0)")
    ver.add_argument(
        "--dim",
        metavar="NAME=SIZE",
        action="append",
        default=[],
        help="size of a named dynamic dim for verification (default 3)",
    )
    ver.add_argument(
        "--inputs",
        metavar="FILE.npz",
        action="append",
        default=[],
        help="verify on these inputs (arrays named after the model inputs; repeatable; a folder "
        "of .npz files) instead of generated ones",
    )
    ver.add_argument(
        "--data-loader-script",
        metavar="FILE.py[:FUNC]",
        help="verify on the feed dicts a Polygraphy-style data-loader function yields "
        "(default function load_data)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--split",
        action="store_true",
        help="after the passes, write the largest part the target parses to OUT and the rest "
        "as host models (onnxruntime) beside it, with a JSON manifest of how they connect; "
        "verified by running the composition against the original",
    )
    out.add_argument(
        "--report",
        metavar="FILE.json",
        help="write per-pass applied counts, skip reasons and verification to FILE",
    )
    add_logging_args(parser)
    return parser


def _add_option(group, option) -> None:
    """Offers a pass's declared option (`rewrite.base.PassOption`) as a flag."""
    if option.type is bool:
        group.add_argument(option.flag, dest=option.name, action="store_true", help=option.help)
        return
    group.add_argument(
        option.flag,
        dest=option.name,
        type=option.type,
        choices=option.choices,
        default=option.default,
        metavar=None if option.choices else option.name.upper(),
        help=option.help,
    )


def _dims(items: list[str]) -> dict[str, int]:
    from trtforge.analyzer.errors import UserError

    dims = {}
    for item in items:
        name, _, size = item.partition("=")
        if not name or not size.isdigit():
            raise UserError(f"--dim '{item}' is not NAME=SIZE", "e.g. --dim seq=16")
        dims[name] = int(size)
    return dims


def _say(args, text: str) -> None:
    from trtforge.analyzer.safe_text import printable

    if not args.quiet:
        print(printable(text), file=sys.stderr)


def _auto_passes(loaded, target, known: list[str]):
    from trtforge.analyzer.api import check

    report = check(loaded, target=target, backend="static")
    wanted = []
    fixes = [f for node in report.unsupported_nodes for f in node.fixes]
    fixes += [f for finding in report.graph_findings for f in finding.fixes]  # advice
    for fix in fixes:
        if fix.kind == "rewrite" and fix.name in known and fix.name not in wanted:
            wanted.append(fix.name)
    return report, wanted


def _refuse_invalid(loaded) -> None:
    """Raises UserError (exit 2) when the model is not a valid ONNX graph: passes and
    verification assume one, and a rewrite must never write an invalid model."""
    from trtforge.analyzer import validity
    from trtforge.analyzer.errors import UserError

    problem = validity.first_error(validity.validate(loaded.proto))
    bad_name = validity.undecodable_name(loaded.proto) if problem is None else None
    if bad_name is not None:
        raise UserError(
            f"{loaded.display_path}: the name '{bad_name}' is not UTF-8 text, which ONNX "
            "requires of names",
            "rename it in the exporter (trt-check still checks such a model)",
        )
    if problem is not None:
        raise UserError(
            f"{loaded.display_path}: {problem}",
            "trt-rewrite only rewrites valid ONNX graphs; fix or re-export the model "
            "(trt-check MODEL lists every problem)",
        )
    import onnx

    try:  # what a rewrite writes must pass onnx.checker: so must what it reads
        if _unregistered_ops(loaded.proto):
            _check_custom_copy(_as_custom_ops(loaded.proto), bool(loaded.external))
        elif loaded.external and loaded.path is not None:
            onnx.checker.check_model(str(loaded.path))  # its data files beside it
        else:
            onnx.checker.check_model(loaded.proto)
    except (onnx.checker.ValidationError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"{loaded.display_path}: not a valid ONNX model (onnx.checker: {first})",
            "trt-rewrite only rewrites models that pass onnx.checker; fix or re-export it",
        ) from None


#: the domain that stands in for the default domain of ops onnx does not define (checker only)
_UNREGISTERED = "trtforge.unregistered"


def _unregistered_ops(proto) -> set[str]:
    """Default-domain op types onnx does not define: onnxruntime's own ops that its tools write
    into the default domain (onnxruntime-genai's SimplifiedLayerNormalization, …). TensorRT's
    parser dispatches them by op_type, so they are real models, not invalid ones."""
    import onnx

    return {
        n.op_type
        for n in proto.graph.node
        if n.domain in ("", "ai.onnx")
        and isinstance(n.op_type, str)  # protobuf hands undecodable text over as bytes
        and not onnx.defs.has(n.op_type)
    }


def _check_custom_copy(copy, external: bool) -> None:
    """onnx.checker on `_as_custom_ops`'s copy. Given a proto, the checker looks for external
    data relative to the working directory, so an export with its weights beside it (every
    onnxruntime-genai LLM) would fail; the copy is checked as a file in a temporary folder
    instead, its external references pointing at an empty stand-in there. The real locations
    were validated when the model was loaded (`loading._check_external`), and the weights are
    never read for the check."""
    import onnx

    if not external:
        onnx.checker.check_model(copy)
        return
    import tempfile
    from pathlib import Path

    for tensor in _external_tensors(copy.graph):
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "weights.stand-in"
    with tempfile.TemporaryDirectory(prefix="trtforge-check-") as tmp:
        (Path(tmp) / "weights.stand-in").touch()
        path = Path(tmp) / "model.onnx"
        path.write_bytes(copy.SerializeToString())
        onnx.checker.check_model(str(path))


def _external_tensors(graph):
    """Every TensorProto of `graph` and its subgraphs whose data is external."""
    import onnx

    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            yield tensor
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t") and attr.t.data_location == onnx.TensorProto.EXTERNAL:
                yield attr.t
            if attr.HasField("g"):
                yield from _external_tensors(attr.g)
            for sub in attr.graphs:
                yield from _external_tensors(sub)


def _as_custom_ops(proto):
    """A copy for onnx.checker in which those ops sit in a custom domain (the checker cannot
    know their schemas; everything else is checked as it is)."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    unknown = _unregistered_ops(proto)
    for node in copy.graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in unknown:
            node.domain = _UNREGISTERED
    copy.opset_import.append(onnx.helper.make_opsetid(_UNREGISTERED, 1))
    return copy


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args)
    from pathlib import Path

    from trtforge.analyzer.errors import UserError, short
    from trtforge.analyzer.loading import load_external_weights, load_model
    from trtforge.analyzer.outputs import OutputSet, check_output
    from trtforge.analyzer.outputs import write_text as write_file
    from trtforge.analyzer.rewrite.base import RewriteOptions
    from trtforge.analyzer.rewrite.manager import rewrite_model
    from trtforge.analyzer.rewrite.registry import (
        all_passes,
        declared_options,
        get_pass,
        passes_removing,
    )
    from trtforge.analyzer.rewrite.writer import check_destination, stage_model
    from trtforge.analyzer.targets import default_target, parse_target

    passes = list(args.passes or [])
    # a pass whose flag is its own option (--upgrade-opset N) runs when the option is given
    options_by_flag = {o.flag: o for o in declared_options().values()}
    for pid in all_passes():
        option = options_by_flag.get(f"--{pid}")
        if option is not None and getattr(args, option.name) != option.default:
            passes.append(pid)
    if not passes and not args.auto and not args.split:
        raise UserError(
            "no rewrite pass selected",
            f"name passes ({', '.join('--' + p for p in all_passes())}) or use --auto",
        )
    dims = _dims(args.dim)
    target = parse_target(args.target) if args.target else default_target()
    loaded = load_model(args.model)
    _refuse_invalid(loaded)
    out_path = Path(args.output)
    check_destination(out_path, loaded)
    if args.report:
        check_output(args.report, "--report")
    report: dict = {
        "schema": REPORT_SCHEMA,
        "input": {"path": loaded.display_path, "sha256": loaded.sha256},
        "output": str(out_path),
        "target": target.id,
    }
    before = None
    if args.auto:
        before, suggested = _auto_passes(loaded, target, all_passes())
        # ops onnx does not define in the default domain must go, whatever the target imports:
        # the output has to pass onnx.checker
        for op in sorted(_unregistered_ops(loaded.proto)):
            suggested += [p for p in passes_removing("", op) if p not in suggested]
        passes += [p for p in suggested if p not in passes]
        _say(
            args,
            f"trt-check ({target.id}, static): {len(before.unsupported_nodes)} unsupported "
            f"node(s); passes suggested: {', '.join(suggested) or 'none'}",
        )
    options = RewriteOptions(target, **{name: getattr(args, name) for name in declared_options()})
    source = loaded.proto
    if loaded.external and any(get_pass(p).reads_weights for p in passes):
        source = load_external_weights(loaded)  # a pass decodes weights (dequantize-nbits)
    result = rewrite_model(source, passes, options)
    report.update(result.to_json())
    for pid, stats in result.passes.items():
        line = f"{pid}: applied {stats.applied}"
        if stats.skips:
            line += f", skipped {len(stats.skips)}"
        _say(args, line)
        for skip in stats.skips:
            _say(args, f"  skipped {skip.anchor}: {skip.reason}")
    for note in result.notes:
        _say(args, f"note: {note}")

    if args.verify and result.changed:
        from trtforge.analyzer.rewrite import inputs as gen
        from trtforge.analyzer.rewrite.verify import verify

        feeds = None
        if args.inputs:
            feeds = gen.load_npz(args.inputs)
        if args.data_loader_script:
            feeds = (feeds or []) + gen.load_script(args.data_loader_script)
        if loaded.external and loaded.folder is not None:
            # onnxruntime reads the weights from their files; they are never copied here
            original, rewritten, folder = loaded.proto, result.proto, loaded.folder
        else:
            original, rewritten, folder = load_external_weights(loaded), result.proto, None
        regional = loaded.external_bytes + loaded.proto.ByteSize() > REGIONAL_BYTES
        verification = verify(
            original,
            rewritten,
            seed=args.seed,
            dims=dims,
            feeds=feeds,
            folder=folder,
            regional=regional,
            allowances=result.allowances,
            model_dir=loaded.folder,
        )
        report["verification"] = verification.to_json()
        if not verification.ok:
            from trtforge.analyzer.safe_text import printable

            print(
                f"{PROG}: verification failed: {printable(verification.describe_worst())}; "
                f"nothing written to {printable(out_path)}",
                file=sys.stderr,
            )
            print(
                "Hint: a pass produced a different result; rerun with fewer passes to find it, "
                "and report it",
                file=sys.stderr,
            )
            if args.report:
                report["written"] = False
                write_file(args.report, json.dumps(report, indent=2) + "\n", "--report")
            return EXIT_FINDINGS
        worst = verification.worst
        what = "output(s)" if verification.mode == "model" else "changed-region tensor(s)"
        if worst is not None:
            steps = f" over {len(verification.steps)} steps" if len(verification.steps) > 1 else ""
            _say(
                args,
                f"verified: {len(verification.outputs)} {what} match{steps} (largest |diff| "
                f"{max(o.max_abs_diff for o in verification.outputs):.3g})",
            )
        for note in verification.notes:
            _say(args, f"  verification: {note}")
    elif not args.verify:
        report["verification"] = None
    left = sorted(_unregistered_ops(result.proto))
    if left:
        removers = sorted({p for op in left for p in passes_removing("", op)})
        raise UserError(
            f"the rewritten model would still hold {', '.join(short(o) for o in left[:3])} in "
            "the default domain, which onnx does not define (it would fail onnx.checker); "
            f"nothing written to {out_path}",
            f"add {' '.join('--' + p for p in removers)}"
            if removers
            else "replace those ops in the exporter (no pass removes them)",
        )
    if args.split:
        return _split(args, loaded, result, target, out_path, report, dims)
    # The model, its external data and the report are committed together or not at all.
    with OutputSet() as outputs:
        staged = stage_model(outputs, result.proto, out_path, loaded)
        report["written"] = True
        if args.auto:
            from trtforge.analyzer.api import check

            after = check(load_model(staged), target=target, backend="static")
            report["auto"] = {
                "passes": passes,
                "unsupported_before": len(before.unsupported_nodes),
                "unsupported_after": len(after.unsupported_nodes),
            }
        if args.report:
            outputs.add_text(args.report, json.dumps(report, indent=2) + "\n", "--report")
        outputs.commit()
    _say(args, f"wrote {out_path}" + ("" if result.changed else " (graph unchanged)"))
    if args.auto:
        _say(
            args,
            f"unsupported nodes ({target.id}, static): {len(before.unsupported_nodes)} "
            f"before → {report['auto']['unsupported_after']} after",
        )
    return EXIT_OK


def _split(args, loaded, result, target, out_path, report, dims) -> int:
    """--split: cut the rewritten model into host and TensorRT parts, verify, write them."""
    import onnx

    from trtforge.analyzer.api import check
    from trtforge.analyzer.loading import load_external_into, load_external_weights
    from trtforge.analyzer.outputs import OutputSet
    from trtforge.analyzer.rewrite.verify import compare, run_model
    from trtforge.analyzer.rewrite.writer import stage_model
    from trtforge.analyzer.split import run_split, sample_feeds, split_model, stage_paths

    model = onnx.ModelProto()
    model.CopyFrom(result.proto)
    load_external_into(model, loaded)
    verdicts = check(model, target=target, backend="static", advice=False)
    accepted = [True] * len(model.graph.node)
    for node in verdicts.nodes:
        accepted[node.index] = node.status != "unsupported"
    split = split_model(model, accepted)
    paths = stage_paths(out_path)
    for stage in split.stages:
        _say(args, f"{stage.name}: {stage.nodes} node(s) → {paths[stage.name]}")
    report["split"] = split.manifest({s.name: paths[s.name].name for s in split.stages})
    if args.verify:
        original = load_external_weights(loaded)
        feeds = sample_feeds(original, args.seed, dims)
        expected = run_model(original, feeds)
        got = run_split(split, feeds)
        elem = {o.name: o.type.tensor_type.elem_type for o in original.graph.output}
        diffs = [compare(n, expected[n], got[n], elem[n]) for n in expected]
        bad = [d for d in diffs if not d.ok]
        report["split"]["verified"] = not bad
        if bad:
            print(
                f"{PROG}: verification of the split failed: output '{bad[0].name}' max |diff| "
                f"{bad[0].max_abs_diff:.3g}; nothing written to {out_path}",
                file=sys.stderr,
            )
            return EXIT_FINDINGS
        _say(args, f"verified: the {len(split.stages)} stages reproduce every output")
    # every stage, the manifest and the report are committed together or not at all
    with OutputSet() as outputs:
        for stage in split.stages:
            stage_model(outputs, stage.proto, paths[stage.name], None)
        manifest = report["split"]
        outputs.add_text(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
        report["written"] = True
        if args.report:
            outputs.add_text(args.report, json.dumps(report, indent=2) + "\n", "--report")
        outputs.commit()
    _say(args, f"wrote {paths['manifest']}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
