"""Hold-out check of the knowledge base: models it was never tuned on, exported from PyTorch.

Exports 16 small PyTorch modules (CNN, LSTM/GRU, transformer encoder, boolean masking, indexing,
interpolation, einsum/pad/grid_sample, dynamic reshapes, sort, unique, activations, fp16,
pooling, max-pool indices, group/instance norm, integer bit ops) at several opsets with the
TorchScript exporter, into a folder that the oracle scores against the installed parser:

    pip install torch==2.13.0          # CPU build; any other spec pulls CUDA packages
    python benchmarks/holdout_export.py /tmp/holdout
    python -m tools.oracle --sources fixture --fixtures /tmp/holdout

Results are recorded in docs/knowledge-base.md ("Hold-out check").
"""

import os
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.manual_seed(0)
out = sys.argv[1] if len(sys.argv) > 1 else "holdout"
os.makedirs(out, exist_ok=True)


class CNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 8, 3, padding=1)
        s.bn = nn.BatchNorm2d(8)
        s.c2 = nn.Conv2d(8, 16, 3, stride=2, groups=2)
        s.fc = nn.Linear(16, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.bn(s.c1(x))), 2)
        x = F.hardswish(s.c2(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.log_softmax(s.fc(x), -1)


class RNNs(nn.Module):
    def __init__(s):
        super().__init__()
        s.l = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        s.g = nn.GRU(32, 8, batch_first=True)

    def forward(s, x):
        y, _ = s.l(x)
        z, _ = s.g(y)
        return z


class Enc(nn.Module):
    def __init__(s):
        super().__init__()
        s.e = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, activation="gelu")

    def forward(s, x):
        return s.e(x)


class Mask(nn.Module):
    def forward(s, x):
        return x[x > 0].sum() + torch.nonzero(x).float().mean()


class Index(nn.Module):
    def forward(s, x, i):
        v, idx = torch.topk(x, 3, dim=-1)
        a = torch.argmax(x, -1, keepdim=True).float()
        c = torch.cumsum(x, -1)
        g = torch.gather(x, 1, i)
        sc = torch.zeros_like(x).scatter(1, i, g)
        return v + a[:, :1].expand(-1, 3) + c[:, :3] + g[:, :3] + sc[:, :3] + idx.float()


class Interp(nn.Module):
    def forward(s, x):
        a = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        b = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        c = F.interpolate(x, size=(16, 16), mode="nearest")
        d = F.interpolate(x, scale_factor=2, mode="bicubic")
        return a + b + c + d


class Misc(nn.Module):
    def forward(s, x, g):
        y = torch.einsum("bchw,bc->bhw", x, x.mean((2, 3)))
        p = F.pad(x, (1, 1, 2, 2), mode="reflect")
        q = F.grid_sample(x, g, align_corners=False)
        return y.sum() + p.sum() + q.sum()


class Dyn(nn.Module):
    def forward(s, x):
        b = x.shape[0]
        y = x.reshape(b, -1, 4).transpose(1, 2)
        m = torch.triu(torch.ones(y.shape[-1], y.shape[-1]), 1).bool()
        z = torch.where(m, torch.zeros(()), y[..., :1] * torch.arange(y.shape[-1]).float())
        return z.expand(
            b,
            -1,
            -1,
        )


class Sort(nn.Module):
    def forward(s, x):
        v, i = torch.sort(x, -1, descending=True)
        return v, i


class Uniq(nn.Module):
    def forward(s, x):
        return torch.unique(x)


class Act(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(50, 16)
        s.ln = nn.LayerNorm(16)

    def forward(s, t):
        e = s.ln(s.emb(t))
        return (
            F.gelu(e, approximate="tanh")
            + F.softplus(e)
            + F.mish(e)
            + F.silu(e)
            + F.elu(e)
            + torch.clamp(e, -1, 1)
        )


class Half(nn.Module):
    def __init__(s):
        super().__init__()
        s.l = nn.Linear(16, 16)
        s.n = nn.LayerNorm(16)

    def forward(s, x):
        return s.n(F.relu(s.l(x)))


class Pool(nn.Module):
    def forward(s, x):
        return F.avg_pool2d(x, 3, stride=2, ceil_mode=True, count_include_pad=False) + F.lp_pool2d(
            x, 2, 3, stride=2, ceil_mode=True
        )


class MaxIdx(nn.Module):
    def forward(s, x):
        y, i = F.max_pool2d(x, 2, return_indices=True)
        return y, i


class Norms(nn.Module):
    def __init__(s):
        super().__init__()
        s.g = nn.GroupNorm(2, 8)
        s.i = nn.InstanceNorm2d(8, affine=True)
        s.p = nn.PixelShuffle(2)

    def forward(s, x):
        return s.p(s.g(x) + s.i(x))


class Bits(nn.Module):
    def forward(s, x):
        y = (x * 10).to(torch.int32)
        return (
            (y % 3).float()
            + torch.bitwise_and(y, torch.tensor(5, dtype=torch.int32)).float()
            + torch.remainder(x, 0.7)
        )


img = torch.randn(1, 3, 16, 16)
img8 = torch.randn(1, 8, 8, 8)
cases = [
    ("cnn", CNN(), (img,), [11, 13, 17]),
    ("rnns", RNNs(), (torch.randn(2, 5, 8),), [13, 17]),
    ("encoder", Enc(), (torch.randn(2, 6, 32),), [13, 17]),
    ("mask", Mask(), (torch.randn(4, 5),), [13, 17]),
    ("index", Index(), (torch.randn(4, 6), torch.randint(0, 6, (4, 3))), [13, 17]),
    ("interp", Interp(), (torch.randn(1, 2, 8, 8),), [11, 13, 17]),
    ("misc", Misc(), (img, torch.rand(1, 16, 16, 2) * 2 - 1), [16, 17]),
    ("dyn", Dyn(), (torch.randn(2, 8, 4),), [13, 17]),
    ("sort", Sort(), (torch.randn(3, 7),), [13, 17]),
    ("unique", Uniq(), (torch.randn(10),), [13, 17]),
    ("act", Act(), (torch.randint(0, 50, (2, 5)),), [17, 18]),
    ("half", Half().half(), (torch.randn(2, 16).half(),), [17]),
    ("pool", Pool(), (img8,), [13, 17]),
    ("maxidx", MaxIdx(), (img8,), [13]),
    ("norms", Norms(), (img8,), [13, 17, 18]),
    ("bits", Bits(), (torch.randn(3, 4),), [13, 18]),
]
ok = 0
for name, mod, args, opsets in cases:
    for op in opsets:
        path = f"{out}/{name}_op{op}.onnx"
        try:
            dyn = {"x": {0: "batch"}} if name in ("dyn", "cnn") else None
            names = ["x"] + [f"in{i}" for i in range(1, len(args))]
            torch.onnx.export(
                mod.eval(),
                args,
                path,
                opset_version=op,
                dynamo=False,
                input_names=names,
                dynamic_axes=dyn,
            )
            ok += 1
        except Exception as e:
            print("skip", name, op, type(e).__name__, str(e)[:100])
print("exported", ok)
