"""Two small transformers exported by PyTorch's dynamo exporter, the sources of the
"dynamo exports side by side" rows of docs/benchmarks.md.

The exporter (`torch.onnx.export(..., dynamo=True)`, the default from torch 2.9) writes value_info
for every tensor, the weights among them, a stack trace and the FX node as metadata on every
node, and attention's reshapes as Concat(Shape(x, start, end), constants) -> Reshape: what a
deployment engineer's model looks like today. Needs torch and onnxscript (not test extras):

    python -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.13.0 onnxscript onnx==1.23.2
    /tmp/torch/bin/python benchmarks/export_dynamo.py OUT_DIR
    python -c "from benchmarks.check_scale import make_side_by_side as m; \\
        from pathlib import Path as P; \\
        m(P('OUT_DIR/llm_dyn_sbs.onnx'), 100_000, P('OUT_DIR/llm_dyn.onnx'))"

`llm_dyn.onnx`: a 4-block decoder (RMSNorm, fused QKV split three ways, causal mask by Trilu and
Where, SiLU-gated MLP), batch and sequence dynamic. `enc_dyn.onnx`: torch.nn.TransformerEncoder
(4 layers, batch_first), batch and sequence dynamic.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn


class _RMSNorm(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class _Block(nn.Module):
    def __init__(self, width: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = _RMSNorm(width), _RMSNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        self.up = nn.Linear(width, 4 * width, bias=False)
        self.gate = nn.Linear(width, 4 * width, bias=False)
        self.down = nn.Linear(4 * width, width, bias=False)

    def forward(self, x):
        batch, seq, width = x.shape
        head = width // self.heads
        q, k, v = (
            t.view(batch, seq, self.heads, head).transpose(1, 2)
            for t in self.qkv(self.norm1(x)).split(width, -1)
        )
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(head)
        mask = torch.triu(torch.ones(seq, seq, dtype=torch.bool), 1)
        attended = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.out(attended.transpose(1, 2).reshape(batch, seq, width))
        normed = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(normed)) * self.up(normed))


class _Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        self.blocks = nn.ModuleList([_Block() for _ in range(4)])
        self.head = nn.Linear(64, 1000)

    def forward(self, ids):
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)


def main(out: Path) -> None:
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=4096)
    decoder, encoder = _Decoder().eval(), _Encoder().eval()
    torch.onnx.export(
        decoder,
        (torch.randint(0, 1000, (2, 16)),),
        str(out / "llm_dyn.onnx"),
        dynamo=True,
        dynamic_shapes={"ids": {0: batch, 1: seq}},
        external_data=False,
    )
    torch.onnx.export(
        encoder,
        (torch.randn(2, 16, 64),),
        str(out / "enc_dyn.onnx"),
        dynamo=True,
        dynamic_shapes={"x": {0: batch, 1: seq}},
        external_data=False,
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: export_dynamo.py OUT_DIR")
    main(Path(sys.argv[1]))
