"""Hold-out check on real architectures: tiny random `transformers` models, as deployed.

Writes into a folder, for 28 architectures (vision: ViT, DeiT, BEiT, Swin, ConvNeXt, ResNet,
MobileViT, SegFormer, CLIP vision, DETR, YOLOS; text: CLIP text, BERT (eager attention, with an
attention mask), DistilBERT, RoBERTa,
DeBERTa-v2, ALBERT, ELECTRA, MPNet, Mistral, Phi, GPT-NeoX, OPT, BLOOM, Gemma; encoder-decoder:
BART, T5, Whisper; audio: wav2vec2), with random weights from tiny configs (no download):

* `<arch>_ts.onnx`: the TorchScript exporter, opset 17, dynamic batch (and sequence) axes;
* `<arch>_dynamo.onnx`: the torch.export-based exporter, opset 18, static shapes;
* `<arch>_<exporter>_ort[_fp16].onnx`: those after onnxruntime's transformer optimizer
  (com.microsoft SkipLayerNormalization, BiasGelu, EmbedLayerNormalization, …), fp32 and fp16;
* `<arch>_ts_<scheme>.onnx`: onnxruntime quantization of some: dynamic UINT8/INT8 weights
  (MatMulInteger, DynamicQuantizeLinear, UINT8 embedding tables), static QDQ INT8 per-tensor
  and per-channel, and QOperator UINT8 (QLinearConv, QLinearMatMul, …).

Exporters fail on some architectures (recorded, skipped). Then score them:

    pip install torch==2.13.0          # CPU build; any other spec pulls CUDA packages
    python benchmarks/holdout_hf.py /tmp/holdout-hf
    python -m tools.oracle --sources fixture --fixtures /tmp/holdout-hf

Results are recorded in docs/knowledge-base.md ("Hold-out check").
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import transformers as hf

TEXT = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 64,
}
VISION = {
    "image_size": 32,
    "patch_size": 8,
    "num_channels": 3,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 64,
}
SEQ2SEQ = {
    "vocab_size": 100,
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
}
IMAGE = {0: {0: "batch"}}
TOKENS = {0: {0: "batch", 1: "seq"}}


class Call(torch.nn.Module):
    """`model` called as `call(model, *inputs)` and reduced to one tensor (no caches)."""

    def __init__(self, model, call) -> None:
        super().__init__()
        self.model, self.call = model, call

    def forward(self, *inputs):
        return self.call(self.model, *inputs)


def _lm(model):
    return Call(model, lambda m, ids: m(input_ids=ids, use_cache=False)[0])


def _seq2seq(model):
    return Call(model, lambda m, ids: m(input_ids=ids, decoder_input_ids=ids, use_cache=False)[0])


def _image(size=32):
    return lambda: (torch.randn(1, 3, size, size),)


def _tokens():
    return (torch.randint(0, 100, (1, 8)),)


def architectures():
    """name -> (make module, make example inputs, dynamic axes for the TorchScript exporter)."""
    resnet_backbone = hf.ResNetConfig(
        num_channels=3,
        embedding_size=8,
        hidden_sizes=[8, 16, 16, 16],
        depths=[1, 1, 1, 1],
        out_features=["stage4"],
    )
    whisper = hf.WhisperConfig(
        num_mel_bins=8,
        max_source_positions=16,
        max_target_positions=16,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        **SEQ2SEQ,
    )
    return {
        "vit": (lambda: hf.ViTModel(hf.ViTConfig(**VISION)), _image(), IMAGE),
        "deit": (lambda: hf.DeiTModel(hf.DeiTConfig(**VISION)), _image(), IMAGE),
        "beit": (
            lambda: hf.BeitModel(hf.BeitConfig(**VISION, use_relative_position_bias=True)),
            _image(),
            IMAGE,
        ),
        "swin": (
            lambda: hf.SwinModel(
                hf.SwinConfig(
                    image_size=32,
                    patch_size=4,
                    embed_dim=16,
                    depths=[1, 1],
                    num_heads=[2, 2],
                    window_size=4,
                )
            ),
            _image(),
            IMAGE,
        ),  # fmt: skip
        "convnext": (
            lambda: hf.ConvNextModel(
                hf.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)
            ),
            _image(),
            IMAGE,
        ),
        "resnet": (
            lambda: hf.ResNetModel(
                hf.ResNetConfig(
                    num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1]
                )
            ),
            _image(),
            IMAGE,
        ),
        "mobilevit": (
            lambda: hf.MobileViTModel(
                hf.MobileViTConfig(
                    image_size=32,
                    patch_size=2,
                    hidden_sizes=[16, 16, 16],
                    neck_hidden_sizes=[8, 8, 8, 8, 8, 8, 16],
                    num_attention_heads=2,
                )
            ),
            _image(),
            IMAGE,
        ),  # fmt: skip
        "segformer": (
            lambda: hf.SegformerModel(
                hf.SegformerConfig(
                    num_encoder_blocks=2,
                    depths=[1, 1],
                    sr_ratios=[2, 1],
                    hidden_sizes=[8, 16],
                    patch_sizes=[7, 3],
                    strides=[4, 2],
                    num_attention_heads=[1, 2],
                    mlp_ratios=[2, 2],
                )
            ),
            _image(),
            IMAGE,
        ),  # fmt: skip
        "clip_vision": (lambda: hf.CLIPVisionModel(hf.CLIPVisionConfig(**VISION)), _image(), IMAGE),
        "clip_text": (lambda: hf.CLIPTextModel(hf.CLIPTextConfig(**TEXT)), _tokens, TOKENS),
        "bert_eager": (  # eager attention: onnxruntime's optimizer fuses it into Attention
            lambda: Call(
                hf.BertModel(hf.BertConfig(attn_implementation="eager", **TEXT)),
                lambda m, ids, mask: m(input_ids=ids, attention_mask=mask)[0],
            ),
            lambda: (torch.randint(0, 100, (1, 8)), torch.ones(1, 8, dtype=torch.int64)),
            {0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}},
        ),
        "distilbert": (
            lambda: hf.DistilBertModel(
                hf.DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=4, hidden_dim=64)
            ),
            _tokens,
            TOKENS,
        ),
        "roberta": (lambda: _lm(hf.RobertaModel(hf.RobertaConfig(**TEXT))), _tokens, TOKENS),
        "deberta_v2": (lambda: hf.DebertaV2Model(hf.DebertaV2Config(**TEXT)), _tokens, TOKENS),
        "albert": (
            lambda: hf.AlbertModel(hf.AlbertConfig(embedding_size=16, **TEXT)),
            _tokens,
            TOKENS,
        ),
        "electra": (
            lambda: _lm(hf.ElectraModel(hf.ElectraConfig(embedding_size=16, **TEXT))),
            _tokens,
            TOKENS,
        ),
        "mpnet": (lambda: hf.MPNetModel(hf.MPNetConfig(**TEXT)), _tokens, TOKENS),
        "mistral": (
            lambda: _lm(hf.MistralModel(hf.MistralConfig(num_key_value_heads=2, **TEXT))),
            _tokens,
            TOKENS,
        ),
        "phi": (lambda: _lm(hf.PhiModel(hf.PhiConfig(**TEXT))), _tokens, TOKENS),
        "gpt_neox": (lambda: _lm(hf.GPTNeoXModel(hf.GPTNeoXConfig(**TEXT))), _tokens, TOKENS),
        "opt": (
            lambda: _lm(
                hf.OPTModel(
                    hf.OPTConfig(
                        vocab_size=100,
                        hidden_size=32,
                        num_hidden_layers=1,
                        num_attention_heads=4,
                        ffn_dim=64,
                        word_embed_proj_dim=32,
                        pad_token_id=1,
                    )
                )
            ),
            _tokens,
            TOKENS,
        ),  # fmt: skip
        "bloom": (
            lambda: _lm(
                hf.BloomModel(hf.BloomConfig(vocab_size=100, hidden_size=32, n_layer=1, n_head=4))
            ),
            _tokens,
            TOKENS,
        ),
        "gemma": (
            lambda: _lm(hf.GemmaModel(hf.GemmaConfig(num_key_value_heads=2, head_dim=8, **TEXT))),
            _tokens,
            TOKENS,
        ),
        "bart": (lambda: _seq2seq(hf.BartModel(hf.BartConfig(**SEQ2SEQ))), _tokens, TOKENS),
        "t5": (
            lambda: _seq2seq(
                hf.T5Model(
                    hf.T5Config(
                        vocab_size=100, d_model=32, d_ff=64, d_kv=8, num_layers=1, num_heads=4
                    )
                )
            ),
            _tokens,
            TOKENS,
        ),
        "whisper": (
            lambda: Call(
                hf.WhisperModel(whisper),
                lambda m, features, ids: m(
                    input_features=features, decoder_input_ids=ids, use_cache=False
                )[0],
            ),
            lambda: (torch.randn(1, 8, 32), torch.randint(0, 100, (1, 4))),
            {0: {0: "batch"}, 1: {0: "batch", 1: "seq"}},
        ),
        "wav2vec2": (
            lambda: hf.Wav2Vec2Model(
                hf.Wav2Vec2Config(
                    vocab_size=32,
                    hidden_size=32,
                    num_hidden_layers=1,
                    num_attention_heads=4,
                    intermediate_size=64,
                    conv_dim=(8, 8),
                    conv_stride=(5, 2),
                    conv_kernel=(10, 3),
                    num_conv_pos_embeddings=16,
                    num_conv_pos_embedding_groups=4,
                )
            ),
            lambda: (torch.randn(1, 400),),
            {0: {0: "batch", 1: "time"}},
        ),  # fmt: skip
        "detr": (
            lambda: hf.DetrModel(
                hf.DetrConfig(
                    use_timm_backbone=False,
                    use_pretrained_backbone=False,
                    backbone_config=resnet_backbone,
                    d_model=32,
                    encoder_layers=1,
                    decoder_layers=1,
                    encoder_attention_heads=4,
                    decoder_attention_heads=4,
                    encoder_ffn_dim=64,
                    decoder_ffn_dim=64,
                    num_queries=5,
                )
            ),
            _image(64),
            IMAGE,
        ),  # fmt: skip
        "yolos": (
            lambda: hf.YolosModel(
                hf.YolosConfig(
                    image_size=[32, 32],
                    patch_size=8,
                    hidden_size=32,
                    num_hidden_layers=1,
                    num_attention_heads=4,
                    intermediate_size=64,
                    num_detection_tokens=5,
                )
            ),
            _image(),
            IMAGE,
        ),  # fmt: skip
    }


#: onnxruntime transformer-optimizer model type and (heads, hidden size) per architecture.
ORT_TYPES = {
    "bert_eager": "bert", "distilbert": "bert", "roberta": "bert", "albert": "bert",
    "electra": "bert", "mpnet": "bert", "mistral": "bert", "segformer": "bert",
    "vit": "vit", "deit": "vit", "clip_vision": "clip", "clip_text": "clip",
    "bart": "bart", "whisper": "bart", "t5": "t5", "phi": "phi", "gpt_neox": "gpt_neox",
    "swin": "swin",
}  # fmt: skip
ORT_SHAPES = {"swin": (2, 16), "segformer": (2, 16)}
QUANTIZED = [
    "resnet",
    "convnext",
    "vit",
    "distilbert",
    "mobilevit",
    "wav2vec2",
    "segformer",
    "bart",
]


def export(out: str) -> list[str]:
    """The TorchScript and dynamo exports; returns the paths written."""
    written = []
    for name, (make, example, dynamic) in architectures().items():
        for exporter in ("ts", "dynamo"):
            path = os.path.join(out, f"{name}_{exporter}.onnx")
            inputs = example()
            names = [f"in{i}" for i in range(len(inputs))]
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    module = make().eval()
                    if exporter == "dynamo":
                        torch.onnx.export(module, inputs, path, dynamo=True, opset_version=18,
                                          input_names=names, external_data=False)  # fmt: skip
                    else:
                        axes = {names[i]: a for i, a in dynamic.items()}
                        torch.onnx.export(module, inputs, path, dynamo=False, opset_version=17,
                                          input_names=names, dynamic_axes=axes)  # fmt: skip
                written.append(path)
            except Exception as err:  # noqa: BLE001 - an exporter limit: recorded, skipped
                print(f"skip {name}_{exporter}: {type(err).__name__}: {str(err)[:120]}")
                if os.path.exists(path):
                    os.unlink(path)
    return written


def ort_optimized(out: str) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    for name, model_type in ORT_TYPES.items():
        heads, hidden = ORT_SHAPES.get(name, (4, 32))
        for exporter in ("ts", "dynamo"):
            source = os.path.join(out, f"{name}_{exporter}.onnx")
            if not os.path.exists(source):
                continue
            for fp16 in (False, True):
                try:
                    model = optimize_model(
                        source, model_type=model_type, num_heads=heads, hidden_size=hidden
                    )
                    if fp16:
                        model.convert_float_to_float16(keep_io_types=True)
                    suffix = "_fp16" if fp16 else ""
                    model.save_model_to_file(
                        os.path.join(out, f"{name}_{exporter}_ort{suffix}.onnx")
                    )
                except Exception as err:  # noqa: BLE001 - an optimizer limit
                    print(f"skip ort {name}_{exporter}: {type(err).__name__}: {str(err)[:120]}")


class _RandomFeeds:
    """onnxruntime calibration data: two random feeds for the model's non-weight inputs."""

    def __init__(self, path: str) -> None:
        model = onnx.load(path)
        weights = {t.name for t in model.graph.initializer}
        rng = np.random.default_rng(0)
        self.feeds = []
        for _ in range(2):
            feed = {}
            for value in model.graph.input:
                if value.name in weights:
                    continue
                tensor = value.type.tensor_type
                shape = [d.dim_value if d.dim_value > 0 else 64 for d in tensor.shape.dim]
                if tensor.elem_type == onnx.TensorProto.INT64:
                    feed[value.name] = rng.integers(0, 50, shape).astype(np.int64)
                else:
                    feed[value.name] = rng.standard_normal(shape).astype(np.float32)
            self.feeds.append(feed)
        self._next = iter(self.feeds)

    def get_next(self):
        return next(self._next, None)


def quantized(out: str) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger().setLevel(logging.ERROR)
    for name in QUANTIZED:
        exported = os.path.join(out, f"{name}_ts.onnx")
        if not os.path.exists(exported):
            continue
        source = os.path.join(out, f"{name}_ts.pre.onnx.tmp")  # not *.onnx: not scored
        try:
            quant_pre_process(exported, source, skip_symbolic_shape=True)
        except Exception:  # noqa: BLE001 - quantize the export as it is
            source = exported
        schemes = {
            "dyn_u8": lambda s, d: quantize_dynamic(s, d, weight_type=QuantType.QUInt8),
            "dyn_s8": lambda s, d: quantize_dynamic(s, d, weight_type=QuantType.QInt8),
            "qdq_s8": lambda s, d: quantize_static(
                s, d, _RandomFeeds(s), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            ),
            "qdq_pc": lambda s, d: quantize_static(
                s, d, _RandomFeeds(s), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
            ),
            "qop_u8": lambda s, d: quantize_static(
                s, d, _RandomFeeds(s), quant_format=QuantFormat.QOperator,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8,
            ),
        }  # fmt: skip
        for scheme, quantize in schemes.items():
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    quantize(source, os.path.join(out, f"{name}_ts_{scheme}.onnx"))
            except Exception as err:  # noqa: BLE001 - a quantizer limit
                print(f"skip {name}_ts_{scheme}: {type(err).__name__}: {str(err)[:120]}")
        if source != exported:
            os.unlink(source)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "holdout-hf"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    export(out)
    ort_optimized(out)
    quantized(out)
    print(f"{len([f for f in os.listdir(out) if f.endswith('.onnx')])} models in {out}")


if __name__ == "__main__":
    main()
