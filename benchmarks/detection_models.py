"""Torchvision detection models with random weights and tiny backbones, exported to ONNX.

    python benchmarks/detection_models.py OUT_DIR        # or build(out) from fixability.py

writes `<arch>-opset<N>.onnx` for Faster R-CNN, RetinaNet, FCOS and SSD (opset 13 and 17):
the real torchvision detection heads, anchor generators, box coders, NonMaxSuppression
(batched_nms) and, for Faster R-CNN, MultiScaleRoIAlign — on a 3-layer 32-channel backbone and
64×64 inputs (180–470 KiB each). benchmarks/fixability.py runs them as its `detection`
category. Needs torch (CPU) and torchvision; not a test dependency.

Status (2026-12-03, TensorRT-RTX 1.7.1): NonZero and RoiAlign import through trtforge's
plugins, but every export puts its NonMaxSuppression inside an If (batched_nms's guard for no
boxes), and the builder refuses data-dependent shapes inside a conditional ("Data-dependent
shapes are only allowed in the top-level scope"), so none builds yet.

torchvision's PyPI wheel is a CUDA build whose compiled ops do not load beside the CPU torch,
and `import torchvision` then fails while registering their meta kernels. So before importing
it this script defines `torchvision::nms` and `torchvision::roi_align` with plain PyTorch
implementations; torchvision's own ONNX symbolics still export them as NonMaxSuppression and
RoiAlign (the TorchScript exporter, `dynamo=False`).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path

OPSETS = (13, 17)
SIZE = 64


def _define_torchvision_ops() -> None:
    import torch

    lib = torch.library.Library("torchvision", "DEF")  # noqa: F841 - kept alive below
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")  # imported
    lib.define(
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    )

    def nms(dets, scores, iou_threshold):
        order = scores.argsort(descending=True)
        keep = []
        suppressed = torch.zeros(len(order), dtype=torch.bool)
        x1, y1, x2, y2 = dets.unbind(1)
        areas = (x2 - x1) * (y2 - y1)
        for i_pos in range(len(order)):
            i = order[i_pos]
            if suppressed[i_pos]:
                continue
            keep.append(int(i))
            rest = order[i_pos + 1 :]
            w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
            h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
            inter = w * h
            iou = inter / (areas[i] + areas[rest] - inter)
            suppressed[i_pos + 1 :] |= iou > iou_threshold
        return torch.tensor(keep, dtype=torch.int64)

    def roi_align(inp, rois, spatial_scale, ph, pw, sampling_ratio, aligned):
        # a coarse stand-in (center sample per bin): only shapes matter for the export
        n = rois.shape[0]
        out = inp.new_zeros((n, inp.shape[1], ph, pw))
        for r in range(n):
            b = int(rois[r, 0])
            x1, y1, x2, y2 = (rois[r, 1:] * spatial_scale).tolist()
            for i in range(ph):
                for j in range(pw):
                    y = int(min(max(y1 + (i + 0.5) * (y2 - y1) / ph, 0), inp.shape[2] - 1))
                    x = int(min(max(x1 + (j + 0.5) * (x2 - x1) / pw, 0), inp.shape[3] - 1))
                    out[r, :, i, j] = inp[b, :, y, x]
        return out

    lib.impl("nms", nms, "CPU")
    lib.impl("roi_align", roi_align, "CPU")
    _define_torchvision_ops.lib = lib


def _backbone(names=("0",)):
    """Two stride-2 convs to a 32-channel map, and a third for a second, coarser level."""
    import torch
    from torch import nn

    class Backbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 32, 3, 2, 1), nn.ReLU()
            )
            self.down = nn.Conv2d(32, 32, 3, 2, 1)
            self.out_channels = 32
            self.names = names

        def forward(self, x):
            f0 = self.body(x)
            feats = [f0, self.down(f0)]
            return OrderedDict((n, f) for n, f in zip(self.names, feats, strict=False))

    torch.manual_seed(0)
    return Backbone()


def _trust_defined_ops() -> None:
    """torchvision checks that its compiled ops loaded before calling them; ours are defined."""
    import torchvision

    def ok() -> None:
        return None

    for name, module in list(sys.modules.items()):
        if name.startswith("torchvision") and hasattr(module, "_assert_has_ops"):
            module._assert_has_ops = ok
        if name.startswith("torchvision") and hasattr(module, "_has_ops"):
            module._has_ops = lambda: True  # else roi_align takes a torch.compile'd path
    torchvision.extension._has_ops = lambda: True


def models():
    """(name, model) pairs: the four torchvision detector families, tiny and random."""
    import torch
    from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.ssd import SSD, SSDHead
    from torchvision.ops import MultiScaleRoIAlign

    _trust_defined_ops()
    torch.manual_seed(0)
    common = {"min_size": SIZE, "max_size": SIZE}
    out = []
    anchors = AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2)
    frcnn = FasterRCNN(
        _backbone(("0", "1")),
        num_classes=None,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(["0", "1"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(32 * 7 * 7, 32),
        box_predictor=FastRCNNPredictor(32, 3),
        rpn_pre_nms_top_n_test=50,
        rpn_post_nms_top_n_test=20,
        box_detections_per_img=10,
        **common,
    )
    out.append(("fasterrcnn", frcnn))
    out.append(
        (
            "retinanet",
            RetinaNet(
                _backbone(("0", "1")),
                num_classes=3,
                anchor_generator=AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2),
                detections_per_img=10,
                topk_candidates=50,
                **common,
            ),
        )
    )
    out.append(
        (
            "fcos",
            FCOS(
                _backbone(("0", "1")),
                num_classes=3,
                anchor_generator=AnchorGenerator(((8,), (16,)), ((1.0,),) * 2),
                detections_per_img=10,
                topk_candidates=50,
                **common,
            ),
        )
    )
    boxes = DefaultBoxGenerator([[2], [2]])
    ssd_backbone = _backbone(("0", "1"))
    out.append(
        (
            "ssd",
            SSD(
                ssd_backbone,
                boxes,
                (SIZE, SIZE),
                num_classes=3,
                head=SSDHead([32, 32], boxes.num_anchors_per_location(), 3),
                detections_per_img=10,
                topk_candidates=50,
            ),
        )
    )
    for _, m in out:
        m.eval()
    return out


def export(model, path: Path, opset: int) -> None:
    import torch

    x = torch.rand(3, SIZE, SIZE)
    with torch.no_grad():
        torch.onnx.export(
            model,
            ([x],),
            str(path),
            opset_version=opset,
            input_names=["image"],
            output_names=["boxes", "scores", "labels"],
            dynamo=False,
        )


def build(out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _define_torchvision_ops()
    import onnx

    for name, model in models():
        for opset in OPSETS:
            path = out / f"{name}-opset{opset}.onnx"
            export(model, path, opset)
            onnx.checker.check_model(onnx.load(str(path)), full_check=True)
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/detection_models.py OUT_DIR")
    build(Path(sys.argv[1]))
