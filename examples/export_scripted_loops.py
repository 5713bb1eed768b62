"""Exports a TorchScript model with data-dependent loops and branches through the TorchScript
exporter at opsets 11 and 13: Loops whose bodies hold Ifs and read outer values, the shape of
what old `torch.jit.script` exports give TensorRT. `tests/fixtures/scripted/` holds the
result; the shape-inference tests read it (`tests/_control_flow_models.py`).

    python examples/export_scripted_loops.py [--out tests/fixtures/scripted]

Needs torch (CPU): `pip install torch==2.13.0`.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
from torch import nn


class Branchy(nn.Module):
    """A loop over the sequence axis choosing, per step, between two reshaping updates, then
    a while loop halving the result."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(32, 32)
        self.b = nn.Linear(32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(x.shape[1]):
            if x.mean() > 0.5:
                x = self.a(x).reshape(x.shape[0], -1, 32)
            else:
                x = self.b(x) * x.shape[1]
        y = x
        while y.sum() > 100:
            y = y / 2
        return y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/scripted")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    scripted = torch.jit.script(Branchy().eval())
    models = {}
    for opset in (11, 13):
        path = out / f"branchy_opset{opset}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                scripted,
                (torch.randn(2, 4, 32),),
                str(path),
                opset_version=opset,
                dynamo=False,
                input_names=["x"],
                dynamic_axes={"x": {0: "batch", 1: "steps"}},
            )
        models[path.name] = {"opset": opset}
    manifest = {"generator": "examples/export_scripted_loops.py", "torch": torch.__version__}
    (out / "manifest.json").write_text(json.dumps({**manifest, "models": models}, indent=1) + "\n")


if __name__ == "__main__":
    main()
