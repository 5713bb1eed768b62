"""A bounded semantic fuzz run in CI: benchmarks/pass_fuzz.py's mutations (constant shapes
and values, attributes, input dims, escaping intermediates, swapped operands, sibling ops,
opsets, float16, inserted Identity nodes, node order) of a few patterns the passes rewrite,
with fixed seeds. No pass may raise, write a model onnx.checker refuses, or change what a
model onnxruntime runs computes. Long campaigns over every rewrite test's model:
`python benchmarks/pass_fuzz.py collect DIR && python benchmarks/pass_fuzz.py run DIR`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import onnx
import pytest

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    """A module from its file (benchmarks/ is no package; the pattern builders live in the
    pass tests beside this one)."""
    spec = importlib.util.spec_from_file_location(f"_pass_fuzz_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pass_fuzz = _load(HERE.parents[1] / "benchmarks" / "pass_fuzz.py")
gelu = _load(HERE / "test_fuse_gelu.py")

CORPUS = {
    "layernorm": (["fuse-layernorm"], _load(HERE / "test_fuse_layernorm.py").ln_model()),
    "rmsnorm": (["fuse-rmsnorm"], _load(HERE / "test_fuse_rmsnorm.py").t5()),
    "gelu": (["fuse-gelu"], gelu.model(gelu.ERF)),
    "pool": (
        ["undilate-pool"],
        _load(HERE / "test_undilate_pool.py").pool(
            yshape="1,2,?,?",
            attrs="kernel_shape=[3,2], dilations=[2,3], strides=[2,3], pads=[1,1,2,1]",
        ),
    ),
    "fold": (
        ["fold-constants"],
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2,8] x) => (float[2,?] y) <int64[2] s = {4, 4}, float[4] b = {1, 2, 3, 4}> {
          i = Identity(x)
          sh = Shape(i)
          r = Reshape(i, s)
          a = Add(r, b)
          y = Reshape(a, sh)
        }""",
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, (passes, text) in CORPUS.items():
        model = onnx.parser.parse_model(text)
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, folder / f"{name}.onnx")
        (folder / f"{name}.json").write_text(json.dumps({"passes": passes, "target": "trt-10"}))
    return folder


@pytest.mark.parametrize("seed", [21, 22])
def test_pass_fuzz_campaign(corpus, tmp_path, seed):
    from trtforge.analyzer.rewrite.graphutil import graphsurgeon_silenced

    results = tmp_path / "results.json"
    with graphsurgeon_silenced():
        code = pass_fuzz.run(corpus, 150, seed, results, None)
    report = json.loads(results.read_text())
    assert report["counts"].get("ok", 0) > 20, report["counts"]  # the cases reached a pass
    assert code == 0, json.dumps(report["bad"], indent=1)[:3000]
