"""Export tiny random-weight Hugging Face models to ONNX, as test fixtures for trt-rewrite.

Nothing is downloaded: every model is built from a `transformers` config object with random
weights (seeded). Each is exported at an opset below 17 and at 17+ (TorchScript exporter), and
`manifest.json` records, per model, the config, the number of LayerNorm / RMSNorm modules the
architecture has (the count the fusion passes must reach), and what each export contains.

Needs torch (CPU build: `pip install torch==2.13.0`) and transformers. Run from the repo root:

    python examples/hf/export_hf_models.py [--out tests/fixtures/hf]
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path

log = logging.getLogger("trtforge.examples")

OPSETS = (14, 17)
#: extra exports with the dynamo exporter (ReduceMean axes as inputs, weights in a .data file).
DYNAMO = {"llama": 18}
SEQ = 8


def _models():
    """(name, model, inputs, input names, dynamic axes, norm kind, expected count, config)."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    ids = torch.randint(0, 100, (1, SEQ))
    mask = torch.ones(1, SEQ, dtype=torch.int64)
    common = {"attn_implementation": "eager"}

    bert_cfg = tf.BertConfig(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        **common,
    )
    gpt2_cfg = tf.GPT2Config(
        vocab_size=128, n_embd=32, n_layer=2, n_head=2, n_positions=64, use_cache=False, **common
    )
    vit_cfg = tf.ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        **common,
    )
    t5_cfg = tf.T5Config(
        vocab_size=128,
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        use_cache=False,
        **common,
    )
    llama_cfg = tf.LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        use_cache=False,
        **common,
    )
    seq = {0: "batch", 1: "seq"}
    yield (
        "bert",
        tf.BertModel(bert_cfg, add_pooling_layer=False),
        (ids, mask),
        ["input_ids", "attention_mask"],
        {"input_ids": seq, "attention_mask": seq},
        "layernorm",
        1 + 2 * bert_cfg.num_hidden_layers,
        bert_cfg,
    )
    yield (
        "gpt2",
        tf.GPT2Model(gpt2_cfg),
        (ids,),
        ["input_ids"],
        {"input_ids": seq},
        "layernorm",
        2 * gpt2_cfg.n_layer + 1,
        gpt2_cfg,
    )
    pixels = torch.randn(1, 3, 32, 32)
    yield (
        "vit",
        tf.ViTModel(vit_cfg, add_pooling_layer=False),
        (pixels,),
        ["pixel_values"],
        {"pixel_values": {0: "batch"}},
        "layernorm",
        2 * vit_cfg.num_hidden_layers + 1,
        vit_cfg,
    )
    yield (
        "t5",
        tf.T5Model(t5_cfg),
        (ids, mask, ids),
        ["input_ids", "attention_mask", "decoder_input_ids"],
        {"input_ids": seq, "attention_mask": seq, "decoder_input_ids": seq},
        "rmsnorm",
        2 * t5_cfg.num_layers + 1 + 3 * t5_cfg.num_decoder_layers + 1,
        t5_cfg,
    )
    yield (
        "llama",
        tf.LlamaModel(llama_cfg),
        (ids, mask),
        ["input_ids", "attention_mask"],
        {"input_ids": seq, "attention_mask": seq},
        "rmsnorm",
        2 * llama_cfg.num_hidden_layers + 1,
        llama_cfg,
    )


class _Wrap:
    """Returns only the last hidden state, as a tensor (torch.onnx wants tensors)."""

    def __new__(cls, model, names):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, *args):
                kwargs = dict(zip(names, args, strict=True))
                return self.model(**kwargs, return_dict=True).last_hidden_state

        return Wrapped().eval()


def export_all(out: Path) -> dict:
    import onnx
    import torch
    import transformers.masking_utils as masking

    # Packed-sequence detection (torch.diff) has no ONNX export; the fixtures never pack
    # sequences, so the exporter sees the unpacked path. Local to this export script.
    masking.find_packed_sequence_indices = lambda position_ids: None
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {
        "generator": "examples/hf/export_hf_models.py",
        "torch": torch.__version__,
        "models": {},
    }
    import transformers

    manifest["transformers"] = transformers.__version__
    for name, model, inputs, names, dyn, kind, expected, cfg in _models():
        wrapped = _Wrap(model.eval(), names)
        entry = {
            "norm": kind,
            "expected_norms": expected,
            "inputs": names,
            "config": {
                k: v
                for k, v in cfg.to_dict().items()
                if isinstance(v, (int, float, str, bool)) and k in _CONFIG_KEYS
            },
            "exports": {},
        }
        for opset in OPSETS:
            path = out / f"{name}_opset{opset}.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    wrapped,
                    inputs,
                    str(path),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes=dyn,
                    opset_version=opset,
                    dynamo=False,
                    do_constant_folding=True,
                )
            proto = onnx.load(str(path))
            ops = Counter(n.op_type for n in proto.graph.node)
            entry["exports"][f"opset{opset}"] = {
                "file": path.name,
                "nodes": len(proto.graph.node),
                "LayerNormalization": ops.get("LayerNormalization", 0),
                "ReduceMean": ops.get("ReduceMean", 0),
                "bytes": path.stat().st_size,
            }
            log.warning(
                "%s opset %d: %d nodes, %d bytes",
                name,
                opset,
                len(proto.graph.node),
                path.stat().st_size,
            )
        if name in DYNAMO:
            opset = DYNAMO[name]
            path = out / f"{name}_opset{opset}_dynamo.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    wrapped,
                    inputs,
                    str(path),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    opset_version=opset,
                    dynamo=True,
                    optimize=True,
                    external_data=True,
                )
            proto = onnx.load(str(path), load_external_data=False)
            ops = Counter(n.op_type for n in proto.graph.node)
            entry["exports"][f"opset{opset}_dynamo"] = {
                "file": path.name,
                "external_data": path.name + ".data",
                "nodes": len(proto.graph.node),
                "LayerNormalization": ops.get("LayerNormalization", 0),
                "ReduceMean": ops.get("ReduceMean", 0),
                "bytes": path.stat().st_size,
            }
        manifest["models"][name] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


_CONFIG_KEYS = {
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "n_embd",
    "n_layer",
    "n_head",
    "d_model",
    "num_layers",
    "num_decoder_layers",
    "num_heads",
    "d_ff",
    "layer_norm_eps",
    "layer_norm_epsilon",
    "rms_norm_eps",
    "image_size",
    "patch_size",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/hf", help="output folder")
    args = parser.parse_args()
    manifest = export_all(Path(args.out))
    print(json.dumps({k: v["exports"] for k, v in manifest["models"].items()}, indent=1))


if __name__ == "__main__":
    main()
