"""Benchmark: trt-quantize calibration time and INT8/float agreement at real model sizes.

Two models with random weights, exported with the TorchScript exporter (opset 17) from
`transformers` configs (no download): ResNet-50 (ResNetConfig's defaults are ResNet-50's layout,
25.6M parameters, 1x3x224x224) and BERT-base (12 layers, hidden 768, sequence 128). Calibration
samples are random (images: standard normal; tokens: uniform ids, all-ones masks) — enough to time
calibration and to measure agreement, not to judge accuracy on real data. Each model is quantized
once per method with the CLI, end to end (load, calibrate, check, write), and the report's
agreement figures are collected.

    pip install torch==2.13.0 transformers     # CPU build; any other torch spec pulls CUDA
    python benchmarks/quantize_scale.py [--workdir DIR] [--samples 32] [--methods entropy,minmax]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def export(workdir: Path) -> dict[str, Path]:
    import torch
    import transformers as tf

    torch.manual_seed(0)
    out = {}
    resnet = tf.ResNetModel(tf.ResNetConfig()).eval()
    path = workdir / "resnet50.onnx"
    torch.onnx.export(
        resnet,
        (torch.randn(1, 3, 224, 224),),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["pixel_values"],
        output_names=["last_hidden_state", "pooler_output"],
    )
    out["resnet50"] = path

    class Bert(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = tf.BertModel(tf.BertConfig(attn_implementation="eager")).eval()

        def forward(self, ids, mask):
            return self.bert(input_ids=ids, attention_mask=mask)[0]

    path = workdir / "bert_base.onnx"
    ids = torch.randint(0, 30522, (1, 128))
    torch.onnx.export(
        Bert().eval(),
        (ids, torch.ones_like(ids)),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["input_ids", "attention_mask"],
        output_names=["hidden"],
    )
    out["bert_base"] = path
    return out


def samples(name: str, folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        if name == "resnet50":
            feed = {"pixel_values": rng.standard_normal((1, 3, 224, 224)).astype(np.float32)}
        else:
            feed = {
                "input_ids": rng.integers(0, 30522, (1, 128), dtype=np.int64),
                "attention_mask": np.ones((1, 128), np.int64),
            }
        np.savez(folder / f"{i:04d}.npz", **feed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/trtforge-quantize-bench"))
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--methods", default="entropy,minmax")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    models = export(args.workdir)
    rows = []
    for name, path in models.items():
        data = args.workdir / f"{name}_calib"
        samples(name, data, args.samples)
        for method in args.methods.split(","):
            out = args.workdir / f"{name}.{method}.int8.onnx"
            report = args.workdir / f"{name}.{method}.json"
            cmd = [
                sys.executable,
                "-m",
                "trtforge.analyzer.cli.quantize",
                str(path),
                "-o",
                str(out),
                "--calibration-data",
                str(data),
                "--method",
                method,
                "--report",
                str(report),
                "--target",
                "rtx-1",
                "-q",
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            rep = json.loads(report.read_text()) if report.is_file() else {}
            rows.append(
                {
                    "model": name,
                    "method": method,
                    "exit": proc.returncode,
                    "wall_s": round(wall, 1),
                    "calibration_samples": rep.get("calibration_samples"),
                    "holdout_samples": rep.get("holdout_samples"),
                    "qdq_nodes": rep.get("qdq_nodes"),
                    "outputs": rep.get("outputs"),
                    "stderr": proc.stderr.strip().splitlines()[-1:] if proc.returncode else [],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "command": " ".join(sys.argv),
    }
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
