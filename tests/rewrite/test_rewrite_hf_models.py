"""Acceptance 1: real Hugging Face architectures (tiny random weights, exported by
examples/hf/export_hf_models.py and committed) fuse exactly as many norms as they have, match
the original in onnxruntime, and parse with TensorRT-RTX."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import onnx
import pytest

from trtforge.analyzer.loading import load_external_weights, load_model
from trtforge.analyzer.rewrite import RewriteOptions, rewrite_model
from trtforge.analyzer.rewrite.verify import verify
from trtforge.analyzer.targets import parse_target

HAS_PARSER = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
requires_parser = pytest.mark.skipif(not HAS_PARSER, reason="needs tensorrt or tensorrt_rtx")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
TARGET = parse_target("rtx-1")


def expected_norms(name: str) -> int:
    """The number of LayerNorm/RMSNorm modules, from the architecture's config."""
    c = MANIFEST["models"][name]["config"]
    count = {
        "bert": lambda: 1 + 2 * c["num_hidden_layers"],  # embeddings + attention/output per layer
        "gpt2": lambda: 2 * c["n_layer"] + 1,  # ln_1, ln_2 per block + ln_f
        "vit": lambda: 2 * c["num_hidden_layers"] + 1,  # before/after per layer + final
        "t5": lambda: (2 * c["num_layers"] + 1) + (3 * c["num_decoder_layers"] + 1),
        "llama": lambda: 2 * c["num_hidden_layers"] + 1,  # input/post-attention + final norm
    }[name]()
    assert count == MANIFEST["models"][name]["expected_norms"]
    return count


CASES = [
    (name, export["file"])
    for name, entry in sorted(MANIFEST["models"].items())
    for export in entry["exports"].values()
]


def _rewrite(file: str, passes: list[str], **options):
    loaded = load_model(FIXTURES / file)
    result = rewrite_model(loaded.proto, passes, RewriteOptions(TARGET, **options))
    return loaded, result


def _verify(loaded, rewritten: onnx.ModelProto):
    original = load_external_weights(loaded)
    full = onnx.ModelProto()
    full.CopyFrom(rewritten)
    if loaded.external:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(full, str(loaded.folder))
    outcome = verify(original, full, dims={"batch": 1, "seq": 8})
    assert outcome.ok, outcome.describe_worst()


def _ops(proto) -> Counter:
    return Counter(n.op_type for n in proto.graph.node)


def _passes(name: str) -> tuple[str, str, str]:
    norm = MANIFEST["models"][name]["norm"]
    if norm == "layernorm":
        return "fuse-layernorm", "LayerNormalization", "LayerNorm"
    return "fuse-rmsnorm", "RMSNormalization", "RMSNorm"


@pytest.mark.parametrize("name,file", CASES, ids=[f for _, f in CASES])
def test_onnx_op_path_fuses_every_norm(name, file, tmp_path):
    pass_id, onnx_op, _ = _passes(name)
    option = {"layernorm_impl": "onnx"} if pass_id == "fuse-layernorm" else {"rmsnorm_impl": "onnx"}
    loaded, result = _rewrite(file, [pass_id], **option)
    already = _ops(loaded.proto)[onnx_op]  # TorchScript at opset 17 emits LayerNormalization
    assert result.passes[pass_id].applied == expected_norms(name) - already
    assert not result.passes[pass_id].skips
    ops = _ops(result.proto)
    assert ops[onnx_op] == expected_norms(name)
    assert ops["ReduceMean"] == 0 and ops["Sqrt"] == 0
    _verify(loaded, result.proto)
    again = rewrite_model(result.proto, [pass_id], RewriteOptions(TARGET, **option))
    assert not again.changed


@pytest.mark.parametrize("name,file", CASES, ids=[f for _, f in CASES])
def test_plugin_path_fuses_every_decomposed_norm(name, file):
    pass_id, onnx_op, plugin = _passes(name)
    loaded, result = _rewrite(file, [pass_id], layernorm_impl="plugin", rmsnorm_impl="plugin")
    ops = _ops(result.proto)
    assert ops[plugin] + ops[onnx_op] == expected_norms(name)
    assert ops[plugin] == expected_norms(name) - _ops(loaded.proto)[onnx_op]
    if ops[plugin]:
        assert all(n.domain == "trtforge" for n in result.proto.graph.node if n.op_type == plugin)
        _verify(loaded, result.proto)


@requires_parser
@pytest.mark.parser
@pytest.mark.parametrize("name,file", CASES, ids=[f for _, f in CASES])
def test_rewritten_model_parses_with_the_real_parser(name, file, tmp_path):
    from trtforge.analyzer import check
    from trtforge.analyzer.rewrite.writer import write_model

    pass_id, _, _ = _passes(name)
    option = {"layernorm_impl": "onnx"} if pass_id == "fuse-layernorm" else {"rmsnorm_impl": "onnx"}
    loaded, result = _rewrite(file, [pass_id], **option)
    out = write_model(result.proto, tmp_path / "rewritten.onnx", loaded)
    report = check(out, backend="parser")
    bad = [(n.op_type, [r.message for r in n.reasons]) for n in report.nodes if not n.ok]
    assert report.supported, bad[:3]
