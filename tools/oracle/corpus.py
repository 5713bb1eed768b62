"""The agreement corpus: models to hold the static backend against the real parser.

Sources:
  * `wheel`: every `*.onnx` shipped in the onnx wheel under `onnx/backend/test/data/`
    (light/, pytorch-converted/, pytorch-operator/, simple/; the node/ folder is not shipped).
  * `node`: every node test case `onnx.backend.test.case.node.collect_testcases()` generates,
    plus the model cases of `onnx.backend.test.case.model` that carry a model, written out.
  * `fixture`: the project's own fixtures: every `*.onnx` under the fixture folders, and every
    `(name, ModelProto)` returned by `cases()` of a module named `oracle_cases*.py` there
    (default folder: the repository's `tests/`, when running from a checkout).

Held-out variants (not part of the acceptance corpus; a check that the knowledge base
generalizes beyond the exact test cases, since real models differ from node tests):
  * `const`: each node test case with its inputs after the first turned into initializers
    holding the test data — as weights, shapes, axes, pads, scales are in exported models.
  * `dynamic`: each node test case with the first dim of every input of rank >= 2 symbolic
    (`N`), as in models exported with a dynamic batch.
  * `alldyn`: each node test case with every static dim of every input symbolic (1-D
    parameters such as scales or shapes included), as in fully dynamic exports.
  * `fp16`: each single-node test case with its FLOAT inputs, outputs and initializers made
    FLOAT16 (where ONNX allows it), as in half-precision exports.
  * `opset`: each node test case converted down to opsets 11 and 13 (onnx.version_converter),
    as older exporters write them.
  * `torch`: small PyTorch and (tiny, random) transformers models exported with both
    torch.onnx exporters (`tools.oracle.exports`; needs torch).

Models are de-duplicated by the sha256 of their bytes (the first name wins).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx

log = logging.getLogger("trtforge.oracle")


@dataclass(frozen=True)
class CorpusModel:
    """One model of the corpus.

    Attributes:
        name: a readable unique name, e.g. `node/test_abs`.
        source: "wheel", "node" or "fixture".
        path: where the model file is.
        sha256: hex digest of the file's bytes.
    """

    name: str
    source: str
    path: Path
    sha256: str


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_models() -> Iterator[tuple[str, Path]]:
    """Models shipped in the onnx wheel's backend test data."""
    import onnx.backend.test as backend_test

    root = Path(backend_test.__file__).parent / "data"
    for path in sorted(root.rglob("*.onnx")):
        rel = path.relative_to(root)
        name = str(rel.parent if rel.name == "model.onnx" else rel.with_suffix(""))
        yield f"wheel/{name}", path


def _test_cases() -> list:
    from onnx.backend.test.case import model as model_cases
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings(), _quiet_numpy():
        warnings.simplefilter("ignore")
        return list(node_cases.collect_testcases(None)) + list(model_cases.collect_testcases())


def node_case_models(cases: list | None = None) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Every node (and model) test case the installed onnx generates."""
    for case in _test_cases() if cases is None else cases:
        if case.model is not None:
            yield f"{case.kind}/{case.name}", case.model


def const_variants(cases: list | None = None) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Node test cases whose inputs after the first are initializers holding the test data."""
    import numpy as np
    from onnx import numpy_helper

    for case in _test_cases() if cases is None else cases:
        model = case.model
        if model is None or case.kind != "node" or len(model.graph.input) < 2:
            continue
        if not case.data_sets:
            continue
        inputs = case.data_sets[0][0]
        if len(inputs) != len(model.graph.input):
            continue
        variant = onnx.ModelProto()
        variant.CopyFrom(model)
        graph = variant.graph
        keep = [graph.input[0]]
        try:
            for value, data in zip(list(graph.input)[1:], inputs[1:], strict=True):
                if not isinstance(data, np.ndarray) or data.dtype == object:
                    keep.append(value)
                    continue
                tensor = numpy_helper.from_array(data, value.name)
                tensor.data_type = value.type.tensor_type.elem_type or tensor.data_type
                graph.initializer.append(tensor)
        except (TypeError, ValueError) as err:
            log.debug("%s: no const variant (%s)", case.name, err)
            continue
        if len(keep) == len(graph.input):
            continue
        del graph.input[:]
        graph.input.extend(keep)
        yield f"const/{case.name}", variant


#: ops whose attributes name element types or hold typed values: the fp16 variant skips them.
_TYPED_ATTR_OPS = frozenset(
    {"Cast", "CastLike", "Constant", "ConstantOfShape", "EyeLike", "RandomNormal",
     "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
     "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Loop", "If", "Scan"}
)  # fmt: skip


def fp16_variants(cases: list | None = None) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Node test cases with every FLOAT input, output and initializer made FLOAT16.

    Only cases whose single node has no type-bearing attributes; a variant that ONNX shape
    inference rejects (the op has no FLOAT16 signature) is skipped.
    """
    import numpy as np
    from onnx import numpy_helper

    float_, half = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    for case in _test_cases() if cases is None else cases:
        model = case.model
        if model is None or case.kind != "node" or len(model.graph.node) != 1:
            continue
        if model.graph.node[0].op_type in _TYPED_ATTR_OPS:
            continue
        variant = onnx.ModelProto()
        variant.CopyFrom(model)
        graph = variant.graph
        changed = False
        for value in [*graph.input, *graph.output]:
            tensor = value.type.tensor_type if value.type.HasField("tensor_type") else None
            if tensor is not None and tensor.elem_type == float_:
                tensor.elem_type = half
                changed = True
        for index, init in enumerate(graph.initializer):
            if init.data_type == float_:
                array = numpy_helper.to_array(init).astype(np.float16)
                graph.initializer[index].CopyFrom(numpy_helper.from_array(array, init.name))
        if not changed:
            continue
        try:
            onnx.shape_inference.infer_shapes(variant, strict_mode=True)
        except Exception:  # noqa: BLE001 - no FLOAT16 signature for this op
            continue
        yield f"fp16/{case.name}", variant


def older_opset_variants(
    cases: list | None = None, opsets: tuple[int, ...] = (11, 13)
) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Node test cases converted down to older default-domain opsets (as many exporters emit).

    Uses onnx.version_converter; a case it cannot convert, or that is already at or below the
    opset, is skipped.
    """
    from onnx import version_converter

    for case in _test_cases() if cases is None else cases:
        model = case.model
        if model is None or case.kind != "node":
            continue
        current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        for opset in opsets:
            if current <= opset:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    converted = version_converter.convert_version(model, opset)
                onnx.checker.check_model(converted)
            except Exception:  # noqa: BLE001 - no adapter for this op/opset
                continue
            yield f"opset{opset}/{case.name}", converted


def dynamic_variants(
    cases: list | None = None, every_dim: bool = False
) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Node test cases with a symbolic first dim on inputs of rank >= 2 (`every_dim`: every
    static dim of every input symbolic, 1-D parameters included); output dims unknown."""
    prefix = "alldyn" if every_dim else "dynamic"
    for case in _test_cases() if cases is None else cases:
        model = case.model
        if model is None or case.kind != "node":
            continue
        variant = onnx.ModelProto()
        variant.CopyFrom(model)
        changed = False
        for value in variant.graph.input:
            if value.type.WhichOneof("value") != "tensor_type":
                continue
            dims = value.type.tensor_type.shape.dim
            if every_dim:
                for index, dim in enumerate(dims):
                    if dim.HasField("dim_value"):
                        dim.dim_param = f"{value.name}_{index}"
                        changed = True
            elif len(dims) >= 2 and dims[0].HasField("dim_value"):  # activations, not parameters
                dims[0].dim_param = "N"
                changed = True
        if not changed:
            continue
        for value in variant.graph.output:
            if value.type.WhichOneof("value") != "tensor_type":
                continue
            for index, dim in enumerate(value.type.tensor_type.shape.dim):
                dim.dim_param = f"out_{value.name}_{index}"
        yield f"{prefix}/{case.name}", variant


class _quiet_numpy:
    def __enter__(self):
        import numpy as np

        self._old = np.seterr(all="ignore")

    def __exit__(self, *exc):
        import numpy as np

        np.seterr(**self._old)


def default_fixture_dirs() -> list[Path]:
    """The repository's `tests/` folder (this module lives in the checkout's `tools/`)."""
    repo = Path(__file__).resolve().parents[2]
    tests = repo / "tests"
    return [tests] if tests.is_dir() and (repo / "pyproject.toml").exists() else []


def fixture_models(folders: Iterable[Path]) -> Iterator[tuple[str, Path | onnx.ModelProto]]:
    """The project's fixtures: `*.onnx` files and `cases()` of `oracle_cases*.py` modules."""
    for folder in folders:
        folder = Path(folder)
        for path in sorted(folder.rglob("*.onnx")):
            yield f"fixture/{path.relative_to(folder)}", path
        for module_path in sorted(folder.rglob("oracle_cases*.py")):
            spec = importlib.util.spec_from_file_location(
                f"_trtforge_oracle_{abs(hash(str(module_path)))}", module_path
            )
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            cases = getattr(module, "cases", None)
            if cases is None:
                log.warning("%s defines no cases()", module_path)
                continue
            for name, model in cases():
                yield f"fixture/{module_path.stem}/{name}", model


def build_corpus(
    workdir: Path,
    sources: Iterable[str] = ("wheel", "node", "fixture"),
    fixture_dirs: Iterable[Path] | None = None,
) -> list[CorpusModel]:
    """Gathers the corpus, writing generated models into `workdir`; de-duplicated by sha256."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sources = set(sources)
    out: list[CorpusModel] = []
    seen: set[str] = set()

    def add(name: str, source: str, item: Path | onnx.ModelProto) -> None:
        if isinstance(item, onnx.ModelProto):
            data = item.SerializeToString()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                return
            # the digest keeps two cases that share a name from overwriting each other
            path = workdir / source / f"{name.replace('/', '__')}-{digest[:10]}.onnx"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            path = Path(item)
            digest = _digest(path)
            if digest in seen:
                return
        seen.add(digest)
        out.append(CorpusModel(name, source, path, digest))

    if "wheel" in sources:
        for name, path in wheel_models():
            add(name, "wheel", path)
    cases = (
        _test_cases() if sources & {"node", "const", "dynamic", "alldyn", "fp16", "opset"} else []
    )
    if "node" in sources:
        for name, model in node_case_models(cases):
            add(name, "node", model)
    if "const" in sources:
        for name, model in const_variants(cases):
            add(name, "const", model)
    if "dynamic" in sources:
        for name, model in dynamic_variants(cases):
            add(name, "dynamic", model)
    if "alldyn" in sources:
        for name, model in dynamic_variants(cases, every_dim=True):
            add(name, "alldyn", model)
    if "opset" in sources:
        for name, model in older_opset_variants(cases):
            add(name, "opset", model)
    if "fp16" in sources:
        for name, model in fp16_variants(cases):
            add(name, "fp16", model)
    if "torch" in sources:
        from tools.oracle.exports import export_models

        for name, path in export_models():
            add(name, "torch", path)
    if "fixture" in sources:
        dirs = default_fixture_dirs() if fixture_dirs is None else list(fixture_dirs)
        for name, item in fixture_models(dirs):
            add(name, "fixture", item)
    return out
