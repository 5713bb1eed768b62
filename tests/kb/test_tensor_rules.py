"""Tensor-manipulation, indexing, control-flow and custom-domain rules, on real models.

Each case is a small model (ONNX text), the target, and the expected static verdict and
finding code. Where TensorRT-RTX is installed, every `rtx-1` case is also parsed by the real
parser (one subprocess for all of them) and its verdict must agree with the static one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import onnx
import pytest
from oracle_cases_tensor import BUILDER_REFUSES, CASES, IF_COL2IM, SUPPORTED
from oracle_cases_tensor import model as _model

from trtforge.analyzer.api import check

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


IDS = [c[0] for c in CASES]


def _first_node_of_interest(report):
    """The verdict of the node the case is about: the last one (helpers come first)."""
    return report.nodes[-1]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_static_verdict(case) -> None:
    _, text, opset, domains, target, status, code = case
    report = check(_model(text, opset, domains), target=target, backend="static")
    node = _first_node_of_interest(report)
    codes = [r.code for r in node.reasons]
    assert node.status == status, f"{node.op_type}: {node.status} {codes}"
    if code is not None:
        assert code in codes, f"expected {code} in {codes}"


def test_inner_node_is_named() -> None:
    report = check(_model(IF_COL2IM, 18), target="rtx-1", backend="static")
    (node,) = report.nodes
    messages = " ".join(r.message for r in node.reasons)
    assert "else_branch" in messages and "Col2Im" in messages
    assert any(r.inner for r in node.reasons)


def test_custom_domain_uses_default_opset() -> None:
    """A built-in importer reads the default domain's opset, not the custom domain's."""
    text = "g (float[4,4] x) => (float y) { y = my.dom.Transpose(x) }"
    report = check(_model(text, 17, {"my.dom": 1}), target="trt-10", backend="static")
    assert report.nodes[0].status == SUPPORTED


_PARSE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorrt_rtx as trt
    logger = trt.Logger(trt.Logger.ERROR)
    out = {}
    for path in sys.argv[1:]:
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        with open(path, "rb") as f:
            ok = parser.parse(f.read())
        out[path] = [bool(ok), [parser.get_error(i).desc() for i in range(parser.num_errors)]]
        print("@@" + json.dumps({path: out[path]}), flush=True)
    """
)


def _rtx_env(tmp: Path) -> dict[str, str]:
    """LD_LIBRARY_PATH holding the unversioned libtensorrt_rtx.so the parser dlopens."""
    import importlib.util

    spec = importlib.util.find_spec("tensorrt_rtx_libs")
    env = dict(os.environ)
    if spec is not None and spec.submodule_search_locations:
        libdir = Path(list(spec.submodule_search_locations)[0])
        link = tmp / "libtensorrt_rtx.so"
        if (libdir / "libtensorrt_rtx.so.1").exists() and not link.exists():
            link.symlink_to(libdir / "libtensorrt_rtx.so.1")
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(tmp), env.get("LD_LIBRARY_PATH", "")) if p
        )
    return env


@pytest.mark.skipif(not HAS_RTX, reason="needs tensorrt_rtx")
def test_rtx_cases_agree_with_the_real_parser(tmp_path: Path) -> None:
    cases = [c for c in CASES if c[4] == "rtx-1"]
    paths = []
    for case_id, text, opset, domains, *_ in cases:
        path = tmp_path / f"{case_id}.onnx"
        onnx.save(_model(text, opset, domains), path)
        paths.append(str(path))
    script = tmp_path / "parse.py"
    script.write_text(_PARSE_SCRIPT)
    results: dict[str, list] = {}
    pending = list(paths)
    while pending:  # a parser abort costs one model, not the test
        proc = subprocess.run(
            [sys.executable, str(script), *pending],
            capture_output=True,
            text=True,
            timeout=300,
            env=_rtx_env(tmp_path),
        )
        for line in proc.stdout.splitlines():
            if line.startswith("@@"):  # the TensorRT logger writes to stdout too
                results.update(json.loads(line[2:]))
        done = [p for p in pending if p in results]
        pending = [p for p in pending if p not in results]
        if pending and proc.returncode != 0:
            results[pending.pop(0)] = [False, [f"parser aborted ({proc.returncode})"]]
        elif pending and not done:
            break
    disagreements = []
    for (case_id, *_, status, _code), path in zip(cases, paths, strict=True):
        ok, errors = results[path]
        # the bare parser has no trtforge plugins registered: PLUGIN cases fail there
        if ok != (status == SUPPORTED or case_id in BUILDER_REFUSES):
            disagreements.append(f"{case_id}: parser ok={ok} {errors[:1]}, static {status}")
    assert not disagreements, "\n".join(disagreements)


def test_every_ai_onnx_ml_op_has_a_rule() -> None:
    import onnx.defs

    from trtforge.analyzer.kb.registry import find_rule

    ml_ops = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == "ai.onnx.ml"}
    missing = sorted(op for op in ml_ops if find_rule("ai.onnx.ml", op) is None)
    assert not missing, f"ai.onnx.ml ops without a rule: {missing}"


def test_shipped_plugins_follow_the_release_notes() -> None:
    from trtforge.analyzer.kb.shipped_plugins import SHIPPED
    from trtforge.analyzer.targets import parse_target

    trt10, trt11, rtx = (parse_target(t) for t in ("trt-10.16", "trt-11.4", "rtx-1.7"))
    assert SHIPPED[("Clip_TRT", "1")].available(trt10)
    assert not SHIPPED[("Clip_TRT", "1")].available(trt11)  # removed in 11.0
    assert SHIPPED[("EfficientNMS_TRT", "1")].available(trt11)
    assert not any(entry.available(rtx) for entry in SHIPPED.values())
