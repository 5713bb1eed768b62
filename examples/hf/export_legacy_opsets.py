"""Export tiny random-weight BERT, GPT-2, ViT and DistilBERT with the TorchScript exporter at
opsets 11-13, where ONNX shape inference loses the hidden size of every LayerNorm input.

These are the exports `fuse-layernorm` used to skip ("the normalized dims of '…' are not
static (shape None)"). BERT is exported with `token_type_ids` (a vocabulary of 2), the input
random verification used to overflow. Nothing is downloaded (models built from configs, seeded).
Needs torch (`pip install torch==2.13.0`) and transformers. From the repo root:

    python examples/hf/export_legacy_opsets.py [--out tests/fixtures/hf_legacy] [--opsets 11 12 13]
        [--only bert:11 gpt2:12 vit:13 distilbert:12]

`--only` keeps the repository's fixtures small (one opset per model); the test reads
`manifest.json` for the number of LayerNorms each must fuse.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SEQ = 8


def _models():
    """(name, model, inputs, input names, dynamic axes, expected LayerNorm count)."""
    import torch
    import transformers as tf

    torch.manual_seed(0)
    ids = torch.randint(0, 100, (1, SEQ))
    types = torch.randint(0, 2, (1, SEQ))
    mask = torch.ones(1, SEQ, dtype=torch.int64)
    common = {"attn_implementation": "eager"}
    seq = {0: "batch", 1: "seq"}
    bert = tf.BertConfig(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        **common,
    )
    yield (
        "bert",
        tf.BertModel(bert, add_pooling_layer=False),
        (ids, types, mask),
        ["input_ids", "token_type_ids", "attention_mask"],
        {"input_ids": seq, "token_type_ids": seq, "attention_mask": seq},
        1 + 2 * bert.num_hidden_layers,
    )
    gpt2 = tf.GPT2Config(
        vocab_size=128, n_embd=32, n_layer=2, n_head=2, n_positions=64, use_cache=False, **common
    )
    yield ("gpt2", tf.GPT2Model(gpt2), (ids,), ["input_ids"], {"input_ids": seq}, 2 * 2 + 1)
    vit = tf.ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        **common,
    )
    yield (
        "vit",
        tf.ViTModel(vit, add_pooling_layer=False),
        (torch.randn(1, 3, 32, 32),),
        ["pixel_values"],
        {"pixel_values": {0: "batch"}},
        2 * 2 + 1,
    )
    distil = tf.DistilBertConfig(
        vocab_size=128, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64,
        **common,
    )
    yield (
        "distilbert",
        tf.DistilBertModel(distil),
        (ids, mask),
        ["input_ids", "attention_mask"],
        {"input_ids": seq, "attention_mask": seq},
        1 + 2 * 2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/hf_legacy")
    parser.add_argument("--opsets", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--only", nargs="*", help="name:opset pairs to keep")
    args = parser.parse_args()
    import onnx
    import torch
    import transformers.masking_utils as masking

    # Packed-sequence detection (torch.diff) has no ONNX export at these opsets; the fixtures
    # never pack sequences (as in export_hf_models.py).
    masking.find_packed_sequence_indices = lambda position_ids: None
    from export_hf_models import _Wrap  # the same wrapper as the opset-14/17 fixtures

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = {tuple(item.split(":")) for item in args.only or []}
    manifest = {"generator": "examples/hf/export_legacy_opsets.py", "torch": torch.__version__}
    models = {}
    for name, model, inputs, names, dyn, expected in _models():
        wrapped = _Wrap(model.eval(), names)
        for opset in args.opsets:
            if only and (name, str(opset)) not in only:
                continue
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
            onnx.checker.check_model(onnx.load(str(path)))
            models[path.name] = {"model": name, "opset": opset, "expected_norms": expected}
    manifest["models"] = models
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
