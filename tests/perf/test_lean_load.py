"""A large file is parsed without the raw data of its large weights (`LoadedModel.structure`),
and the whole proto only for whoever reads weights' values (`LoadedModel.proto`).

The check of a lean-loaded model must be the check of the whole one, on every path (in
process, forked, prefetched); the whole proto, when asked for, must be the file's; and a
rewrite must keep every weight.
"""

from __future__ import annotations

import hashlib
import json
import mmap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import advice, background, loading, model_bytes, session
from trtforge.analyzer.api import check
from trtforge.analyzer.graph import GraphView
from trtforge.analyzer.loading import load_model
from trtforge.analyzer.reports import render
from trtforge.analyzer.session import ModelSession

pytest.importorskip("trtforge.analyzer._wire", reason="the native reader is not built")


def _weighted_model() -> onnx.ModelProto:
    """MatMuls with weights of 32,768 elements (left without data, and of more than 64 KB:
    left unread by a sparse read), a small bias and a shape (kept), a weight whose raw_data
    is one element short (not sound: kept, and reported; a sparse read reads it back)."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), f"w{i}")
        for i, shape in enumerate([(128, 256), (256, 128), (128, 256)])
    ]
    weights.append(numpy_helper.from_array(np.ones(128, np.float32), "bias"))
    weights.append(numpy_helper.from_array(np.array([-1, 128], np.int64), "shape"))
    short = numpy_helper.from_array(np.ones((128, 256), np.float32), "short")
    short.raw_data = short.raw_data[:-4]
    weights.append(short)
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["a"]),
        helper.make_node("MatMul", ["a", "w1"], ["b"]),
        helper.make_node("Reshape", ["b", "shape"], ["c"]),
        helper.make_node("MatMul", ["c", "w2"], ["d"]),
        helper.make_node("Add", ["x", "bias"], ["e"]),
        helper.make_node("MatMul", ["e", "short"], ["f"]),
    ]
    graph = helper.make_graph(
        nodes,
        "weighted",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 128])],
        [
            helper.make_tensor_value_info("d", TensorProto.FLOAT, ["M", 256]),
            helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 256]),
        ],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def lean_files(monkeypatch):
    """Every file is loaded lean, and hashed by a thread (as a large file is)."""
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
    monkeypatch.setattr(loading, "HASH_MEANWHILE_BYTES", 0)


def _report(model, **kwargs) -> dict:
    return check(model, target="rtx-1", backend="static", **kwargs).to_json()


def test_a_lean_load_gives_the_whole_model_when_asked(lean_files, tmp_path):
    """The structure holds everything but the large sound weights' raw data; `proto` and
    `sha256` are the file's, computed when first asked for."""
    path = tmp_path / "m.onnx"
    onnx.save(_weighted_model(), path)
    loaded = load_model(path)
    assert loaded.lean is not None and loaded._proto is None
    names = [t.name for t in loaded.structure.graph.initializer]
    assert [names[i] for i in loaded.elided] == ["w0", "w1", "w2"]
    assert all(not loaded.structure.graph.initializer[i].raw_data for i in loaded.elided)
    assert loaded.structure.graph.initializer[names.index("short")].raw_data
    whole = onnx.load(path)
    for position in loaded.elided:  # read from the bytes, before the whole proto is parsed
        assert loaded.elided_weight(position) == whole.graph.initializer[position]
    assert loaded._proto is None
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.proto == whole
    assert loaded._source is None  # the bytes go once parsed
    assert loaded.elided_weight(loaded.elided[0]) == whole.graph.initializer[loaded.elided[0]]
    assert loaded.structure is loaded.lean  # kept: the views read from it stay valid


@pytest.mark.parametrize("path_kind", ["in process", "forked", "prefetched"])
def test_the_check_of_a_lean_load_is_the_check_of_the_whole_model(
    path_kind, lean_files, monkeypatch, tmp_path
):
    """Same report, findings of the unsound weight included, whether the types are inferred
    in process, in a forked child or by a prefetching one; the forked and prefetched checks
    never read the file whole, in this process or in the child, and none hashes the file
    before a report shows its digest."""
    path = tmp_path / "m.onnx"
    onnx.save(_weighted_model(), path)
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 1 << 40)
    whole = _report(path)
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
    assert whole["supported"] is False  # the short weight
    if path_kind != "in process":
        monkeypatch.setattr(background, "MIN_NODES", 0)
        monkeypatch.setattr(session, "KEEP_INFERRED_NODES", 0)
        monkeypatch.setattr(advice, "MAX_NODES", 0)
        monkeypatch.delenv("TRTFORGE_NO_FORK", raising=False)
    read_whole = tmp_path / "read whole"  # written by any process that reads the file whole

    def read_file_whole(self):
        read_whole.touch()
        return real_whole(self)

    real_whole = model_bytes.FileRead.whole
    monkeypatch.setattr(model_bytes.FileRead, "whole", read_file_whole)
    taken = []
    if path_kind == "prefetched":  # (mapped by the child, as a file loaded lean is)
        monkeypatch.setattr(background, "PREFETCH_MIN_BYTES", 0)
        monkeypatch.setattr(background, "PREFETCH_READ_BYTES", 0)
        background.prefetch(str(path))
        assert background._prefetch is not None
        real = background.PendingTypes.prefetched

        def prefetched(self, *args):
            taken.append(real(self, *args))
            return taken[-1]

        monkeypatch.setattr(background.PendingTypes, "prefetched", prefetched)
    lean = ModelSession.of(path)
    assert lean.loaded.lean is not None
    assert isinstance(lean.loaded._source, model_bytes.FileRead)  # read sparsely
    checked = check(lean, target="rtx-1", backend="static", advice=path_kind == "in process")
    assert lean.loaded._sha256 is None  # the file is hashed for the JSON report only
    report = checked.to_json()
    if path_kind != "in process":
        assert lean.loaded._proto is None  # inferred by the child, checked on the structure
        assert not read_whole.exists()  # neither here nor in the child
        report = json.loads(json.dumps(report))
        whole_unadvised = _report(lean.loaded.proto, advice=False)
        whole_unadvised["model"] = report["model"]
        assert report == whole_unadvised
        assert background._prefetch is None  # taken over
        if path_kind == "prefetched":  # the child's types, bound to what this process read
            assert len(taken) == 1 and taken[0] is not None
    else:
        assert report == whole


def _block_quantized_model(negative: bool) -> onnx.ModelProto:
    """A MatMul whose INT8 weight is dequantized by blocks of 16: the weight [64, 32], its
    scale [4, 32] and zero point [4, 32] are small weights (rank 2, more than
    `loading.LEAN_MIN_ELEMENTS` elements) left without data; the rule reads the scale's and
    zero point's values (`negative`: one scale below zero)."""
    rng = np.random.default_rng(2)
    scale = rng.uniform(0.01, 0.1, (4, 32)).astype(np.float32)
    if negative:
        scale[3, 7] = -0.05
    tensors = [
        numpy_helper.from_array(rng.integers(-8, 8, (64, 32)).astype(np.int8), "wq"),
        numpy_helper.from_array(scale, "scale"),
        numpy_helper.from_array(np.zeros((4, 32), np.int8), "zero"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "scale", "zero"], ["w"], axis=0, block_size=16),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "blocked",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 32])],
        tensors,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


@pytest.mark.parametrize("negative", [True, False])
def test_a_rule_reads_a_small_weight_left_without_data_from_the_file(
    negative, lean_files, monkeypatch, tmp_path
):
    """The per-layer weights of a large model are left without data however small; a rule
    that reads one's values (a block-quantized scale) reads them from the file's bytes, so
    the report is the whole model's, the negative scale found."""
    path = tmp_path / "m.onnx"
    onnx.save(_block_quantized_model(negative), path)
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 1 << 40)
    whole = _report(path)
    found = [r["code"] for v in whole["nodes"] for r in v["reasons"]]
    assert ("dequantizelinear/scale-not-positive" in found) == negative, found
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
    lean = ModelSession.of(path)
    names = [t.name for t in lean.structure.graph.initializer]
    assert sorted(names[i] for i in lean.loaded.elided) == ["scale", "wq", "zero"]
    assert _report(lean) == whole
    assert lean.loaded._proto is None


def test_a_rewrite_of_a_lean_load_keeps_every_weight(lean_files, tmp_path):
    """The rewrite reads the whole proto: the written model holds the weights' values."""
    from trtforge.analyzer.rewrite.api import rewrite_file

    model = _weighted_model()
    del model.graph.initializer[-1]  # the short one: a valid model to rewrite
    del model.graph.node[-1]
    del model.graph.output[-1]
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "out.onnx"
    rewrite_file(path, out, passes=["fold-constants"])
    written = {t.name: numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    for tensor in model.graph.initializer:
        if tensor.name in written:
            np.testing.assert_array_equal(written[tensor.name], numpy_helper.to_array(tensor))
    assert {"w0", "w1", "w2"} <= set(written)


def _layernorm_model(hidden: int = 20_000) -> onnx.ModelProto:
    """A decomposed LayerNorm (the fusion advice's pattern) whose scale and bias, of
    `hidden` elements, are large enough to be left without data, then a MatMul weight."""
    rng = np.random.default_rng(1)
    gamma = numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), "gamma")
    beta = numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), "beta")
    weight = numpy_helper.from_array(rng.standard_normal((hidden, 8)).astype(np.float32), "w")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    eps = numpy_helper.from_array(np.array(1e-5, np.float32), "eps")
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[-1]),
        helper.make_node("Add", ["variance", "eps"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["normed", "gamma"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], ["y"]),
        helper.make_node("MatMul", ["y", "w"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "layernorm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", hidden])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 8])],
        [gamma, beta, weight, two, eps],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_advice_on_a_lean_load_reads_weights_from_the_file(lean_files, monkeypatch, tmp_path):
    """A small model is inferred in process and imported into graphsurgeon for the fusion
    advice, both from the structure: the report is the whole model's, the whole proto is
    never parsed, and each constant's values, when read, are the file's."""
    model = _layernorm_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 1 << 40)
    whole = _report(path)
    assert any(f["code"] == "advice/fuse-layernorm" for f in whole["graph"]["reasons"])
    monkeypatch.setattr(loading, "LEAN_PARSE_BYTES", 0)
    lean = ModelSession.of(path)
    names = [t.name for t in lean.structure.graph.initializer]
    assert sorted(names[i] for i in lean.loaded.elided) == ["beta", "gamma", "w"]
    asked, digest = [], lean.loaded._later_sha256
    lean.loaded._later_sha256 = lambda: asked.append(1) or digest()
    checked = check(lean, target="rtx-1", backend="static")
    for fmt in ("text", "markdown"):  # formats that do not show the digest never wait for it
        render(checked, fmt)
    assert not asked
    report = checked.to_json()
    assert asked
    assert report["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert lean.loaded._proto is None  # inferred and imported without the whole model
    assert report == whole
    tensors = lean.graph().tensors()
    for tensor in model.graph.initializer:
        np.testing.assert_array_equal(tensors[tensor.name].values, numpy_helper.to_array(tensor))
    assert lean.loaded._proto is None


def test_inference_of_a_lean_load_reads_the_whole_models_copy(lean_files, tmp_path):
    """Shape inference runs on the same copy without weights (`inference._weightless`)
    whether it is made from the whole model or from a lean load's structure told which
    initializers have no data — on every bundled model with weights left out, and on one
    whose large rank-1 tensors only their size makes heavy."""
    from pathlib import Path

    from trtforge.analyzer.inference import _weightless

    repo = Path(__file__).resolve().parents[2]
    layernorm = tmp_path / "layernorm.onnx"
    onnx.save(_layernorm_model(), layernorm)
    models = [layernorm, *sorted((repo / "tests" / "fixtures").rglob("*.onnx"))]
    compared = 0
    for path in [*models, *sorted((repo / "examples").glob("*.onnx"))]:
        try:
            loaded = load_model(path)
        except Exception:  # noqa: BLE001 - the hostile fixtures: refused, nothing to compare
            continue
        if not loaded.elided:
            continue
        lean = _weightless(loaded.structure, loaded.elided)
        assert lean == _weightless(loaded.proto), path
        compared += 1
    assert compared >= 5


@pytest.mark.parametrize("sparse", [True, False], ids=["read sparsely", "read whole"])
def test_a_report_keeps_no_weights_of_its_model(sparse, lean_files, monkeypatch, tmp_path):
    """A report that never asked for the digest (text) holds neither the model nor its
    bytes once the hashing thread is done: `trt-check` of a folder keeps every report. A
    file read sparsely keeps its path only, and its digest is the file's when asked for."""
    import gc
    import threading
    import weakref

    path = tmp_path / "m.onnx"
    onnx.save(_layernorm_model(), path)
    read = []

    def read_sparse(*args):
        made = model_bytes.read_sparse(*args) if sparse else None
        read.append(weakref.ref(made.data) if made is not None else None)
        return made

    monkeypatch.setattr(loading, "read_sparse", read_sparse)
    lean = ModelSession.of(path)
    if sparse:
        assert isinstance(lean.loaded._source, model_bytes.FileRead)
        data = read[0]
    else:
        data = weakref.ref(lean.loaded._source)  # the bytes read are what holds them
        assert len(lean.loaded._source.whole()) == path.stat().st_size
    report = check(lean, target="rtx-1", backend="static")
    render(report, "text")
    for thread in threading.enumerate():
        if thread.name == "trtforge-digest":
            thread.join()
    del lean
    gc.collect()
    assert data() is None
    assert report.model.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_read_whole_is_hashed_when_asked_or_while_the_command_waits(lean_files, tmp_path):
    """A lean load whose sparse read skipped nothing (no weight of more than 1 KB), for a
    report that does not show the digest (`hash_meanwhile=False`: `trt-check`'s text and
    Markdown), starts no hashing thread, which took a core from the inference child: its
    digest (`model_bytes.PendingDigest`) is hashed only if asked after all, from the bytes
    read (in pieces: `advance`), or, once the load is gone (a kept report), the rest from
    the file: the one loaded, or an error. For JSON and SARIF a thread hashes it as before.
    A file read sparsely is hashed a piece at a time while the command waits for its child
    (`background.while_waiting`) where the digest will be asked for, else only if it is."""
    import gc
    import os
    import threading

    from trtforge.analyzer.errors import UserError

    path = tmp_path / "m.onnx"
    onnx.save(_layernorm_model(hidden=20), path)  # (a weight of 640 bytes: read)
    whole = hashlib.sha256(path.read_bytes()).hexdigest()
    background.discard_prefetch()
    shown = load_model(path)
    assert shown.lean is not None
    assert not isinstance(shown._later_sha256, model_bytes.PendingDigest)
    assert background._steps == [] and shown.sha256 == whole
    loaded = load_model(path, hash_meanwhile=False)
    digest = loaded._later_sha256
    assert loaded.lean is not None and isinstance(digest, model_bytes.PendingDigest)
    assert "trtforge-digest" not in {thread.name for thread in threading.enumerate()}
    assert background._steps == []  # (no one waits for it)
    assert digest.advance(1000) and digest._hashed == 1000
    assert not digest.advance() and digest._digest == whole  # the rest (8 MiB a piece)
    assert loaded.sha256 == whole

    loaded = load_model(path, hash_meanwhile=False)
    digest = loaded._later_sha256
    digest.advance(1000)
    del loaded
    gc.collect()
    assert digest() == whole  # the rest read from the file

    loaded = load_model(path, hash_meanwhile=False)
    digest = loaded._later_sha256
    del loaded
    gc.collect()
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    with pytest.raises(UserError, match="changed while it was checked"):
        digest()

    background.discard_prefetch()
    onnx.save(_layernorm_model(hidden=1000), path)  # a weight of 32 KB: left in the file
    whole = hashlib.sha256(path.read_bytes()).hexdigest()
    for meanwhile in (False, True):
        loaded = load_model(path, hash_meanwhile=meanwhile)
        digest = loaded._later_sha256
        assert isinstance(loaded._source, model_bytes.FileRead) and not loaded._hashing
        assert isinstance(digest, model_bytes.PendingDigest)
        assert background._steps == ([digest.advance] if meanwhile else [])
        assert digest.advance(1000) and digest._hashed == 1000  # read from the file
        if meanwhile:
            assert not background._step()  # the rest, in one step
        assert loaded.sha256 == whole
        background.discard_prefetch()


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_trt_check_hashes_meanwhile_only_for_reports_that_show_the_digest(
    fmt, lean_files, monkeypatch, tmp_path
):
    """`trt-check --format text` (or markdown) loads its model with `hash_meanwhile=False`,
    JSON and SARIF with True, and the JSON report's digest is the file's."""
    from trtforge.analyzer.cli import check as cli

    path, out = tmp_path / "m.onnx", tmp_path / f"report.{fmt}"
    onnx.save(_layernorm_model(hidden=1000), path)
    asked = []
    real_load = session.load_model

    def load_model(model, *args, **kwargs):
        asked.append(kwargs.get("hash_meanwhile"))
        return real_load(model, *args, **kwargs)

    monkeypatch.setattr(session, "load_model", load_model)
    argv = [str(path), "--target", "rtx-1", "--backend", "static", "--format", fmt]
    assert cli.main([*argv, "-o", str(out)]) in (0, 1)
    assert asked == [fmt in ("json", "sarif")]
    if fmt == "json":
        digest = json.loads(out.read_text())["model"]["sha256"]
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_weights_a_sparse_read_leaves_in_the_file_are_read_from_it(lean_files, tmp_path):
    """A sparse read leaves out weights of more than SPARSE_WEIGHT_BYTES (rank 2 or more,
    a float type) too, which the lean structure holds without data: their values, read one
    by one or together (`GraphView.constant_rows`, which reads the graph's bytes), are the
    file's, never the zeros the read left; the graph's bytes kept are its nodes only. A
    bias (rank 1) and an INT64 matrix (values inference reads) are read as they are."""
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((40, 50)).astype(np.float32)  # 8,000 bytes, 2,000 elements
    bias = rng.standard_normal(500).astype(np.float32)
    table = rng.integers(0, 9, (30, 40)).astype(np.int64)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["y"]),
            helper.make_node("Add", ["y", "b"], ["z"]),
            helper.make_node("Gather", ["t", "i"], ["g"]),
        ],
        "sparse",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 40]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [3]),
        ],
        [
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 500]),
            helper.make_tensor_value_info("g", TensorProto.INT64, [3, 40]),
        ],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(np.zeros(1, np.float32), "pad"),
            numpy_helper.from_array(bias.reshape(500), "b"),
            numpy_helper.from_array(table, "t"),
        ],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    read = []

    def recorded(*args):
        read.append(model_bytes.read_sparse(*args))
        return read[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "read_sparse", recorded)
        loaded = load_model(path)
    assert [length for _, length in read[0].skipped] == [weight.nbytes]  # the weight only
    assert isinstance(loaded._source, model_bytes.FileRead)
    assert not onnx.GraphProto.FromString(bytes(loaded.graph_bytes)).initializer
    view = GraphView.of_loaded(loaded, {})
    view.read_structure()
    np.testing.assert_array_equal(view.constant_value("w"), weight)
    values = {name: view.constant_value(name) for name in ("w", "b", "t")}
    grouped = {
        name: values_row
        for _, names, table_rows in view.constant_rows(["w", "b", "t"])
        for name, values_row in zip(names, table_rows, strict=True)
    }
    assert set(grouped) >= {"b", "t"}
    for name, row in grouped.items():
        np.testing.assert_array_equal(row, values[name].reshape(-1))
    np.testing.assert_array_equal(values["b"], bias)
    np.testing.assert_array_equal(values["t"], table)


def test_a_sparse_read_leaves_large_weights_in_the_file(lean_files, tmp_path):
    """A large file is read without the raw data of its initializers of more than 64 KB
    (`model_bytes.read_sparse`); each weight's data, the whole proto and the digest are
    read from the file when asked for, and an unsound weight the structure keeps is read
    back at load."""
    model = _weighted_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    sparse = model_bytes.read_sparse(path, 64 << 10)
    file_bytes = path.read_bytes()
    assert len(sparse.skipped) == 4  # w0, w1, w2, short
    for offset, length in sparse.skipped:
        unread = sparse.data[offset : offset + length].count(0)  # (zeros, but what was read
        assert length > 64 << 10 and unread >= length - (64 << 10)  # ahead: 64 KiB at most)
    kept = bytearray(file_bytes)
    for offset, length in sparse.skipped:
        kept[offset : offset + length] = sparse.data[offset : offset + length]
    assert bytes(kept) == sparse.data[:]  # every other byte read
    loaded = load_model(path)
    assert isinstance(loaded._source, model_bytes.FileRead)
    whole = onnx.load(path)
    structure = loaded.structure.graph.initializer
    names = [t.name for t in structure]
    assert structure[names.index("short")] == whole.graph.initializer[names.index("short")]
    for position in loaded.elided:
        assert loaded.elided_weight(position) == whole.graph.initializer[position]
    assert loaded.sha256 == hashlib.sha256(file_bytes).hexdigest()
    assert loaded.proto == whole
    assert _report(path) == _report(whole) | {"model": _report(path)["model"]}


def test_a_sparse_read_s_constant_weights_are_read_as_views_not_copies(lean_files, tmp_path):
    """The graph's bytes of a file read sparsely (writable memory that nothing writes once
    loaded) are handed over read-only, so the node reader takes views of the weights that
    Constant nodes hold instead of copying them (a 113 MB model of Constant weights copied
    them all); the check is the check of the model in memory."""
    rng = np.random.default_rng(1)
    nodes, current = [], "x"
    for i in range(4):
        weight = numpy_helper.from_array(rng.standard_normal((32, 32)).astype(np.float32))
        nodes.append(helper.make_node("Constant", [], [f"w{i}"], value=weight))
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"y{i}"]))
        current = f"y{i}"
    graph = helper.make_graph(
        nodes,
        "constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 32])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["N", 32])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    loaded = load_model(path)
    assert isinstance(loaded.graph_bytes.obj, mmap.mmap)  # read sparsely
    assert loaded.graph_bytes.readonly
    fields = GraphView(loaded.structure.graph, None, serialized=loaded.graph_bytes).fields
    weights = [fields.attributes[i][0] for i in range(0, len(nodes), 2)]
    assert all(type(w) is memoryview and w.readonly for w in weights)
    expected = [a.SerializeToString() for n in model.graph.node[::2] for a in n.attribute]
    assert [bytes(w) for w in weights] == expected
    assert _report(path) == _report(model) | {"model": _report(path)["model"]}


@pytest.mark.parametrize("change", ["rewritten", "replaced", "touched"])
def test_a_file_changed_after_a_sparse_read_is_refused(change, lean_files, tmp_path):
    """What a sparse read left in the file is read from the file it read: once the file is
    written again, replaced or its modification time changed, reading a weight, the whole
    proto or the digest is an error that says so (never a weight of another model)."""
    import os

    from trtforge.analyzer.errors import UserError

    path = tmp_path / "m.onnx"
    onnx.save(_weighted_model(), path)
    loaded = load_model(path)
    assert isinstance(loaded._source, model_bytes.FileRead)
    if change == "rewritten":
        with open(path, "r+b") as file:
            file.seek(-8, os.SEEK_END)
            file.write(b"\x00" * 8)
    elif change == "replaced":
        other = tmp_path / "other.onnx"
        onnx.save(_weighted_model(), other)
        os.replace(other, path)
    else:
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    for read in (lambda: loaded.elided_weight(loaded.elided[0]), lambda: loaded.sha256):
        with pytest.raises(UserError, match="changed while it was checked"):
            read()
    with pytest.raises(UserError, match="changed while it was checked"):
        loaded.proto  # noqa: B018


@pytest.mark.parametrize("prefetch", [False, True], ids=["no-prefetch", "prefetch"])
def test_the_command_refuses_a_file_changed_before_its_digest_is_read(
    prefetch, lean_files, monkeypatch, tmp_path, capsys
):
    """`trt-check MODEL --format json` on a file read sparsely reads the file again for its
    digest: without a prefetch when the report is written (a thread would keep the command
    from forking its inference child), and a file changed since the check is then a one-line
    error, exit status 2, and no report is written; with a prefetch (the child forked
    already) by a thread while the check goes on, and then either the same error or the
    report with the digest of the file as it was checked — never another file's."""
    import os

    from trtforge.analyzer import reports
    from trtforge.analyzer.cli import check as cli

    if not prefetch:
        monkeypatch.setenv("TRTFORGE_NO_FORK", "1")
    path, out = tmp_path / "m.onnx", tmp_path / "report.json"
    onnx.save(_weighted_model(), path)
    checked = hashlib.sha256(path.read_bytes()).hexdigest()
    real_render = reports.render

    def render_after_a_change(report, *args, **kwargs):
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
        return real_render(report, *args, **kwargs)

    monkeypatch.setattr(reports, "render", render_after_a_change)
    argv = [str(path), "--target", "rtx-1", "--backend", "static", "--exit-zero"]
    code = cli.main([*argv, "--format", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2 or not prefetch:
        assert code == 2 and "the file changed while it was checked" in err
        assert not out.exists()
    else:
        assert code == 0 and json.loads(out.read_text())["model"]["sha256"] == checked
    monkeypatch.setattr(reports, "render", real_render)  # unchanged since: the report is written
    assert cli.main([*argv, "--format", "json", "-o", str(out)]) == 0
    assert (
        json.loads(out.read_text())["model"]["sha256"]
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_the_lean_structure_s_table_is_onnx_s():
    """The bits-per-element table lean structures are made with (`_speculation`, which a
    prefetching child reads without onnx) is the one the installed onnx gives: a new
    element type in onnx fails here before a child and its command could disagree."""
    from trtforge.analyzer import _speculation, validity

    assert _speculation.RAW_DATA_BITS == validity.raw_data_bits()
