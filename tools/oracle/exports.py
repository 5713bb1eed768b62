"""Held-out corpus of real exporter output: small PyTorch models exported with torch.onnx.

Not part of the acceptance corpus (it needs torch, which is not a test dependency). It checks
the knowledge base on graphs as exporters write them — decomposed norms, shape arithmetic,
dynamic batch/sequence dims, attention blocks — rather than on single-op test cases.

Each model is exported twice where the exporter manages: the TorchScript exporter
(`dynamo=False`, opset 17, dynamic batch/sequence axes) and the torch.export-based exporter
(`dynamo=True`, opset 18). Models from `transformers` use tiny random configs (no download).
Exports are cached in `$XDG_CACHE_HOME/trtforge/exports-torch<version>/`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("trtforge.oracle")


def _cache_dir() -> Path:
    import torch

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trtforge" / f"exports-torch{torch.__version__.split('+')[0]}"


def _torch_models() -> list[tuple[str, Callable, Callable, dict]]:
    """(name, make module, make example inputs, dynamic axes {input index: {dim: name}})."""
    import torch
    from torch import nn

    class ConvNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Hardswish(),
                nn.Conv2d(8, 16, 1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                nn.Dropout(0.1), nn.Linear(16, 10),
            )  # fmt: skip

        def forward(self, x):
            return torch.softmax(self.body(x), dim=-1)

    class ResBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(8, 8, 3, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.n = nn.GroupNorm(2, 8)

        def forward(self, x):
            return torch.relu(x + self.n(self.b(torch.relu(self.a(x)))))

    class UNetUp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
            self.norm = nn.InstanceNorm2d(4, affine=True)

        def forward(self, x, skip):
            y = self.norm(self.up(x))
            y = torch.cat([y, nn.functional.interpolate(skip, size=y.shape[-2:])], dim=1)
            return nn.functional.interpolate(y, scale_factor=2.0, mode="bilinear")

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 16, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(32, 16, batch_first=True)
            self.out = nn.Linear(16, 5)

        def forward(self, ids):
            h, _ = self.lstm(self.emb(ids))
            h, _ = self.gru(h)
            logits = self.out(h)
            return logits.argmax(-1), torch.topk(logits, 2, dim=-1).values

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, activation="gelu")
            self.norm = nn.LayerNorm(32)

        def forward(self, x, mask):
            return self.norm(self.layer(x, src_key_padding_mask=mask))

    class Mlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(32, 64)
            self.b = nn.Linear(64, 32)

        def forward(self, x):
            h = nn.functional.gelu(self.a(x), approximate="tanh")
            rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
            return self.b(h) + rms

    class Indexing(nn.Module):
        def forward(self, x, idx):
            y = torch.gather(x, 1, idx)
            z = x.masked_fill(x > 0.5, 0.0).cumsum(dim=1)
            w = torch.einsum("bij,bkj->bik", x, z)
            return y, w.flip(-1), x[:, 1:-1:2], torch.where(x > 0, x, -x).clamp(-1, 1)

    class DataDependent(nn.Module):
        def forward(self, x):
            keep = torch.nonzero(x > 0)
            return keep, x.sort(dim=-1).values, torch.unique(x.round())

    class PixelShuffle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 16, 3, padding=1)
            self.ps = nn.PixelShuffle(2)

        def forward(self, x):
            return torch.nn.functional.pad(self.ps(self.conv(x)), (1, 1, 1, 1), mode="reflect")

    batch = {0: "batch"}
    return [
        ("convnet", ConvNet, lambda: (torch.randn(2, 3, 32, 32),), {0: batch}),
        ("resblock", ResBlock, lambda: (torch.randn(2, 8, 16, 16),), {0: batch}),
        ("unet_up", UNetUp, lambda: (torch.randn(1, 8, 8, 8), torch.randn(1, 4, 4, 4)), {}),
        ("tagger", Tagger, lambda: (torch.randint(0, 50, (2, 7)),), {0: {0: "b", 1: "s"}}),
        (
            "encoder",
            Encoder,
            lambda: (torch.randn(2, 6, 32), torch.zeros(2, 6, dtype=torch.bool)),
            {0: {0: "b", 1: "s"}, 1: {0: "b", 1: "s"}},
        ),
        ("mlp", Mlp, lambda: (torch.randn(2, 5, 32),), {0: {0: "b", 1: "s"}}),
        (
            "indexing",
            Indexing,
            lambda: (torch.rand(2, 6, 6), torch.randint(0, 6, (2, 3, 6))),
            {},
        ),
        ("data_dependent", DataDependent, lambda: (torch.randn(3, 5),), {}),
        ("pixel_shuffle", PixelShuffle, lambda: (torch.randn(1, 4, 8, 8),), {0: batch}),
    ]


def _transformers_models() -> list[tuple[str, Callable, Callable, dict]]:
    try:
        import torch
        import transformers
    except ImportError:
        return []
    from torch import nn

    def wrap(make_model):
        class Wrapped(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = make_model()
                self.model.eval()

            def forward(self, ids):
                return self.model(input_ids=ids, use_cache=False).last_hidden_state

        return Wrapped

    def tiny(name, config_cls, model_cls, **kw):
        config = getattr(transformers, config_cls)(**kw)
        return (
            name,
            wrap(lambda: getattr(transformers, model_cls)(config)),
            lambda: (torch.randint(0, 100, (1, 8)),),
            {0: {0: "b", 1: "s"}},
        )

    small = {"num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 100}
    return [
        tiny("bert", "BertConfig", "BertModel", hidden_size=32, intermediate_size=64, **small),
        tiny("gpt2", "GPT2Config", "GPT2Model", n_embd=32, n_layer=1, n_head=4, vocab_size=100),
        tiny(
            "llama",
            "LlamaConfig",
            "LlamaModel",
            hidden_size=32,
            intermediate_size=64,
            num_key_value_heads=2,
            **small,
        ),  # fmt: skip
        tiny(
            "qwen2",
            "Qwen2Config",
            "Qwen2Model",
            hidden_size=32,
            intermediate_size=64,
            num_key_value_heads=2,
            **small,
        ),  # fmt: skip
        tiny(
            "t5_encoder",
            "T5Config",
            "T5EncoderModel",
            d_model=32,
            d_ff=64,
            d_kv=8,
            num_layers=1,
            num_heads=4,
            vocab_size=100,
        ),  # fmt: skip
    ]


def _export(module, inputs, dynamic: dict, path: Path, dynamo: bool) -> None:
    import torch

    names = [f"in{i}" for i in range(len(inputs))]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, inputs, str(path), dynamo=True, opset_version=18,
                              input_names=names, external_data=False)  # fmt: skip
        else:
            torch.onnx.export(
                module, inputs, str(path), dynamo=False, opset_version=17, input_names=names,
                dynamic_axes={names[i]: axes for i, axes in dynamic.items()},
            )  # fmt: skip


def export_models() -> Iterator[tuple[str, Path]]:
    """Exports (or takes from the cache) every model; yields (name, path)."""
    try:
        import torch
    except ImportError:
        log.warning("torch is not installed: no `torch` corpus")
        return
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, make, example, dynamic in _torch_models() + _transformers_models():
        for dynamo in (False, True):
            tag = f"{name}_{'dynamo18' if dynamo else 'ts17'}"
            path = folder / f"{tag}.onnx"
            failed = folder / f"{tag}.failed"
            if not path.exists() and not failed.exists():
                try:
                    module = make().eval()
                    _export(module, example(), dynamic, path, dynamo)
                except Exception as err:  # noqa: BLE001 - an exporter limit, not ours
                    failed.write_text(f"{type(err).__name__}: {err}"[:2000])
                    path.unlink(missing_ok=True)
                    log.info("export %s failed: %s", tag, type(err).__name__)
            if path.exists():
                yield f"torch/{tag}", path
