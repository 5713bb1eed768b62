"""Acceptance 2: the static knowledge base (target rtx-1) agrees with TensorRT-RTX's parser.

Corpus: the models shipped in the onnx wheel (`onnx/backend/test/data/**`), every node (and
model) test case the installed onnx generates, and the project's fixtures (`*.onnx` under
`tests/` and `cases()` of `oracle_cases*.py` modules there), de-duplicated by sha256.

Ground truth per node (see `trtforge.analyzer.backends._parser_worker`): the parser runs in
worker subprocesses (a parser abort is recorded, not fatal). It stops at the first node it
cannot import, so the worker records that node's errors, removes it — its outputs become
graph inputs with shape-inferred types — and parses again until the rest parses. Nodes the
parser's per-op checkers reject are named by the errors directly. A node is *unsupported*
when the parser rejects it in that context; nodes it cannot judge (after a graph-level error
such as an input type TensorRT lacks, behind an output whose type cannot be a network input,
after a crash) and nodes rejected only while reading such a stand-in input are not scored.
A node with If/Loop/Scan bodies is one node, unsupported when anything in its bodies is.
Whole-model ground truth: the parser accepts the unmodified model.

Scores (each must reach 0.97): recall and precision of unsupported nodes, whole-model
verdict agreement (`Report.supported` against the parser). The test prints the scores and
every disagreement. The parser's verdicts are cached by model sha256 in
`$XDG_CACHE_HOME/trtforge/`; with `CI` set they are computed fresh.
"""

from __future__ import annotations

import os

import pytest
from _parser_helpers import requires_rtx, save_text_model

from tools.oracle.corpus import CorpusModel
from tools.oracle.score import THRESHOLD, score
from trtforge.analyzer.backends.parser import ParserResult
from trtforge.analyzer.targets import parse_target

# -- the scoring itself (no parser needed) ---------------------------------------------------

THREE = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,3] x) => (float[2,3] y)
{
  a = Relu(x)
  b = Tanh(a)
  y = Sigmoid(b)
}
"""


def _node(status: str, **extra) -> dict:
    return {"status": status, "errors": [], **extra}


def _corpus_model(tmp_path) -> CorpusModel:
    from trtforge.analyzer.loading import load_model

    path = save_text_model(tmp_path, THREE, "three.onnx")
    return CorpusModel("three", "fixture", path, load_model(path).sha256)


def _static(statuses: list[str]):
    """A stand-in static backend giving `statuses` to the nodes, in order."""
    from trtforge.analyzer.backends.static import model_info
    from trtforge.analyzer.findings import Finding
    from trtforge.analyzer.report import NodeVerdict, Report

    def run(loaded, target):
        nodes = []
        for index, (node, status) in enumerate(zip(loaded.proto.graph.node, statuses, strict=True)):
            reasons = [Finding("x/no", "no")] if status == "unsupported" else []
            nodes.append(NodeVerdict(index, node.name, node.op_type, "", status, reasons))
        return Report(model_info(loaded), target.id, "static", nodes)

    return run


def test_scores_count_each_kind_of_disagreement(tmp_path):
    model = _corpus_model(tmp_path)
    truth = {
        model.sha256: ParserResult(
            supported=False,
            nodes=[_node("unsupported"), _node("unsupported"), _node("supported")],
        )
    }
    static = _static(["unsupported", "supported", "unsupported"])
    scores = score([model], truth, parse_target("rtx-1"), static=static)
    assert (scores.tp, scores.fn, scores.fp, scores.tn) == (1, 1, 1, 0)
    assert scores.recall == pytest.approx(0.5, abs=1e-12)
    assert scores.precision == pytest.approx(0.5, abs=1e-12)
    assert scores.model_agreement == 1.0
    kinds = sorted((d["node"], d["kind"]) for d in scores.node_disagreements)
    assert kinds == [(1, "false-negative"), (2, "false-positive")]
    assert any("false-positive" in line for line in scores.disagreement_lines())


def test_unjudged_and_dependent_nodes_are_not_scored(tmp_path):
    model = _corpus_model(tmp_path)
    truth = {
        model.sha256: ParserResult(
            supported=True,
            nodes=[_node("unknown"), _node("supported"), _node("unsupported", dependent=True)],
        )
    }
    static = _static(["unsupported", "unsupported", "supported"])
    scores = score([model], truth, parse_target("rtx-1"), static=static)
    assert scores.nodes_judged == 1
    assert (scores.tp, scores.fp, scores.fn) == (0, 1, 0)
    assert scores.model_agreement == 0.0  # static: unsupported, parser: accepted
    assert scores.model_disagreements[0]["model"] == "three"
    assert not scores.passed


# -- the acceptance test ---------------------------------------------------------------------


@requires_rtx
@pytest.mark.parser
def test_static_backend_agrees_with_the_rtx_parser(tmp_path, capsys):
    from tools.oracle.corpus import build_corpus
    from tools.oracle.groundtruth import ground_truth
    from trtforge.analyzer import trt

    if trt.flavour() != "rtx":
        pytest.skip("the agreement test scores rtx-1 against tensorrt_rtx")
    models = build_corpus(tmp_path / "corpus")
    assert len(models) > 1500  # wheel models + node cases + fixtures
    truth = ground_truth(models, fresh=bool(os.environ.get("CI")))
    crashed = [m.name for m in models if truth[m.sha256].crash]
    scores = score(models, truth, parse_target("rtx-1"), trt.parser_name())
    with capsys.disabled():
        print("\n" + scores.summary())
        for line in scores.disagreement_lines():
            print("  " + line)
    assert len(crashed) <= len(models) // 100, f"parser crashed on {crashed[:20]}"
    assert scores.recall >= THRESHOLD, f"recall {scores.recall:.4f}"
    assert scores.precision >= THRESHOLD, f"precision {scores.precision:.4f}"
    assert scores.model_agreement >= THRESHOLD, f"model agreement {scores.model_agreement:.4f}"
