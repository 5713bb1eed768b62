"""The `detection` category of benchmarks/fixability.py: torchvision's detectors, full size.

    python benchmarks/fixability.py build DIR --category detection

writes Faster R-CNN, Mask R-CNN, Keypoint R-CNN, RetinaNet, FCOS, SSD and SSDlite, each from
torchvision's model builder with random weights, at opset 13 and 17. The exports themselves
are made by examples/detection/export_detection_models.py (which also writes the tiny CI
fixtures); this module only hands fixability.py its `build(out)`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SCRIPT = (
    Path(__file__).resolve().parents[1] / "examples" / "detection" / "export_detection_models.py"
)


def build(out: Path) -> None:
    spec = importlib.util.spec_from_file_location("_export_detection_models", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(Path(out), full=True)
