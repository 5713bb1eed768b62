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

SPEC = importlib.util.spec_from_file_location(
    "pass_fuzz", Path(__file__).resolve().parents[2] / "benchmarks" / "pass_fuzz.py"
)
pass_fuzz = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(pass_fuzz)

CORPUS = {
    "layernorm": (
        ["fuse-layernorm"],
        """<ir_version: 8, opset_import: ["" : 17]>
        g (float[2,3,8] x) => (float[2,3,8] z)
          <float[8] gamma = {1,2,3,4,5,6,7,8}, float[8] beta = {0,0,0,1,1,1,2,2},
           float two = {2.0}, float eps = {1e-5}> {
          mean = ReduceMean<axes=[-1]>(x)
          d = Sub(x, mean)
          p = Pow(d, two)
          var = ReduceMean<axes=[-1]>(p)
          e = Add(var, eps)
          s = Sqrt(e)
          n = Div(d, s)
          y = Mul(n, gamma)
          z = Add(y, beta)
        }""",
    ),
    "rmsnorm": (
        ["fuse-rmsnorm"],
        """<ir_version: 9, opset_import: ["" : 17]>
        g (float[2,3,8] x) => (float[2,3,8] y)
          <float[8] w = {1,2,3,4,5,6,7,8}, float two = {2.0}, float eps = {1e-6},
           float one = {1.0}> {
          p = Pow(x, two)
          var = ReduceMean<axes=[-1]>(p)
          e = Add(var, eps)
          s = Sqrt(e)
          r = Div(one, s)
          n = Mul(x, r)
          y = Mul(w, n)
        }""",
    ),
    "gelu": (
        ["fuse-gelu"],
        """<ir_version: 9, opset_import: ["" : 20]>
        g (float[2,8] x) => (float[2,8] y) <float one = {1.0}, float half = {0.5}> {
          c = Constant<value = float {1.4142135}>()
          q = Div(x, c)
          e = Erf(q)
          a = Add(e, one)
          m = Mul(x, a)
          y = Mul(m, half)
        }""",
    ),
    "pool": (
        ["undilate-pool"],
        """<ir_version: 9, opset_import: ["" : 17]>
        g (float[1,2,20,17] x) => (float[1,2,?,?] y) {
          y = MaxPool<kernel_shape=[3,2], dilations=[2,3], strides=[2,3], pads=[1,1,2,1]>(x)
        }""",
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
