"""Export torchvision's detectors with random weights to ONNX: tiny CI fixtures, or full size.

    python examples/detection/export_detection_models.py [--out tests/fixtures/detection]
    python examples/detection/export_detection_models.py --full --out DIR

Every torchvision 0.28 detector family — Faster R-CNN, Mask R-CNN, Keypoint R-CNN, RetinaNet,
FCOS, SSD and SSDlite — exported at opset 13 and 17 (TorchScript exporter) as
`<family>-opset<N>.onnx`. Nothing is downloaded: the weights are random (seeded).

* default (the fixtures under tests/fixtures/detection, ~1 MB in all): each family built from
  torchvision's own detection classes (`FasterRCNN`, `MaskRCNN`, …, with their real heads,
  anchor generators, box coders, `batched_nms` and `MultiScaleRoIAlign`) on a 3-conv,
  8-channel backbone and 64×64 images, so the exported graph has the real structure.
* `--full`: torchvision's model builders (`fasterrcnn_resnet50_fpn(weights=None,
  weights_backbone=None)`, …) at their default sizes (13–230 MB each);
  `benchmarks/fixability.py build DIR --category detection` writes these.

`manifest.json` (fixtures only) records the family, opset and the op types of each export.

torchvision's PyPI wheel is a CUDA build whose compiled ops do not load beside the CPU torch,
and `import torchvision` then fails while registering their meta kernels. So before importing
it this script defines `torchvision::nms` and `torchvision::roi_align` with plain PyTorch
implementations (roi_align: a coarse stand-in — only its shapes matter for the trace);
torchvision's own ONNX symbolics still export them as NonMaxSuppression and RoiAlign.

Needs torch (CPU: `pip install torch==2.13.0`) and torchvision; not a test dependency.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

OPSETS = (13, 17)
SIZE = 64  # the fixtures' image side
FULL_SIZE = 320  # the full-size exports' (the models resize it to their own size)


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


def _backbone(channels: int = 8):
    """Two stride-2 convs to a `channels`-wide map "0", and a third for a coarser level "1"."""
    from torch import nn

    class Backbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, channels, 3, 2, 1), nn.ReLU()
            )
            self.down = nn.Conv2d(channels, channels, 3, 2, 1)
            self.out_channels = channels

        def forward(self, x):
            f0 = self.body(x)
            return OrderedDict((("0", f0), ("1", self.down(f0))))

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


C = 8  # channels of the tiny backbone and heads


def _rcnn_parts():
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    return {
        "rpn_anchor_generator": AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2),
        "box_roi_pool": MultiScaleRoIAlign(["0", "1"], output_size=7, sampling_ratio=2),
        "box_head": TwoMLPHead(C * 7 * 7, 16),
        "box_predictor": FastRCNNPredictor(16, 3),
        "rpn_pre_nms_top_n_test": 50,
        "rpn_post_nms_top_n_test": 20,
        "box_detections_per_img": 10,
        "min_size": SIZE,
        "max_size": SIZE,
    }


def tiny_models():
    """(name, model, output names): every family, tiny and random, from torchvision's classes."""
    from functools import partial

    import torch
    from torch import nn
    from torchvision.models.detection import FCOS, FasterRCNN, KeypointRCNN, MaskRCNN, RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
    from torchvision.models.detection.fcos import FCOSHead
    from torchvision.models.detection.keypoint_rcnn import (
        KeypointRCNNHeads,
        KeypointRCNNPredictor,
    )
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.models.detection.ssd import SSD, SSDHead
    from torchvision.models.detection.ssdlite import SSDLiteHead
    from torchvision.ops import MultiScaleRoIAlign

    _trust_defined_ops()
    torch.manual_seed(0)
    common = {"min_size": SIZE, "max_size": SIZE}
    dense = {"detections_per_img": 10, "topk_candidates": 50, **common}
    roi14 = MultiScaleRoIAlign(["0", "1"], output_size=14, sampling_ratio=2)
    out = [
        ("fasterrcnn", FasterRCNN(_backbone(C), num_classes=None, **_rcnn_parts())),
        (
            "maskrcnn",
            MaskRCNN(
                _backbone(C),
                num_classes=None,
                mask_roi_pool=roi14,
                mask_head=MaskRCNNHeads(C, (C,), 1),
                mask_predictor=MaskRCNNPredictor(C, C, 3),
                **_rcnn_parts(),
            ),
        ),
        (
            "keypointrcnn",
            KeypointRCNN(
                _backbone(C),
                num_classes=None,
                keypoint_roi_pool=roi14,
                keypoint_head=KeypointRCNNHeads(C, (C,)),
                keypoint_predictor=KeypointRCNNPredictor(C, 3),
                **_rcnn_parts(),
            ),
        ),
        (
            "retinanet",
            RetinaNet(
                _backbone(C),
                num_classes=3,
                anchor_generator=AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2),
                **dense,
            ),
        ),
        (
            "fcos",
            FCOS(  # no conv tower: its GroupNorm needs 32 channels (the outputs are kept)
                _backbone(C),
                num_classes=3,
                head=FCOSHead(C, 1, 3, num_convs=0),
                anchor_generator=AnchorGenerator(((8,), (16,)), ((1.0,),) * 2),
                **dense,
            ),
        ),
    ]
    boxes = DefaultBoxGenerator([[2], [2]])
    anchors = boxes.num_anchors_per_location()
    ssd = {"detections_per_img": 10, "topk_candidates": 50}
    head = SSDHead([C, C], anchors, 3)
    out.append(("ssd", SSD(_backbone(C), boxes, (SIZE, SIZE), 3, head=head, **ssd)))
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    head = SSDLiteHead([C, C], anchors, 3, norm)
    out.append(("ssdlite", SSD(_backbone(C), boxes, (SIZE, SIZE), 3, head=head, **ssd)))
    return [(name, model.eval(), _outputs(name)) for name, model in out]


def full_models():
    """(name, model, output names): torchvision's builders at default size, random weights."""
    import torch
    from torchvision.models import detection as d

    _trust_defined_ops()
    torch.manual_seed(0)
    none = {"weights": None, "weights_backbone": None}
    builders = {
        "fasterrcnn": d.fasterrcnn_resnet50_fpn,
        "maskrcnn": d.maskrcnn_resnet50_fpn,
        "keypointrcnn": d.keypointrcnn_resnet50_fpn,
        "retinanet": d.retinanet_resnet50_fpn,
        "fcos": d.fcos_resnet50_fpn,
        "ssd": d.ssd300_vgg16,
        "ssdlite": d.ssdlite320_mobilenet_v3_large,
    }
    return [(name, b(**none).eval(), _outputs(name)) for name, b in builders.items()]


def _outputs(name: str) -> list[str]:
    """The output names, in the order torchvision's result dict has them."""
    extra = {"maskrcnn": ["masks"], "keypointrcnn": ["keypoints", "keypoints_scores"]}
    return ["boxes", "labels", "scores", *extra.get(name, [])]


def export(model, outputs: list[str], path: Path, opset: int, size: int) -> None:
    import torch

    torch.manual_seed(1)
    x = torch.rand(3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            model,
            ([x],),
            str(path),
            opset_version=opset,
            input_names=["image"],
            output_names=outputs,
            dynamo=False,
        )


def build(out: Path, full: bool = True) -> None:
    """Writes every family at every opset into `out` (full size unless `full` is False)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _define_torchvision_ops()
    import onnx

    manifest = {}
    for name, model, outputs in full_models() if full else tiny_models():
        for opset in OPSETS:
            path = out / f"{name}-opset{opset}.onnx"
            export(model, outputs, path, opset, FULL_SIZE if full else SIZE)
            proto = onnx.load(str(path))
            onnx.checker.check_model(proto, full_check=True)
            ops = sorted({n.op_type for n in proto.graph.node})
            manifest[path.name] = {"family": name, "opset": opset, "outputs": outputs, "ops": ops}
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)", flush=True)
    if not full:
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/detection"))
    parser.add_argument("--full", action="store_true", help="torchvision's full-size builders")
    args = parser.parse_args(argv)
    build(args.out, full=args.full)


if __name__ == "__main__":
    main()
