"""trt-build: build a TensorRT (or TensorRT-RTX) engine from an ONNX model, plugins registered.

Registers the trtforge plugins the model uses (native library or Python plugins), parses the
model with the installed ``tensorrt`` (else ``tensorrt_rtx``), builds with the given precision
flags, optimization profiles, timing cache and workspace limit, and writes the engine plus a
JSON sidecar (ENGINE.json) recording TensorRT flavour and version, compute capability, plugins
used with their versions, and input profiles.

Dynamic inputs get their ranges from --shapes (per input) or --dims (per dim name, applied to
every input whose shape uses the name: the way to describe an LLM's KV cache); without either,
genai_config.json beside the model supplies defaults for batch and sequence dims.

Examples:
  trt-build model.onnx -o model.engine --shapes x:1x768,32x768,256x768
  trt-build decoder.onnx -o decoder.engine --compute-capability 8.9 \
      --dims batch_size=1:1:4,sequence_length=1:128:512,past_sequence_length=0:128:1024 \
      --dims total_sequence_length=1:256:1536
  trt-build model.onnx -o model.plan --compute-capability 89 --plugin-backend python

Exit status: 0 engine written; 1 the build failed (a plugin is missing, the parser or the
builder refused the model); 2 bad input or arguments; 3 internal error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from trtforge.analyzer.errors import short
from trtforge.analyzer.outputs import OutputSet, check_output, interruptible
from trtforge.plugins.cli._common import EXIT_OK, Failure, Parser, UserError, run, setup_logging

logger = logging.getLogger("trtforge.plugins.build")


#: the largest --workspace taken (TensorRT holds the limit in bytes as a 64-bit size)
MAX_WORKSPACE_MIB = 1 << 40


def _parser() -> argparse.ArgumentParser:
    doc = __doc__.split("\n\n")
    ap = Parser(
        prog="trt-build",
        description="\n\n".join(doc[:2]),
        epilog="\n\n".join(doc[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("model", help="ONNX model (external data beside it is found)")
    ap.add_argument("-o", "--output", required=True, help="engine file to write")
    g = ap.add_argument_group("build")
    g.add_argument(
        "--shapes",
        action="append",
        default=[],
        metavar="NAME:MIN,OPT,MAX",
        help="optimization profile of a dynamic input, dims joined by 'x' "
        "(e.g. x:1x768,32x768,256x768); repeat per input",
    )
    g.add_argument(
        "--dims",
        action="append",
        default=[],
        metavar="NAME=MIN:OPT:MAX,...",
        help="range of a named dynamic dim, applied to every input using it (e.g. "
        "batch_size=1:1:4,past_sequence_length=0:128:1024); NAME=SIZE fixes it; repeatable; "
        "default for batch/sequence dims: from genai_config.json beside the model",
    )
    g.add_argument(
        "--fp16",
        action="store_true",
        help="allow FP16 kernels (TensorRT; RTX networks are strongly typed)",
    )
    g.add_argument(
        "--bf16",
        action="store_true",
        help="allow BF16 kernels (TensorRT; RTX networks are strongly typed)",
    )
    g.add_argument(
        "--layer-precisions",
        action="append",
        default=[],
        metavar="NODE:fp32,...",
        help="keep these layers (ONNX node names) in a precision, as trt-quantize "
        "--check-fp16 prints them; TensorRT-RTX: checked against the model's types",
    )
    g.add_argument(
        "--workspace", type=float, metavar="MiB", help="workspace memory pool limit in MiB"
    )
    g.add_argument(
        "--timing-cache", metavar="FILE", help="timing cache to read (if present) and update"
    )
    g.add_argument(
        "--compute-capability",
        action="append",
        default=[],
        metavar="CC",
        help="TensorRT-RTX: build ahead of time for this compute capability (e.g. 89); "
        "repeatable; default: the current GPU",
    )
    g.add_argument(
        "--flavour",
        choices=("tensorrt", "tensorrt_rtx"),
        help="which installed TensorRT to use (default: tensorrt, else tensorrt_rtx)",
    )
    p = ap.add_argument_group("plugins")
    p.add_argument(
        "--plugin-backend",
        choices=("auto", "native", "python"),
        default="auto",
        help="how to register trtforge plugins: the native library, the Python "
        "IPluginV3 classes, or auto (native where built)",
    )
    p.add_argument(
        "--plugin-library",
        action="append",
        default=[],
        metavar="SO",
        help="also load this plugin library (getCreators); repeatable",
    )
    ap.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: TensorRT's too)"
    )
    return ap


_DIMS = re.compile(r"^\d+(x\d+)*$")


def parse_shapes(items: list[str]) -> dict[str, tuple[tuple[int, ...], ...]]:
    out: dict[str, tuple[tuple[int, ...], ...]] = {}
    for item in items:
        name, sep, rest = item.rpartition(":")
        parts = rest.split(",")
        if not sep or not name or len(parts) != 3 or not all(_DIMS.match(p) for p in parts):
            raise UserError(
                f"--shapes '{item}': expected NAME:MIN,OPT,MAX with dims joined by 'x'",
                "write e.g. --shapes input:1x3x224x224,8x3x224x224,32x3x224x224",
            )
        dims = tuple(tuple(int(d) for d in p.split("x")) for p in parts)
        from trtforge.analyzer.dim_profiles import INT32_MAX

        if any(d > INT32_MAX for shape in dims for d in shape):
            raise UserError(
                f"--shapes '{short(item)}': a dimension exceeds {INT32_MAX}, the largest "
                "TensorRT takes",
                "give dims that fit in 32 bits",
            )
        ordered = all(a <= b <= c for a, b, c in zip(*dims, strict=True))
        if len({len(d) for d in dims}) != 1 or not ordered:
            raise UserError(
                f"--shapes '{item}': min, opt and max must have one rank and min <= opt <= max",
                "check each dimension of the three shapes",
            )
        if name in out:
            raise UserError(
                f"--shapes names input '{name}' twice",
                f"give one --shapes {name}:MIN,OPT,MAX (one optimization profile per build)",
            )
        out[name] = dims
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Logger:
    """A TensorRT logger collecting errors (shown on failure) and forwarding to logging."""

    def __init__(self, trt, verbose: int):
        base = trt.ILogger
        outer = self
        self.errors: list[str] = []

        class L(base):
            def __init__(self):
                base.__init__(self)

            def log(self, severity, msg):
                if severity <= trt.ILogger.Severity.ERROR:
                    if "cudaError 35" in msg or "CUDA driver version is insufficient" in msg:
                        logger.debug("TensorRT: %s", msg)  # no GPU here: harmless for AOT builds
                        return
                    outer.errors.append(msg)
                    logger.debug("TensorRT: %s", msg)
                elif severity <= trt.ILogger.Severity.WARNING and verbose:
                    logger.warning("TensorRT: %s", msg)
                elif verbose > 1:
                    logger.info("TensorRT: %s", msg)

        self.trt_logger = L()


@dataclass
class _Compiled:
    """What one parse-and-build produced."""

    engine: bytes
    timing_cache: bytes | None
    inputs: list[dict]
    outputs: list[dict]
    precision: list[str]
    layer_precisions: dict[str, dict]


#: TensorRT-RTX 1.7.1 sometimes fails the shape analysis of plugin nodes with an internal
#: assertion (`gThreadContext != nullptr`) or "Output shape can not be computed for node <plugin
#: node>" while other builds load the machine; the process then keeps failing, but the same
#: build in a fresh process succeeds (trt-build re-executes itself once, marked by _RETRY_MARK).
_INTERNAL_ERROR = "Error Code 2: Internal Error"
_RETRY_MARK = "TRTFORGE_BUILD_RETRIED"
_SHAPE_ERROR = "Output shape can not be computed for node"


def _is_transient(errors: list[str], plugin_node_names: set[str]) -> bool:
    """True for the upstream failures above; errors about the model itself are never retried."""
    for error in errors:
        if _INTERNAL_ERROR in error:
            return True
        if _SHAPE_ERROR in error and any(f"node {n}." in error for n in plugin_node_names):
            return True
    return False


def _compile(trt, flavour, is_rtx, ccs, shapes, args, model_path):
    """Parses the model and builds the engine.

    Returns:
        (the result, []) or, when the builder failed, (None, its error messages).
    """
    # --- parse -----------------------------------------------------------------------------
    log = _Logger(trt, args.verbose)
    builder = trt.Builder(log.trt_logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, log.trt_logger)
    if not interruptible(parser.parse_from_file, str(model_path)):
        from trtforge.analyzer.trt import parser_error

        errs = [parser_error(parser.get_error(i)) for i in range(parser.num_errors)]
        detail = (
            "; ".join(
                f"node {e['node']} ({e['node_name'] or '?'}, {e['op'] or '?'}): "
                f"{str(e['code']).split('.')[-1]} in {e['func']}: {e['desc']}"
                for e in errs
            )
            or "; ".join(log.errors)
            or "no detail"
        )
        raise Failure(
            f"the {flavour} ONNX parser refused the model: {detail}",
            "run trt-check on the model to see which nodes are unsupported and why",
        )

    # --- config ------------------------------------------------------------------------------
    config = builder.create_builder_config()
    precision = []
    for flag, wanted in (("FP16", args.fp16), ("BF16", args.bf16)):
        if not wanted:
            continue
        if hasattr(trt.BuilderFlag, flag):
            config.set_flag(getattr(trt.BuilderFlag, flag))
            precision.append(flag.lower())
        else:
            logger.warning(
                "%s has no %s builder flag (strongly typed networks): types come from the model",
                flavour,
                flag,
            )
    from trtforge.plugins import layer_precisions

    constrained = layer_precisions.apply(trt, network, config, args.layer_constraints, is_rtx)
    if args.workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(args.workspace * (1 << 20)))
    if is_rtx:
        if ccs:
            config.num_compute_capabilities = len(ccs)
            for i, cc in enumerate(ccs):
                member = getattr(trt.ComputeCapability, f"SM{cc}", None)
                if member is None:
                    known = [m for m in trt.ComputeCapability.__members__ if m.startswith("SM")]
                    raise UserError(
                        f"{flavour} cannot build for compute capability {cc}",
                        f"choose one of {', '.join(m[2:] for m in known)}",
                    )
                config.set_compute_capability(member, i)
    inputs_info = []
    profile = builder.create_optimization_profile()
    need_profile = False
    net_inputs = [network.get_input(i) for i in range(network.num_inputs)]
    for t in net_inputs:
        dims = tuple(t.shape)
        info = {"name": t.name, "dtype": str(t.dtype).split(".")[-1], "shape": list(dims)}
        if t.name in shapes:
            mn, op, mx = shapes[t.name]
            if len(mn) != len(dims) or any(
                d >= 0 and not (a == b == c == d)
                for d, a, b, c in zip(dims, mn, op, mx, strict=True)
            ):
                raise UserError(
                    f"--shapes {t.name}: does not fit the input's shape {list(dims)}",
                    "keep static dimensions as they are; vary only the dynamic (-1) ones",
                )
            profile.set_shape(t.name, mn, op, mx)
            need_profile = True
            info["profile"] = {"min": list(mn), "opt": list(op), "max": list(mx)}
        elif any(d < 0 for d in dims):
            raise UserError(
                f"input '{t.name}' has dynamic shape {list(dims)} and no --shapes",
                f"add --shapes {t.name}:MIN,OPT,MAX (e.g. "
                + "x".join("1" if d < 0 else str(d) for d in dims)
                + ",...)",
            )
        inputs_info.append(info)
    unknown = set(shapes) - {t.name for t in net_inputs}
    if unknown:
        raise UserError(
            f"--shapes names unknown input(s) {sorted(unknown)}",
            f"the model's inputs are {[t.name for t in net_inputs]}",
        )
    if need_profile:
        config.add_optimization_profile(profile)
    cache = None
    if args.timing_cache:
        blob = Path(args.timing_cache).read_bytes() if os.path.isfile(args.timing_cache) else b""
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, ignore_mismatch=False)

    engine = interruptible(builder.build_serialized_network, network, config)
    if engine is None:
        return None, list(log.errors)
    outputs = [
        {
            "name": network.get_output(i).name,
            "dtype": str(network.get_output(i).dtype).split(".")[-1],
        }
        for i in range(network.num_outputs)
    ]
    cache_blob = bytes(config.get_timing_cache().serialize()) if cache is not None else None
    return (
        _Compiled(bytes(engine), cache_blob, inputs_info, outputs, precision, constrained),
        [],
    )


def _check_shapes(model, shapes: dict[str, tuple[tuple[int, ...], ...]]) -> None:
    """Rejects a dynamic input without --shapes, or --shapes that fit no input, from the ONNX
    graph alone: before TensorRT is imported (seconds), so a missing profile fails at once."""
    from trtforge.analyzer.safe_text import text_of

    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    unknown = set(shapes) - {i.name for i in inputs}
    if unknown:
        raise UserError(
            f"--shapes names unknown input(s) {sorted(unknown)}",
            f"the model's inputs are {[i.name for i in inputs]}",
        )
    for value in inputs:
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue  # no static shape in the file: TensorRT's network input decides
        dims = [
            d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else -1
            for d in value.type.tensor_type.shape.dim  # (a static 0 is static: TensorRT's too)
        ]
        if value.name in shapes:
            if any(len(s) != len(dims) for s in shapes[value.name]):
                raise UserError(
                    f"--shapes {value.name}: does not fit the input's shape {dims}",
                    "keep static dimensions as they are; vary only the dynamic (-1) ones",
                )
        elif any(d < 0 for d in dims):
            names = [text_of(d.dim_param) for d in value.type.tensor_type.shape.dim if d.dim_param]
            raise UserError(
                f"input '{value.name}' has dynamic shape {dims} and no --shapes",
                f"add --shapes {value.name}:MIN,OPT,MAX (e.g. "
                + "x".join("1" if d < 0 else str(d) for d in dims)
                + ",...)"
                + (
                    f", or --dims {','.join(f'{n}=MIN:OPT:MAX' for n in names)} for every "
                    "input using those names"
                    if names
                    else ""
                ),
            )


def _plugin_fix_hint(model_path: Path, nodes) -> str:
    """The hint for nodes no plugin serves: trt-check's fix (a rewrite pass that replaces such
    ops with standard ONNX) when one exists, else how to provide the plugin."""
    from trtforge.analyzer.rewrite.registry import passes_removing

    passes = list(dict.fromkeys(p for n in nodes for p in passes_removing(n.domain, n.op_type)))
    provide = (
        "declare and build it (trt-plugin new NAME, then pip install .), or load a library "
        "that provides it with --plugin-library PATH (a shared library exporting getCreators)"
    )
    if not passes:
        return provide
    flags = " ".join(f"--{p}" for p in passes)
    return (
        f"replace them with standard ONNX ops, as trt-check suggests: trt-rewrite {model_path} "
        f"-o {model_path.with_suffix('')}.trt.onnx {flags}, then build that; or {provide}"
    )


def natively_imported(node, target) -> bool:
    """True when `target`'s parser has a built-in importer for the node's op_type (importers are
    chosen by op_type whatever the domain; e.g. TensorRT-RTX imports com.microsoft
    SkipSimplifiedLayerNormalization): such a node is not a plugin lookup, and whether the
    importer accepts it is the parser's call (trt-check says why it would not)."""
    from trtforge.analyzer.kb import find_rule

    rule = find_rule("", node.op_type)
    return target is not None and rule is not None and rule.since.available(target)


def _check_plugins_known(model, model_path: Path, args) -> None:
    """Fails before TensorRT is imported when a node needs a plugin that neither trtforge nor
    TensorRT ships (the knowledge base's lookup, as trt-check does); with --plugin-library the
    library may provide it, and TensorRT's registry decides after loading it."""
    if args.plugin_library:
        return
    from trtforge.analyzer.plugin_lookup import find_plugin, plugin_keys
    from trtforge.analyzer.targets import installed_target, parse_target
    from trtforge.plugins import registry

    target = installed_target()
    if target is None or (args.flavour and (args.flavour == "tensorrt_rtx") != target.is_rtx):
        target = parse_target("rtx-1" if args.flavour == "tensorrt_rtx" else "trt-10")
    unknown = [
        node
        for _, node, spec in registry.plugin_nodes(model, target)
        if spec is None
        and not natively_imported(node, target)
        and find_plugin(node, target) is None
    ]
    if unknown:
        lines = []
        for node in unknown[:5]:
            name, version, namespace = plugin_keys(node, target)[-1]
            lines.append(
                f"{node.op_type} node '{node.name}': plugin name={name} version={version} "
                f"namespace={namespace or '(empty)'} is not registered (neither trtforge nor "
                "TensorRT provides it)"
            )
        if len(unknown) > 5:
            lines.append(f"and {len(unknown) - 5} more")
        raise Failure("; ".join(lines), _plugin_fix_hint(model_path, unknown))


def _refuse_invalid(loaded) -> None:
    """Refuses a model that is not a valid ONNX graph (trt-check's `invalid/` findings)
    before TensorRT loads: the parser takes some such graphs on trust and builds something
    else, and dies of SIGSEGV on others (a rank-0 ConstantOfShape shape), taking the command
    with it."""
    from trtforge.analyzer import validity
    from trtforge.analyzer.session import ModelSession

    problem = validity.first_error(ModelSession.of(loaded).problems())
    if problem is not None:
        raise UserError(
            f"{loaded.display_path}: {problem}",
            "fix or re-export the model (trt-check MODEL lists every problem)",
        )
    from trtforge.analyzer.kb.graph_rules import input_size_findings

    too_large = input_size_findings(loaded.structure.graph)
    if too_large:  # (the parser takes 2^32 and more modulo 2^32: a wrong engine)
        raise UserError(f"{loaded.display_path}: {too_large[0].message}", too_large[0].hint)


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    from trtforge.analyzer.loading import require_model_file

    model_path = Path(args.model)
    require_model_file(model_path)  # missing, a folder, a FIFO, unreachable: exit 2 at once
    shapes = parse_shapes(args.shapes)
    out = check_output(args.output)  # before the (long) build: refuse what cannot be written
    check_output(out.with_name(out.name + ".json"), "-o (its JSON sidecar)")
    if args.timing_cache:
        check_output(args.timing_cache, "--timing-cache")
    from trtforge.analyzer import dim_profiles

    dims = dim_profiles.parse_dims(args.dims)
    ccs = []
    for cc in args.compute_capability:
        if not re.fullmatch(r"\d{2,3}", cc.replace(".", "")):
            raise UserError(
                f"--compute-capability '{cc}' is not a compute capability", "write e.g. 89 or 8.9"
            )
        ccs.append(cc.replace(".", ""))
    if args.workspace is not None and not 0 < args.workspace <= MAX_WORKSPACE_MIB:
        raise UserError(  # (NaN fails both comparisons; no workspace at all builds nothing)
            f"--workspace {args.workspace:g}: not a size in MiB above 0 and up to "
            f"{MAX_WORKSPACE_MIB}",
            "give the workspace pool limit in MiB, e.g. --workspace 4096",
        )

    from trtforge.analyzer.loading import load_model

    # the safe loader: one-line errors for damaged files, external data checked with stat
    loaded = load_model(model_path)
    model = loaded.proto
    _refuse_invalid(loaded)
    for path in (out, out.with_name(out.name + ".json")):
        check_output(path)  # an input (the model, its data) is never replaced
    resolved = dim_profiles.resolve(model, model_path, dims, shapes)  # before TensorRT loads
    shapes = {**resolved.shapes, **shapes}
    _check_shapes(model, shapes)
    _check_plugins_known(model, model_path, args)
    from trtforge.plugins import layer_precisions

    args.layer_constraints = layer_precisions.parse(
        args.layer_precisions, {n.name for n in model.graph.node if n.name}
    )

    from trtforge.plugins import _trt, registry

    if args.flavour:
        _trt.choose(args.flavour)  # parsed and chosen again after the RTX re-exec below
    flavour = _trt.flavour()
    if flavour is None:
        raise UserError(
            "neither tensorrt nor tensorrt_rtx is installed",
            "pip install tensorrt (NVIDIA GPUs) or pip install tensorrt-rtx",
        )
    _trt.ensure_rtx_loadable(reexec=True)  # re-executes this process once if needed
    trt = _trt.import_trt(flavour)
    is_rtx = flavour == "tensorrt_rtx"
    if ccs and not is_rtx:
        raise UserError(
            "--compute-capability applies to TensorRT-RTX only",
            "TensorRT builds for the GPU it runs on; drop the flag or use --flavour tensorrt_rtx",
        )

    # --- plugins -------------------------------------------------------------------------
    from trtforge.analyzer.targets import target_of

    # the parser about to run decides which plugin serves a node (plugin_lookup's rule)
    target = target_of("rtx" if is_rtx else "trt", str(getattr(trt, "__version__", "")))
    nodes = registry.plugin_nodes(model, target)
    needed = []
    for _, _node, spec in nodes:
        if spec is not None and spec not in needed:
            needed.append(spec)
    registered = None
    if needed:
        try:
            registered = registry.register(needed, backend=args.plugin_backend, trt=trt)
        except registry.RegistrationError as e:
            raise Failure(e.message, e.hint) from e
    reg = trt.get_plugin_registry()
    for lib in args.plugin_library:
        if not Path(lib).is_file():
            raise UserError(f"--plugin-library '{lib}' does not exist", "pass the path of a .so")
        if reg.load_library(lib) is None:
            raise Failure(
                f"TensorRT could not load the plugin library {lib}",
                "check it exports getCreators (ldd / nm -D) and matches this TensorRT",
            )
    missing = [
        (node, keys)
        for node, keys in registry.find_missing(reg, model, target)
        if not natively_imported(node, target)
    ]
    if missing:
        lines = []
        for node, keys in missing:
            name, version, ns = keys[-1]
            lines.append(
                f"{node.op_type} node '{node.name}': plugin name={name} version={version} "
                f"namespace={ns or '(empty)'} is not registered"
            )
        raise Failure("; ".join(lines), _plugin_fix_hint(model_path, [n for n, _ in missing]))

    plugin_node_names = {node.name for _, node, _spec in nodes}
    compiled, errors = _compile(trt, flavour, is_rtx, ccs, shapes, args, model_path)
    if compiled is None and _is_transient(errors, plugin_node_names):
        if not os.environ.get(_RETRY_MARK):
            # Once it happens, TensorRT stays broken in this process: retry in a fresh one.
            logger.warning("TensorRT failed transiently (%s); building once more", errors[-1])
            _trt.reexec_process({**os.environ, _RETRY_MARK: "1"})
    if compiled is None:
        raise Failure(
            f"the {flavour} builder failed: " + ("; ".join(errors) or "no detail"),
            "run with -vv to see TensorRT's log",
        )
    out = Path(args.output)

    sidecar = {
        "schema": "trtforge.build/1",
        "engine": out.name,
        "model": {"path": str(model_path), "sha256": _sha256(model_path)},
        "tensorrt": {"flavour": flavour, "version": getattr(trt, "__version__", None)},
        "compute_capability": [f"{c[:-1]}.{c[-1]}" for c in ccs] if ccs else ["current"],
        "precision": compiled.precision or ["as-typed" if is_rtx else "fp32"],
        "layer_precisions": compiled.layer_precisions,
        "workspace_mib": args.workspace,
        "plugins": [
            {
                "name": s.name,
                "version": s.version,
                "namespace": s.namespace,
                "backend": registered.backend if registered else None,
                "library": Path(registered.library).name
                if registered and registered.library
                else None,
            }
            for s in needed
        ],
        "plugin_libraries": [Path(p).name for p in args.plugin_library],
        "inputs": compiled.inputs,
        "outputs": compiled.outputs,
        "dims": {name: r.to_json() for name, r in sorted(resolved.dims.items())},
    }
    # The engine, its sidecar and the updated timing cache are committed together or not at all.
    with OutputSet() as outputs:
        outputs.add_bytes(out, compiled.engine)
        outputs.add_text(
            out.with_name(out.name + ".json"),
            json.dumps(sidecar, indent=2) + "\n",
            "-o (its JSON sidecar)",
        )
        if compiled.timing_cache is not None:
            outputs.add_bytes(args.timing_cache, compiled.timing_cache, "--timing-cache")
        outputs.commit()
    print(
        f"wrote {out} ({len(compiled.engine)} bytes) and {out.name}.json"
        + (f"; plugins: {', '.join(s.qualified_name for s in needed)}" if needed else "")
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Console entry point: the exit status (0, 1, 2 or 3)."""
    return run("trt-build", _main, argv)


def console_main() -> NoReturn:
    """The `trt-build` command (`cli._args.run_console`)."""
    from trtforge.analyzer.cli._args import run_console

    run_console(main)


if __name__ == "__main__":
    console_main()
