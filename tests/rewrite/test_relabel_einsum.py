"""relabel-einsum: Einsum equations with upper-case subscripts (torchvision's MaxViT) →
lower-case ones; the same values in onnxruntime, trt-check names the pass, the result parses."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from trtforge.analyzer import check
from trtforge.analyzer.rewrite.passes.relabel_einsum import relabeled
from trtforge.analyzer.rewrite.verify import run_model


def _einsum(equation: str, shapes) -> onnx.ModelProto:
    names = [f"x{i}" for i in range(len(shapes))]
    out = np.einsum(relabeled(equation), *(np.zeros(s) for s in shapes)).shape
    graph = helper.make_graph(
        [helper.make_node("Einsum", names, ["y"], equation=equation, name="einsum")],
        "g",
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
            for n, s in zip(names, shapes, strict=True)
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    ("equation", "expected"),
    [
        ("B G H I J, B G H J D -> B G H I D", "bghij,bghjd->bghid"),
        ("Ij,jK->IK", "ij,jk->ik"),
        ("Ab,ab->A", "cb,ab->c"),  # 'a' is taken: A gets the first free letter
        ("...IJ,...JK->...IK", "...ij,...jk->...ik"),
        # implicit mode: the output is the subscripts used once in ASCII order, upper case
        # first — written out before the renaming, which would sort them otherwise
        ("aB", "ab->ba"),
        ("Zb,bc", "zb,bc->zc"),
        ("...iJ", "...ij->...ji"),
    ],
)
def test_relabeled_equations(equation, expected):
    assert relabeled(equation) == expected


def test_no_relabel_without_a_free_letter_or_with_a_foreign_character():
    every = "".join(chr(c) for c in range(ord("a"), ord("z") + 1))
    assert relabeled(every + "Q->" + every) is None
    assert relabeled("ij,jk->ik;") is None


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("B G H I J, B G H J D -> B G H I D", [(1, 2, 3, 4, 5), (1, 2, 3, 5, 6)]),
        ("Ab,ab->A", [(3, 4), (2, 4)]),
        ("...IJ,...JK->...IK", [(2, 3, 4), (2, 4, 5)]),
        ("aB", [(3, 4)]),
        ("Zb,bc", [(2, 3), (3, 4)]),
    ],
)
def test_rewrite_computes_the_same_and_is_accepted(rw, equation, shapes):
    model = _einsum(equation, shapes)
    before = check(model, target="rtx-1", backend="static")
    (node,) = before.nodes
    assert not node.ok and [f.name for f in node.fixes] == ["relabel-einsum"]
    result = rw.apply(model, "relabel-einsum")
    assert result.passes["relabel-einsum"].applied == 1
    onnx.checker.check_model(result.proto, full_check=True)
    rng = np.random.default_rng(0)
    feeds = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    # the reference: onnx's evaluator (onnxruntime refuses upper-case implicit equations)
    (want,) = ReferenceEvaluator(model).run(None, feeds)
    np.testing.assert_allclose(run_model(result.proto, feeds)["y"], want, rtol=1e-5)
    assert check(result.proto, target="rtx-1", backend="static").supported
    assert not rw.apply(result.proto, "relabel-einsum").changed  # idempotent


def test_a_pass_that_changes_an_output_shape_is_caught_without_verification(tmp_path, monkeypatch):
    """The first relabel-einsum lower-cased implicit equations without writing their output
    out: `Zb,bc` became `zb,bc`, the transposed product, and `--no-verify` wrote it (exit 0)
    though the declared output shape [2, 4] no longer held. What trt-rewrite writes is held
    to strict shape inference (onnx.checker's full check) where its input passed it."""
    from trtforge.analyzer import rewrite_file
    from trtforge.analyzer.rewrite.passes import relabel_einsum

    monkeypatch.setattr(relabel_einsum, "relabeled", lambda equation: equation.lower())
    src = tmp_path / "m.onnx"
    onnx.save(_einsum("Zb,bc", [(2, 3), (3, 4)]), src)
    result = rewrite_file(src, tmp_path / "o.onnx", ["relabel-einsum"], verify=False)
    assert not result.written and "strict shape inference" in result.failure
    assert not (tmp_path / "o.onnx").exists()
