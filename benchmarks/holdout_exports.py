"""Hold-out exports: real models unlike the fixability corpus, through what users run.

`build` writes 59 small models with random weights (nothing downloaded) that differ from
`benchmarks/fixability.py`'s corpus: transformers architectures it does not have (MobileBERT,
ConvBERT, SqueezeBERT, FNet, GPT-Neo, RoFormer, ESM, Marian, Pegasus, Qwen2, T5, Whisper
encoder, EfficientNet, MobileNetV2, RegNet, LeViT, PoolFormer, DINOv2, Swinv2, ConvNeXtV2,
GLPN, DPT, UperNet, BEiT, HuBERT, WavLM, Data2VecAudio, Speech2Text, Funnel, PatchTST),
at other opsets (TorchScript 11/13/17, dynamo 18/20 with dynamic shapes), onnxruntime's
optimizer and quantizers on some (ConvInteger, QOperator CNNs, 16-bit QDQ), and scikit-learn
estimators the `ml` category lacks (PCA, KMeans, IsolationForest, MLP, k-NN, naive Bayes, …):

    pip install torch==2.13.0 transformers onnxscript skl2onnx   # generators only; CPU torch
    python benchmarks/holdout_exports.py build .dev/holdout
    python benchmarks/holdout_exports.py run .dev/holdout --json .dev/holdout.json

`run` takes each model through `trt-check --target rtx-1` with the static knowledge base and
with TensorRT-RTX's parser (do the verdicts agree, per node?), `trt-rewrite --auto --target
rtx-1` (verification on), the parser check and `trt-build --compute-capability 89` of the
rewritten model, and `trt-rewrite --auto --target trt-10` + the static check of that result.
`table` prints the Markdown table of docs/fixability.md ("Hold-out exports") from the JSON.
Exporter or quantizer failures are printed as `skip NAME: why` and left out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

TIMEOUT_S = 600
sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixability  # noqa: E402 - its verification/shape helpers, shared

# ---------------------------------------------------------------------------------------------
# build


def _hf_models():
    """name -> (make module, make example inputs, exporter, opset, dynamic axes)."""
    import torch
    import transformers as hf

    text = dict(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=64)  # fmt: skip

    class Call(torch.nn.Module):
        def __init__(self, model, call) -> None:
            super().__init__()
            self.model, self.call = model, call

        def forward(self, *inputs):
            return self.call(self.model, *inputs)

    def first(model):
        return Call(model, lambda m, *x: m(*x)[0])

    def lm(model):
        return Call(model, lambda m, ids: m(input_ids=ids, use_cache=False)[0])

    def masked(model):
        return Call(model, lambda m, ids, mask: m(input_ids=ids, attention_mask=mask)[0])

    def s2s(model):
        return Call(model, lambda m, ids, dec: m(input_ids=ids, decoder_input_ids=dec,
                                                 use_cache=False)[0])  # fmt: skip

    def tokens():
        return (torch.randint(0, 100, (2, 8)),)

    def tokens_mask():
        mask = torch.ones(2, 8, dtype=torch.int64)
        mask[1, 5:] = 0
        return (torch.randint(0, 100, (2, 8)), mask)

    def image(size=32, channels=3):
        return lambda: (torch.randn(1, channels, size, size),)

    def audio():
        return (torch.randn(1, 800),)

    tok2 = {0: {0: "batch", 1: "seq"}, 1: {0: "batch", 1: "seq"}}
    src_tgt = {0: {0: "batch", 1: "src"}, 1: {0: "batch", 1: "tgt"}}
    img = {0: {0: "batch"}}
    s2s_cfg = dict(vocab_size=100, d_model=32, encoder_layers=1, decoder_layers=1,
                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                   decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=0,
                   decoder_start_token_id=0)  # fmt: skip
    audio_cfg = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                     intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2),
                     conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                     num_conv_pos_embedding_groups=4)  # fmt: skip
    return {
        "mobilebert_ts11": (
            lambda: masked(
                hf.MobileBertModel(
                    hf.MobileBertConfig(
                        vocab_size=100,
                        hidden_size=32,
                        embedding_size=16,
                        num_hidden_layers=1,
                        num_attention_heads=4,
                        intermediate_size=64,
                        intra_bottleneck_size=16,
                        true_hidden_size=16,
                        num_feedforward_networks=2,
                        max_position_embeddings=64,
                        attn_implementation="eager",
                    )
                )
            ),
            tokens_mask,
            "ts",
            11,
            tok2,
        ),  # fmt: skip
        "convbert_ts13": (
            lambda: masked(hf.ConvBertModel(hf.ConvBertConfig(**text, embedding_size=32))),
            tokens_mask,
            "ts",
            13,
            tok2,
        ),  # fmt: skip
        "squeezebert_ts17": (
            lambda: masked(
                hf.SqueezeBertModel(
                    hf.SqueezeBertConfig(
                        **text,
                        embedding_size=32,
                        q_groups=2,
                        k_groups=2,
                        v_groups=2,
                        post_attention_groups=2,
                        intermediate_groups=2,
                        output_groups=2,
                    )
                )
            ),
            tokens_mask,
            "ts",
            17,
            tok2,
        ),  # fmt: skip
        "fnet_dynamo18": (
            lambda: Call(
                hf.FNetModel(hf.FNetConfig(**text, use_tpu_fourier_optimizations=False)),
                lambda m, ids: m(input_ids=ids)[0],
            ),
            tokens,
            "dynamo",
            18,
            None,
        ),  # fmt: skip
        "gptneo_dynamo18": (
            lambda: lm(
                hf.GPTNeoModel(
                    hf.GPTNeoConfig(
                        vocab_size=100,
                        hidden_size=32,
                        num_layers=2,
                        num_heads=4,
                        attention_types=[[["global", "local"], 1]],
                        window_size=4,
                        max_position_embeddings=64,
                    )
                )
            ),
            tokens,
            "dynamo",
            18,
            None,
        ),  # fmt: skip
        "roformer_dynamo18_dyn": (
            lambda: masked(hf.RoFormerModel(hf.RoFormerConfig(**text, embedding_size=32))),
            tokens_mask,
            "dynamo",
            18,
            "dyn",
        ),  # fmt: skip
        "esm_ts17": (
            lambda: masked(
                hf.EsmModel(hf.EsmConfig(**text, pad_token_id=1, position_embedding_type="rotary"))
            ),
            tokens_mask,
            "ts",
            17,
            tok2,
        ),  # fmt: skip
        "marian_ts13": (
            lambda: s2s(hf.MarianModel(hf.MarianConfig(**s2s_cfg, attn_implementation="eager"))),
            lambda: (torch.randint(1, 100, (1, 8)), torch.randint(1, 100, (1, 5))),
            "ts",
            13,
            src_tgt,
        ),  # fmt: skip
        "pegasus_dynamo18": (
            lambda: s2s(hf.PegasusModel(hf.PegasusConfig(**s2s_cfg))),
            lambda: (torch.randint(1, 100, (1, 8)), torch.randint(1, 100, (1, 5))),
            "dynamo",
            18,
            None,
        ),  # fmt: skip
        "qwen2_dynamo20_dyn": (
            lambda: lm(hf.Qwen2Model(hf.Qwen2Config(**text, num_key_value_heads=2))),
            tokens,
            "dynamo",
            20,
            "dyn",
        ),  # fmt: skip
        "efficientnet_ts13": (
            lambda: first(
                hf.EfficientNetModel(
                    hf.EfficientNetConfig(
                        image_size=32,
                        width_coefficient=0.25,
                        depth_coefficient=0.25,
                        hidden_dim=320,
                    )
                )
            ),
            image(),
            "ts",
            13,
            img,
        ),  # fmt: skip
        "mobilenetv2_ts11": (
            lambda: first(
                hf.MobileNetV2Model(hf.MobileNetV2Config(image_size=32, depth_multiplier=0.25))
            ),
            image(),
            "ts",
            11,
            img,
        ),  # fmt: skip
        "regnet_dynamo18": (
            lambda: first(
                hf.RegNetModel(
                    hf.RegNetConfig(
                        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8
                    )
                )
            ),
            image(),
            "dynamo",
            18,
            None,
        ),  # fmt: skip
        "levit_ts17": (
            lambda: first(
                hf.LevitModel(
                    hf.LevitConfig(
                        image_size=64,
                        hidden_sizes=[32, 48],
                        num_attention_heads=[2, 3],
                        depths=[1, 1],
                        key_dim=[8, 8],
                        mlp_ratio=[2, 2],
                        attention_ratio=[2, 2],
                        patch_size=16,
                        down_ops=[["Subsample", 8, 2, 4, 2, 2]],
                    )
                )
            ),
            image(64),
            "ts",
            17,
            img,
        ),  # fmt: skip
        "poolformer_ts13": (
            lambda: first(
                hf.PoolFormerModel(
                    hf.PoolFormerConfig(
                        hidden_sizes=[8, 16],
                        depths=[1, 1],
                        num_encoder_blocks=2,
                        patch_sizes=[7, 3],
                        strides=[4, 2],
                        padding=[2, 1],
                    )
                )
            ),
            image(),
            "ts",
            13,
            img,
        ),  # fmt: skip
        "dinov2_dynamo18_dyn": (
            lambda: first(
                hf.Dinov2Model(
                    hf.Dinov2Config(
                        image_size=32,
                        patch_size=8,
                        hidden_size=32,
                        num_hidden_layers=1,
                        num_attention_heads=4,
                        mlp_ratio=2,
                    )
                )
            ),
            lambda: (torch.randn(2, 3, 32, 32),),
            "dynamo",
            18,
            "dyn",
        ),  # fmt: skip
        "dinov2_ts17": (
            lambda: first(
                hf.Dinov2Model(
                    hf.Dinov2Config(
                        image_size=32,
                        patch_size=8,
                        hidden_size=32,
                        num_hidden_layers=1,
                        num_attention_heads=4,
                        mlp_ratio=2,
                    )
                )
            ),
            image(48),
            "ts",
            17,
            img,
        ),  # fmt: skip
        "swinv2_ts17": (
            lambda: first(
                hf.Swinv2Model(
                    hf.Swinv2Config(
                        image_size=32,
                        patch_size=4,
                        embed_dim=16,
                        depths=[1, 1],
                        num_heads=[2, 2],
                        window_size=4,
                    )
                )
            ),
            image(),
            "ts",
            17,
            img,
        ),  # fmt: skip
        "convnextv2_dynamo20": (
            lambda: first(
                hf.ConvNextV2Model(
                    hf.ConvNextV2Config(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)
                )
            ),
            image(),
            "dynamo",
            20,
            None,
        ),  # fmt: skip
        "glpn_ts13": (
            lambda: Call(
                hf.GLPNForDepthEstimation(
                    hf.GLPNConfig(
                        num_encoder_blocks=2,
                        depths=[1, 1],
                        sr_ratios=[2, 1],
                        hidden_sizes=[8, 16],
                        patch_sizes=[7, 3],
                        strides=[4, 2],
                        num_attention_heads=[1, 2],
                        mlp_ratios=[2, 2],
                        decoder_hidden_size=16,
                    )
                ),
                lambda m, x: m(pixel_values=x).predicted_depth,
            ),
            image(),
            "ts",
            13,
            img,
        ),  # fmt: skip
        "hubert_ts13": (
            lambda: first(
                hf.HubertModel(
                    hf.HubertConfig(
                        **audio_cfg, feat_extract_norm="group", attn_implementation="eager"
                    )
                )
            ),
            audio,
            "ts",
            13,
            {0: {0: "batch", 1: "samples"}},
        ),  # fmt: skip
        "wavlm_ts17": (
            lambda: first(
                hf.WavLMModel(hf.WavLMConfig(**audio_cfg, num_buckets=32, max_bucket_distance=64))
            ),
            audio,
            "ts",
            17,
            {0: {0: "batch"}},
        ),  # fmt: skip
        "patchtst_ts13": (
            lambda: Call(
                hf.PatchTSTModel(
                    hf.PatchTSTConfig(
                        num_input_channels=3,
                        context_length=32,
                        patch_length=8,
                        patch_stride=8,
                        d_model=16,
                        num_attention_heads=2,
                        num_hidden_layers=1,
                        ffn_dim=32,
                        attn_implementation="eager",
                    )
                ),
                lambda m, x: m(past_values=x).last_hidden_state,
            ),
            lambda: (torch.randn(2, 32, 3),),
            "ts",
            13,
            {0: {0: "batch"}},
        ),  # fmt: skip
        "t5_ts13": (
            lambda: s2s(
                hf.T5Model(
                    hf.T5Config(
                        vocab_size=100,
                        d_model=32,
                        d_ff=64,
                        d_kv=8,
                        num_layers=1,
                        num_heads=4,
                        attn_implementation="eager",
                    )
                )
            ),
            lambda: (torch.randint(1, 100, (1, 8)), torch.randint(1, 100, (1, 5))),
            "ts",
            13,
            src_tgt,
        ),  # fmt: skip
        "whisper_encoder_ts11": (
            lambda: first(
                hf.WhisperModel(
                    hf.WhisperConfig(
                        num_mel_bins=8,
                        max_source_positions=16,
                        max_target_positions=16,
                        attn_implementation="eager",
                        **{k: v for k, v in s2s_cfg.items() if k != "max_position_embeddings"},
                    )
                ).get_encoder()
            ),
            lambda: (torch.randn(1, 8, 32),),
            "ts",
            11,
            {0: {0: "batch"}},
        ),  # fmt: skip
        "dpt_ts11": (
            lambda: Call(
                hf.DPTForDepthEstimation(
                    hf.DPTConfig(
                        image_size=32,
                        patch_size=8,
                        hidden_size=32,
                        num_hidden_layers=4,
                        num_attention_heads=4,
                        intermediate_size=64,
                        backbone_out_indices=[0, 1, 2, 3],
                        neck_hidden_sizes=[8, 16, 16, 32],
                        fusion_hidden_size=16,
                        attn_implementation="eager",
                    )
                ),
                lambda m, x: m(pixel_values=x).predicted_depth,
            ),
            image(),
            "ts",
            11,
            img,
        ),  # fmt: skip
        "funnel_ts13": (
            lambda: masked(
                hf.FunnelBaseModel(
                    hf.FunnelConfig(
                        vocab_size=100,
                        d_model=32,
                        n_head=4,
                        d_head=8,
                        d_inner=64,
                        block_sizes=[1, 1],
                        num_decoder_layers=1,
                    )
                )
            ),
            tokens_mask,
            "ts",
            13,
            tok2,
        ),  # fmt: skip
        "speech2text_encoder_ts13": (
            lambda: first(
                hf.Speech2TextModel(
                    hf.Speech2TextConfig(
                        vocab_size=100,
                        d_model=32,
                        encoder_layers=1,
                        decoder_layers=1,
                        encoder_attention_heads=4,
                        decoder_attention_heads=4,
                        encoder_ffn_dim=64,
                        decoder_ffn_dim=64,
                        input_feat_per_channel=8,
                        conv_channels=16,
                        max_source_positions=64,
                        attn_implementation="eager",
                    )
                ).get_encoder()
            ),
            lambda: (torch.randn(1, 24, 8),),
            "ts",
            13,
            {0: {0: "batch", 1: "frames"}},
        ),
        "data2vec_audio_ts17": (
            lambda: first(
                hf.Data2VecAudioModel(
                    hf.Data2VecAudioConfig(**{**audio_cfg, "num_conv_pos_embeddings": 5})
                )
            ),
            audio,
            "ts",
            17,
            {0: {0: "batch", 1: "samples"}},
        ),
        "beit_ts11": (
            lambda: first(
                hf.BeitModel(
                    hf.BeitConfig(
                        image_size=32,
                        patch_size=8,
                        hidden_size=32,
                        num_hidden_layers=1,
                        num_attention_heads=4,
                        intermediate_size=64,
                        use_relative_position_bias=True,
                        attn_implementation="eager",
                    )
                )
            ),
            image(),
            "ts",
            11,
            img,
        ),  # fmt: skip
        "upernet_convnext_dynamo18": (
            lambda: Call(
                hf.UperNetForSemanticSegmentation(
                    hf.UperNetConfig(
                        backbone_config=hf.ConvNextConfig(
                            hidden_sizes=[8, 16, 16, 32],
                            depths=[1, 1, 1, 1],
                            out_features=["stage1", "stage2", "stage3", "stage4"],
                        ),
                        hidden_size=16,
                        auxiliary_in_channels=16,
                        num_labels=3,
                        pool_scales=[1, 2, 4],
                    )
                ),
                lambda m, x: m(pixel_values=x).logits,
            ),
            image(64),
            "dynamo",
            18,
            None,
        ),  # fmt: skip
    }


def _export(out: Path) -> None:
    import torch

    for name, (make, example, exporter, opset, axes) in _hf_models().items():
        path = out / f"{name}.onnx"
        if path.exists() and path.with_suffix(".shapes.json").exists():
            continue
        try:
            torch.manual_seed(0)
            inputs = example()
            names = [f"in{i}" for i in range(len(inputs))]
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                warnings.simplefilter("ignore")
                module = make().eval()
                if exporter == "dynamo":
                    shapes = None
                    if axes == "dyn":  # batch dynamic, the rest as exported
                        batch = torch.export.Dim("batch", min=1, max=64)
                        shapes = (tuple({0: batch} for _ in inputs),)  # forward(*inputs)
                    torch.onnx.export(module, inputs, str(path), dynamo=True,
                                      opset_version=opset, input_names=names,
                                      dynamic_shapes=shapes, external_data=False)  # fmt: skip
                else:
                    dyn = {names[i]: a for i, a in (axes or {}).items()}
                    torch.onnx.export(module, inputs, str(path), dynamo=False,
                                      opset_version=opset, input_names=names,
                                      dynamic_axes=dyn)  # fmt: skip
            # the example's shapes for trt-build's profile (a 16-sample waveform is too short)
            shapes = {n: list(t.shape) for n, t in zip(names, inputs, strict=True)}
            path.with_suffix(".shapes.json").write_text(json.dumps(shapes))
            print(f"wrote {path.name}")
        except Exception as err:  # noqa: BLE001 - an exporter limit: recorded, skipped
            why = " ".join(str(err).split())
            print(f"skip {name}: {type(err).__name__}: {why[:160]} ... {why[-200:]}")
            path.unlink(missing_ok=True)


class _Feeds:
    """onnxruntime calibration data: two random feeds (dynamic dims as 1 / 8)."""

    def __init__(self, path: str) -> None:
        import numpy as np
        import onnx

        model = onnx.load(path)
        rng = np.random.default_rng(0)
        self.feeds = []
        for _ in range(2):
            feed = {}
            for i, value in enumerate(model.graph.input):
                tensor = value.type.tensor_type
                shape = [d.dim_value or (1 if j == 0 else 800 if i == 0 and len(tensor.shape.dim)
                         == 2 and tensor.elem_type == 1 else 8)
                         for j, d in enumerate(tensor.shape.dim)]  # fmt: skip
                if tensor.elem_type == onnx.TensorProto.INT64:
                    feed[value.name] = rng.integers(1, 50, shape).astype(np.int64)
                else:
                    feed[value.name] = rng.standard_normal(shape).astype(np.float32)
            self.feeds.append(feed)
        self._next = iter(self.feeds)

    def get_next(self):
        return next(self._next, None)


def _onnxruntime_variants(out: Path) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger().setLevel(logging.ERROR)

    def optimized(src, model_type, fp16=False, heads=4, hidden=32):
        def make(dst):
            model = optimize_model(src, model_type=model_type, num_heads=heads,
                                   hidden_size=hidden)  # fmt: skip
            if fp16:
                model.convert_float_to_float16(keep_io_types=True)
            model.save_model_to_file(dst)

        return make

    def static(src, fmt, act, weight, per_channel=False):
        return lambda dst: quantize_static(src, dst, _Feeds(src), quant_format=fmt,
                                           activation_type=act, weight_type=weight,
                                           per_channel=per_channel)  # fmt: skip

    def dynamic(src, weight, per_channel=False, ops=None):
        return lambda dst: quantize_dynamic(src, dst, weight_type=weight,
                                            per_channel=per_channel,
                                            op_types_to_quantize=ops)  # fmt: skip

    def p(name):
        return str(out / f"{name}.onnx")

    variants = {
        "mobilebert_ts11_ort": optimized(p("mobilebert_ts11"), "bert", hidden=16),
        "convbert_ts13_ort_fp16": optimized(p("convbert_ts13"), "bert", fp16=True),
        "gptneo_dynamo18_ort": optimized(p("gptneo_dynamo18"), "gpt2"),
        "marian_ts13_ort": optimized(p("marian_ts13"), "bart"),
        "swinv2_ts17_ort": optimized(p("swinv2_ts17"), "swin", heads=2, hidden=16),
        "mobilenetv2_ts11_qdq_pc": static(
            p("mobilenetv2_ts11"),
            QuantFormat.QDQ,
            QuantType.QUInt8,
            QuantType.QInt8,
            per_channel=True,
        ),
        "poolformer_ts13_qdq_s16": static(
            p("poolformer_ts13"), QuantFormat.QDQ, QuantType.QInt16, QuantType.QInt8
        ),
        "hubert_ts13_dyn_conv": dynamic(p("hubert_ts13"), QuantType.QUInt8, ops=["Conv", "MatMul"]),
        "t5_ts13_ort_fp16": optimized(p("t5_ts13"), "t5", fp16=True),
        "esm_ts17_dyn_pc": dynamic(p("esm_ts17"), QuantType.QInt8, per_channel=True),
        "regnet_dynamo18_qop_s8": static(
            p("regnet_dynamo18"), QuantFormat.QOperator, QuantType.QInt8, QuantType.QInt8
        ),
    }
    for name, make in variants.items():
        if Path(p(name)).exists():
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                make(p(name))
            print(f"wrote {name}.onnx")
        except Exception as err:  # noqa: BLE001 - an optimizer/quantizer limit
            print(f"skip {name}: {type(err).__name__}: {str(err)[:160]}")
            Path(p(name)).unlink(missing_ok=True)


def _sklearn(out: Path) -> None:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn import (
        cluster,
        decomposition,
        discriminant_analysis,
        ensemble,
        linear_model,
        naive_bayes,
        neighbors,
        neural_network,
        pipeline,
        preprocessing,
        svm,
    )
    from sklearn.datasets import make_classification, make_regression

    rng = np.random.default_rng(0)
    xc, yc = make_classification(200, 8, n_informative=5, n_classes=3, random_state=0)
    xr, yr = make_regression(200, 8, random_state=0)
    xc, xr = xc.astype(np.float32), xr.astype(np.float32)
    nozip = {"zipmap": False}
    models = {
        "skl_scaler_pca_svc": (pipeline.make_pipeline(preprocessing.StandardScaler(),
            decomposition.PCA(4), svm.SVC(probability=True)), xc, yc, nozip),
        "skl_isolation_forest": (ensemble.IsolationForest(n_estimators=10, random_state=0),
                                 xc, None, None),
        "skl_scaler_kmeans": (pipeline.make_pipeline(preprocessing.StandardScaler(),
            cluster.KMeans(4, n_init=2, random_state=0)), xc, None, None),
        "skl_poly_rf_regressor": (pipeline.make_pipeline(preprocessing.MinMaxScaler(),
            preprocessing.PolynomialFeatures(2), ensemble.RandomForestRegressor(10,
            max_depth=5, random_state=0)), xr, yr, None),
        "skl_mlp_3class": (neural_network.MLPClassifier((16,), max_iter=50, random_state=0),
                           xc, yc, nozip),
        "skl_knn_regressor": (neighbors.KNeighborsRegressor(3), xr, yr, None),
        "skl_gaussian_nb": (naive_bayes.GaussianNB(), xc, yc, nozip),
        "skl_oneclass_svm": (svm.OneClassSVM(), xc, None, None),
        "skl_extra_trees_3class": (ensemble.ExtraTreesClassifier(10, max_depth=4,
                                   random_state=0), xc, yc, None),
        "skl_adaboost_regressor": (ensemble.AdaBoostRegressor(n_estimators=5, random_state=0),
                                   xr, yr, None),
        "skl_gb_regressor_opset13": (ensemble.GradientBoostingRegressor(n_estimators=10),
                                     xr, yr, "opset13"),
        "skl_knn_3class": (neighbors.KNeighborsClassifier(5), xc, yc, nozip),
        "skl_bernoulli_nb": (naive_bayes.BernoulliNB(), xc, yc, nozip),
        "skl_svd_ridge": (pipeline.make_pipeline(decomposition.TruncatedSVD(4),
                                                 linear_model.Ridge()), xr, yr, None),
        "skl_lda_3class": (discriminant_analysis.LinearDiscriminantAnalysis(), xc, yc, nozip),
        "skl_voting_soft": (ensemble.VotingClassifier([("lr", linear_model.LogisticRegression()),
            ("dt", ensemble.RandomForestClassifier(5, max_depth=3, random_state=0))],
            voting="soft", flatten_transform=False), xc, yc, nozip),
        "skl_sgd_binary": (linear_model.SGDClassifier(loss="log_loss", random_state=0), xc,
                           (yc > 0).astype(int), nozip),
    }  # fmt: skip
    del rng
    for name, (est, x, y, options) in models.items():
        if (out / f"{name}.onnx").exists():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(x, y) if y is not None else est.fit(x)
                kw = {"target_opset": {"": 13 if options == "opset13" else 17, "ai.onnx.ml": 3}}
                if isinstance(options, dict):
                    kw["options"] = {id(est if not hasattr(est, "steps") else est.steps[-1][1]):
                                     options}  # fmt: skip
                onx = to_onnx(est, x[:1], **kw)
            (out / f"{name}.onnx").write_bytes(onx.SerializeToString())
            print(f"wrote {name}.onnx")
        except Exception as err:  # noqa: BLE001
            print(f"skip {name}: {type(err).__name__}: {str(err)[:160]}")


def build(out: Path, parts: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if "hf" in parts:
        _export(out)
    if "ort" in parts:
        _onnxruntime_variants(out)
    if "sklearn" in parts:
        _sklearn(out)


# ---------------------------------------------------------------------------------------------
# run


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [name]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, TRTFORGE_TRT_FLAVOUR="tensorrt_rtx")
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {TIMEOUT_S} s")


def _last(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "Traceback" in ln]
    return (errors or lines or [""])[-1][:300]


def _check(model: Path, backend: str, target: str = "rtx-1") -> tuple[dict | None, str]:
    """Node name -> verdict status, or None with the tool's reason."""
    proc = _run([*_tool("trt-check"), str(model), "--backend", backend, "--target", target,
                 "--format", "json", "--no-advice"])  # fmt: skip
    if proc.returncode not in (0, 1):
        return None, f"exit {proc.returncode}: {_last(proc)}"
    report = json.loads(proc.stdout)
    nodes = report.get("nodes") or []
    verdicts = {}
    for i, node in enumerate(nodes):
        key = f"{i}:{node.get('op_type') or node.get('op')}"
        judged = not any(r.get("code") == "parser/not-judged" for r in node.get("reasons", []))
        verdicts[key] = node.get("status") if judged else "not-judged"
    verdicts["<model>"] = "supported" if report.get("supported") else "unsupported"
    return verdicts, ""


def _unsupported(verdicts: dict | None) -> int | None:
    if verdicts is None:
        return None
    return sum(1 for k, v in verdicts.items() if v == "unsupported" and k != "<model>")


def process(model: Path, work: Path) -> dict:
    stem = work / model.stem
    res: dict = {"model": model.name}
    t0 = time.time()
    static, why = _check(model, "static")
    parser, why_p = _check(model, "parser")
    for side, verdicts in (("static", static), ("parser", parser)):
        res[f"{side}_supported"] = None if verdicts is None else verdicts["<model>"] == "supported"
    res["static_unsupported"] = _unsupported(static)
    res["parser_unsupported"] = _unsupported(parser)
    res["check_errors"] = [w for w in (why, why_p) if w]
    if static is not None and parser is not None:
        diff = [
            (k, static.get(k), parser.get(k))
            for k in static
            if parser.get(k) != "not-judged"
            and (static.get(k) == "unsupported") != (parser.get(k) == "unsupported")
        ]
        res["disagree"] = [f"{k}: static {s} / parser {p}" for k, s, p in diff][:10]
    out, report = stem.with_suffix(".rtx.onnx"), stem.with_suffix(".rtx.json")
    proc = _run([*_tool("trt-rewrite"), str(model), "--auto", "--target", "rtx-1", "-o",
                 str(out), "--report", str(report)])  # fmt: skip
    res["rewrite_rc"] = proc.returncode
    if proc.returncode != 0:
        res["rewrite_error"] = _last(proc)
    if report.exists():
        res["verification"], res["passes"] = fixability._verification(report)
    if out.exists():
        import onnx

        try:
            onnx.checker.check_model(str(out), full_check=True)
        except Exception as err:  # noqa: BLE001
            res["checker"] = str(err)[:200]
        after, why = _check(out, "parser")
        res["after_parser_unsupported"] = _unsupported(after)
        res["after_parser_supported"] = None if after is None else after["<model>"] == "supported"
        after_s, _ = _check(out, "static")
        res["after_static_unsupported"] = _unsupported(after_s)
        if why:
            res["after_error"] = why
        proc = _run([*_tool("trt-build"), str(out), "-o", str(stem.with_suffix(".plan")),
                     "--compute-capability", "89",
                     *fixability._build_shapes(out, model, report)])  # fmt: skip
        res["builds"] = proc.returncode == 0
        if proc.returncode != 0:
            res["build_error"] = _last(proc)
        stem.with_suffix(".plan").unlink(missing_ok=True)
    out10 = stem.with_suffix(".trt10.onnx")
    proc = _run([*_tool("trt-rewrite"), str(model), "--auto", "--target", "trt-10", "-o",
                 str(out10)])  # fmt: skip
    res["trt10_rewrite_rc"] = proc.returncode
    if proc.returncode != 0:
        res["trt10_rewrite_error"] = _last(proc)
    if out10.exists():
        v, why = _check(out10, "static", "trt-10")
        res["trt10_after_static_unsupported"] = _unsupported(v)
    res["seconds"] = round(time.time() - t0, 1)
    return res


def run(root: Path, json_path: Path | None, only: list[str]) -> None:
    work = root / "_work"
    work.mkdir(exist_ok=True)
    results = []
    if json_path and json_path.exists():
        results = [r for r in json.loads(json_path.read_text())["results"]
                   if not only or r["model"] not in only]  # fmt: skip
    done = {r["model"] for r in results}
    for model in sorted(root.glob("*.onnx")):
        if (only and model.name not in only) or model.name in done:
            continue
        res = process(model, work)
        print(json.dumps(res), flush=True)
        results.append(res)
        if json_path:
            json_path.write_text(json.dumps({"results": results}, indent=1))


def _exporter(name: str) -> str:
    """'TorchScript 13 + ORT optimizer fp16' and the like, from the model's file name."""
    import re

    if name.startswith("skl_"):
        return "skl2onnx, opset 13" if "opset13" in name else "skl2onnx, opset 17"
    m = re.search(r"_(ts|dynamo)(\d+)", name)
    text = f"{'TorchScript' if m.group(1) == 'ts' else 'dynamo'} {m.group(2)}" if m else "?"
    rest = name[m.end() :] if m else ""
    if rest == "_dyn":
        text += ", dynamic batch"
    extra = {
        "_ort": " + ORT optimizer",
        "_fp16": " fp16",
        "_dyn_conv": " + quantize_dynamic (Conv, MatMul; UINT8)",
        "_dyn_pc": " + quantize_dynamic (per channel, INT8)",
        "_qdq_pc": " + quantize_static QDQ (per channel)",
        "_qdq_s16": " + quantize_static QDQ (INT16 activations)",
        "_qop_s8": " + quantize_static QOperator (INT8)",
    }
    for suffix, words in extra.items():
        if suffix in rest:
            text += words
    return text


def table(results: list[dict]) -> str:
    """The Markdown table of docs/fixability.md's hold-out section."""

    def yes(v) -> str:
        return "–" if v is None else ("yes" if v else "**no**")

    rows = [
        "| model | exporter / opset | static = parser | unsupported before → after `--auto` "
        "| verified | parses | builds (SM89) | trt-10: after `--auto` |",
        "| --- | --- | --- | ---: | --- | --- | --- | ---: |",
    ]
    for r in sorted(results, key=lambda r: r["model"]):
        same = r.get("static_supported") == r.get("parser_supported") and not r.get("disagree")
        after = r.get("after_static_unsupported")
        moved = f"{r['static_unsupported']} → {'–' if after is None else after}"
        parses = r.get("after_parser_supported", None if after is None else r.get("builds"))
        if r.get("rewrite_rc"):
            verified = (
                "refused (invalid input)"
                if "not a valid" in r.get("rewrite_error", "")
                else "refused"
            )
        else:
            verified = {"not needed (graph unchanged)": "unchanged"}.get(
                r.get("verification"), r.get("verification")
            )
        t10 = r.get("trt10_after_static_unsupported")
        rows.append(
            f"| `{r['model'][:-5]}` | {_exporter(r['model'][:-5])} | {yes(same)} | {moved} "
            f"| {verified} | {yes(parses)} | {yes(r.get('builds'))} "
            f"| {'–' if t10 is None else t10} |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out", type=Path)
    b.add_argument("--part", action="append", choices=["hf", "ort", "sklearn"])
    r = sub.add_parser("run")
    r.add_argument("root", type=Path)
    r.add_argument("--json", type=Path)
    r.add_argument("--only", action="append", default=[])
    t = sub.add_parser("table")
    t.add_argument("json", type=Path)
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.out, args.part or ["hf", "ort", "sklearn"])
    elif args.cmd == "table":
        print(table(json.loads(args.json.read_text())["results"]))
    else:
        run(args.root, args.json, args.only)


if __name__ == "__main__":
    main()
