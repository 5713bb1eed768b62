"""`check()`: the Python API behind `trt-check`."""

from __future__ import annotations

import importlib.util
import os

import onnx

from trtforge.analyzer.errors import UserError
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.report import Report
from trtforge.analyzer.selection import explain_selection
from trtforge.analyzer.session import ModelSession
from trtforge.analyzer.targets import Target, default_target, installed_target, parse_target

BACKENDS = ("auto", "static", "parser")


def parser_available() -> bool:
    """True when `tensorrt` or `tensorrt_rtx` can be imported (checked without importing)."""
    return any(importlib.util.find_spec(m) is not None for m in ("tensorrt", "tensorrt_rtx"))


def resolve_backend(backend: str, target: Target | None) -> str:
    """Picks the backend that will run: `auto` means the parser when one is installed and
    matches the requested target's family and major version, else the knowledge base."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}'", f"use one of {', '.join(BACKENDS)}")
    if backend == "static":
        return "static"
    installed = installed_target() if parser_available() else None
    if backend == "parser":
        if installed is None:
            raise UserError(
                "--backend parser needs TensorRT, and neither tensorrt nor tensorrt_rtx is "
                "installed",
                "pip install tensorrt-rtx (runs on CPU), or use --backend static",
            )
        if target is not None and target.line != installed.line:
            raise UserError(
                f"--backend parser checks with the installed {installed.line}, not {target.line}",
                f"drop --target, or use --backend static for {target.line}",
            )
        return "parser"
    if installed is not None and (target is None or target.line == installed.line):
        return "parser"
    return "static"


def check(
    model: str | os.PathLike | onnx.ModelProto | LoadedModel | ModelSession,
    target: str | Target | None = None,
    backend: str = "auto",
    advice: bool = True,
    shows_digest: bool = True,
) -> Report:
    """Checks whether TensorRT's ONNX parser accepts every node of `model`.

    Args:
        model: a path, a ModelProto, an already loaded model, or a `ModelSession` (whose
            type table, validity problems and graphsurgeon graph the check shares and fills).
        target: a target id (`trt-10`, `trt-10.16`, `trt-11`, `rtx-1`); default: the
            installed TensorRT's, else `trt-11`.
        backend: `static` (knowledge base), `parser` (real parser) or `auto`.
        advice: add performance advice (fusions trt-rewrite would make) as graph warnings.
        shows_digest: whether the caller reads the model file's SHA-256
            (`report.model.sha256`, which JSON and SARIF reports show); False: a large file
            is hashed only if it is asked for after all (`load_model`'s `hash_meanwhile`).

    Returns:
        The report; `report.supported` is the whole-model verdict.

    Raises:
        UserError: bad model or arguments.
    """
    wanted = parse_target(target) if target is not None else None
    chosen = resolve_backend(backend, wanted)
    session = ModelSession.of(model, hash_meanwhile=shows_digest)
    loaded = session.loaded
    if chosen == "parser":
        from trtforge.analyzer import trt as trt_adapter
        from trtforge.analyzer.backends.parser import check_parser

        report = check_parser(session)
        checked_for = trt_adapter.target()
    else:
        from trtforge.analyzer.backends.static import check_static

        checked_for = wanted or default_target()
        report = check_static(session, checked_for)
    report.selection = explain_selection(backend, wanted, chosen)
    if advice and checked_for is not None:
        from trtforge.analyzer.advice import fusion_advice

        report.graph_findings.extend(fusion_advice(session, checked_for))
    if advice:
        from trtforge.analyzer.dim_profiles import build_profile_advice

        heads = loaded.initializer_heads
        names = heads.names if heads is not None else None
        profile = build_profile_advice(loaded.structure, loaded.path, names)
        if profile is not None:
            report.graph_findings.append(profile)
    return report
