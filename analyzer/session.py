"""One model, and what every command derives from it, computed once per version.

A command used to load a model, infer its types, build an onnx-graphsurgeon graph and load its
external data wherever it needed them: `trt-check` inferred shapes twice (advice ran a whole
rewrite), `trt-rewrite --auto` six times. A `ModelSession` owns the loaded model (through
`loading.load_model`: external-data references checked, weights not read) and, lazily:

* its **type table** (`types()`): ONNX shape inference run once by `inference.infer_all`, the
  policy every part of trtforge uses; for a large model checked by the static backend, in a
  forked child while the graph's structure is read (`pending_types()`, `background.py`);
* its **structural problems** (`problems()`): `validity`'s checks, and the attribute errors of
  that same strict inference run;
* its **graphsurgeon graph** (`graph()`), imported from the inferred model: advice matches
  passes on it, the rewrite pass manager takes it (`take_graph()`) and changes it;
* its **weights** (`weights()`): a copy with the external data loaded, for the passes that
  decode weights and for numerical verification.

A session is one *version* of a model. A rewrite produces a new version: a new session
(`derive`), whose types are inferred again, once. The proto of a session must not be changed
in place; whoever changes the graph takes it (`take_graph`) and the session forgets it.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING

import onnx

from trtforge.analyzer._speculation import node_count
from trtforge.analyzer.inference import TypeTable, infer_all, types_or_declared
from trtforge.analyzer.loading import LoadedModel, load_external_into, load_model

if TYPE_CHECKING:
    import onnx_graphsurgeon as gs

    from trtforge.analyzer.validity import Problem

log = logging.getLogger("trtforge.session")

#: the inferred model (a full copy of the graph, ~1 KB a node) is kept for a later graphsurgeon
#: import only up to this many nodes (advice matches only such models), or when the session
#: is opened for a rewrite.
KEEP_INFERRED_NODES = 20_000


class ModelSession:
    """A loaded model and its derived data (see the module docstring).

    Args:
        loaded: the model, from `loading.load_model`.
        for_rewrite: the graph will be imported (trt-rewrite): types are inferred in-process
            and the inferred model is kept for the import, so the model is inferred once.
    """

    def __init__(self, loaded: LoadedModel, for_rewrite: bool = False) -> None:
        self.loaded = loaded
        self.for_rewrite = for_rewrite
        self._types: TypeTable | None = None
        self._inferred: onnx.ModelProto | None = None
        self._strict_error: str | None = None  # what strict inference raised, once it ran
        self._structure: list[Problem] | None = None
        self._typed: list[Problem] | None = None  # `validity.type_problems`, once
        self._graph: gs.Graph | None = None
        self._weights: onnx.ModelProto | None = None
        #: results that commands compute once per version (e.g. trt-check's static report)
        self.memo: dict[object, object] = {}

    @classmethod
    def of(
        cls,
        model: str | os.PathLike | onnx.ModelProto | bytes | LoadedModel | ModelSession,
        for_rewrite: bool = False,
        hash_meanwhile: bool = True,
    ) -> ModelSession:
        """A session for `model`; `model` itself when it is one (`hash_meanwhile`: a path's,
        as `load_model`'s).

        Raises:
            UserError: a path or proto `load_model` refuses.
        """
        if isinstance(model, ModelSession):
            model.for_rewrite = model.for_rewrite or for_rewrite
            return model
        if isinstance(model, LoadedModel):
            loaded = model
        else:
            loaded = load_model(model, hash_meanwhile=hash_meanwhile)
        return cls(loaded, for_rewrite)

    @classmethod
    def unchecked(cls, proto: onnx.ModelProto, for_rewrite: bool = False) -> ModelSession:
        """A session for an in-memory proto that `load_model` has not validated (the rewrite
        pass manager's Python API takes any ModelProto)."""
        return cls(LoadedModel(None, proto, ""), for_rewrite)

    def derive(self, proto: onnx.ModelProto) -> ModelSession:
        """A session for a new version of this model (a rewrite's result, an opset
        conversion): its external data is resolved against this model's folder."""
        loaded = self.loaded
        derived = LoadedModel(loaded.path, proto, "", loaded.external, loaded.external_bytes)
        return ModelSession(derived, self.for_rewrite)

    @property
    def proto(self) -> onnx.ModelProto:
        """The model (a large file's is parsed whole when first asked for: read `structure`
        where weights' values are not needed)."""
        return self.loaded.proto

    @property
    def structure(self) -> onnx.ModelProto:
        """The model without the values of its large weights (`LoadedModel.structure`)."""
        return self.loaded.structure

    # -- types ----------------------------------------------------------------------------
    def types(self) -> TypeTable:
        """Every tensor's type (shape inference, run at most once for this session)."""
        if self._types is None:
            self._infer()
        return self._types

    def _infer(self) -> None:
        structure = self.structure
        keep = self.for_rewrite or len(structure.graph.node) <= KEEP_INFERRED_NODES
        if not keep and self._prefetched():
            return
        # (a lean load's structure infers as the whole model: its weights are left out)
        heavy_at = self.loaded.elided
        inferred, types, strict_error = infer_all(structure, keep_model=keep, heavy_at=heavy_at)
        self._types = types_or_declared(structure, types)
        self._strict_error = strict_error
        self._inferred = inferred

    def _prefetched(self) -> bool:
        """Takes the types of a prefetch of this model's file (`background.prefetch`), when
        one was started and read these bytes."""
        from trtforge.analyzer import background

        loaded = self.loaded
        pending = background.take_prefetch(loaded.path)
        table = None if pending is None else pending.prefetched(loaded, lambda: loaded.sha256)
        if table is None:
            return False
        self._types, self._strict_error, self._inferred = table, table.strict_error, None
        return True

    def pending_types(self):
        """The type table, being computed: `.result()` waits for it, `.close()` stops it.

        For a large model that no graph import will follow, inference runs in a forked
        child while the caller reads the graph's structure (`background.py`); otherwise
        in-process, through `types()`.
        """
        from trtforge.analyzer import background

        loaded = self.loaded
        # (advice may import a small one; bodies' nodes count: `_speculation.node_count`)
        small = node_count(loaded.structure.graph, KEEP_INFERRED_NODES) <= KEEP_INFERRED_NODES
        if self._types is not None or self.for_rewrite or small:
            return _Ready(self)
        if loaded.path is None or not background.prefetching(loaded.path):
            loaded.end_hashing()  # no thread runs when the process forks
            if not background.can_fork(loaded):
                return _Ready(self)
        return _Recorded(self, background.start_type_inference(loaded, loaded))

    def strict_error(self) -> str:
        """What strict shape inference raised on this model ("" when it passed)."""
        if self._strict_error is None:
            if self._types is not None and self._types.strict_error != "shape inference failed":
                self._strict_error = self._types.strict_error
            else:
                self._infer()
        return self._strict_error

    # -- validity -------------------------------------------------------------------------
    def structural_problems(self, view=None) -> list[Problem]:
        """`validity.check_validity` of the model (computed once; `view`: the top-level
        graph's `GraphView`, whose node fields the caller has read)."""
        if self._structure is None:
            from trtforge.analyzer import validity

            sound = self.loaded.sound_initializers
            heads = self.loaded.initializer_heads
            names = heads.names if heads is not None else None
            # (the initializers a lean load has no data of are sound: validity skips them)
            structure = self.structure
            if view is None:
                self._structure = validity.check_validity(
                    structure, sound=sound, initializer_names=names
                )
            else:
                self._structure = validity.check_validity(
                    structure, fields=view.fields, sound=sound, initializer_names=names
                )
        return list(self._structure)

    def problems(self) -> list[Problem]:
        """`validity.validate` of the model: the structural problems and, when the structure
        is sound, the attribute errors strict shape inference found (the session's one run)
        and, when those are none, inputs whose types break their op's type constraints
        (`validity.type_problems`)."""
        from trtforge.analyzer import validity

        problems = self.structural_problems()
        if not any(p.finding.is_error for p in problems):
            error = self.strict_error()
            if error:  # (read against the whole model: it may infer again)
                problems += validity.inference_problems(error, self.proto)
        if not any(p.finding.is_error for p in problems):
            problems += validity.negative_dim_problems(self.structure.graph, self.types())
        if not any(p.finding.is_error for p in problems):
            if self._typed is None:  # (the parser backend asks twice)
                graph = self.structure.graph
                self._typed = validity.type_problems(graph, self.types(), self.loaded.opsets)
            problems += self._typed
        return problems

    # -- graphsurgeon ---------------------------------------------------------------------
    def graph(self) -> gs.Graph:
        """The model as an onnx-graphsurgeon graph with the inferred types (imported once).

        Read-only: whoever changes it takes it (`take_graph`)."""
        if self._graph is None:
            self._graph = self._import()
        return self._graph

    def take_graph(self) -> gs.Graph:
        """The graph, for the caller to change: the session forgets it (a later `graph()`
        imports the model again)."""
        graph = self.graph()
        self._graph = None
        return graph

    def _import(self) -> gs.Graph:
        from trtforge.analyzer.inference import with_weights
        from trtforge.analyzer.rewrite.graphutil import graphsurgeon_silenced, import_graph

        if self._inferred is None and self._types is None:
            self._infer()
        if self._inferred is None and self._types.strict_error != "shape inference failed":
            log.info("the inferred model was not kept; inferring %s again", self.display_path)
            self._inferred = infer_all(self.structure, heavy_at=self.loaded.elided)[0]
        elided = self._elided_by_name()
        if self._inferred is None:
            source = self.proto
            elided = {}
        else:  # its weights put back (idempotent: a second import reads the same model)
            weights = self.structure if elided else self.proto
            source = self._inferred = with_weights(self._inferred, weights)
        with graphsurgeon_silenced():
            graph = import_graph(source, keep_constant=set(elided))
        graph.model_folder = self.loaded.folder  # (`graphutil.parser_constant` reads there)
        if elided:
            _read_from_file(graph, elided, self.loaded)
        return graph

    def _elided_by_name(self) -> dict[str, int]:
        """Name -> position of each initializer a lean load left without data (none when a
        name is given twice: the graph is then imported from the whole model)."""
        loaded = self.loaded
        if not loaded.elided:
            return {}
        heads = loaded.initializer_heads  # (the names read from the file: no wrapper each)
        if heads is not None:
            names = heads.names
        else:
            names = [t.name for t in loaded.structure.graph.initializer]
        elided = {names[i]: i for i in loaded.elided}
        return elided if len(set(names)) == len(names) else {}

    # -- weights --------------------------------------------------------------------------
    def weights(self) -> onnx.ModelProto:
        """A copy of the model with its external data loaded (read once; the proto itself
        when it has none)."""
        if not self.loaded.external:
            return self.proto
        if self._weights is None:
            self._weights = self.with_external_data(self.proto)
        return self._weights

    def weights_loaded(self) -> ModelSession:
        """This version with its external data loaded (for passes that decode weights),
        sharing the type table and the inferred model: weights do not change types."""
        if not self.loaded.external:
            return self
        loaded = self.loaded
        twin = ModelSession(LoadedModel(loaded.path, self.weights(), loaded.sha256), True)
        self.types()
        twin._types, twin._strict_error = self._types, self._strict_error
        twin._structure = self._structure
        twin._inferred, self._inferred = self._inferred, None  # the graph is imported once
        return twin

    def with_external_data(self, proto: onnx.ModelProto) -> onnx.ModelProto:
        """A copy of `proto` (this model or one derived from it) with the external data it
        references loaded from this model's folder: the one place trtforge reads weights.

        Raises:
            UserError: onnx refuses the data (a file with several hard links, a changed file).
        """
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)
        load_external_into(copy, self.loaded)
        return copy

    @property
    def display_path(self) -> str:
        return self.loaded.display_path


def _read_from_file(graph: gs.Graph, elided: dict[str, int], loaded: LoadedModel) -> None:
    """Gives each constant of `graph` (and of its bodies) imported from an initializer that
    a lean load left without data (`elided`: name -> position) values read from the file's
    bytes when first asked for (`LoadedModel.elided_weight`), as graphsurgeon reads any
    initializer's (`LazyValues`): advice that reads no weight reads none, and a rewrite
    writes them as the file holds them."""
    from onnx_graphsurgeon.ir.tensor import Constant, LazyValues

    weight_from_file = _weight_from_file_class()
    lean = loaded.structure.graph.initializer
    for scope in (graph, *graph.subgraphs(recursive=True)):
        for tensor in scope.tensors().values():
            values = getattr(tensor, "_values", None)
            if not isinstance(tensor, Constant) or type(values) is not LazyValues:
                continue
            position = elided.get(tensor.name)
            # (that initializer itself, not a body's of the same name)
            if position is not None and values.tensor == lean[position]:
                tensor._values = weight_from_file(loaded, position, values)


@functools.cache
def _weight_from_file_class() -> type:
    """graphsurgeon's `LazyValues` of an initializer read from the file's bytes (defined
    when first needed: graphsurgeon is imported only by the commands that use it)."""
    from onnx_graphsurgeon.ir.tensor import LazyValues

    class WeightFromFile(LazyValues):
        """`LazyValues` whose tensor is the initializer as the file holds it, made when first
        read (`LoadedModel.elided_weight`); shape, dtype and size are the lean tensor's."""

        def __init__(self, loaded: LoadedModel, position: int, lean: LazyValues) -> None:
            self._loaded, self._position, self._tensor = loaded, position, None
            self.shape, self.dtype, self.nbytes = lean.shape, lean.dtype, lean.nbytes

        @property
        def tensor(self) -> onnx.TensorProto:
            if self._tensor is None:
                self._tensor = self._loaded.elided_weight(self._position)
            return self._tensor

    return WeightFromFile


class _Ready:
    """`pending_types()` when the types are computed in-process."""

    def __init__(self, session: ModelSession) -> None:
        self._session = session

    def meanwhile(self, work) -> None:
        """Nothing: the types are computed when asked for, with nothing to wait for."""

    def result(self) -> TypeTable:
        return self._session.types()

    def close(self) -> None:
        pass


class _Recorded:
    """`pending_types()` of a forked inference: the session keeps its table."""

    def __init__(self, session: ModelSession, pending) -> None:
        self._session, self._pending = session, pending

    def meanwhile(self, work) -> None:
        self._pending.meanwhile(work)

    def result(self) -> TypeTable:
        table = self._pending.result()
        self._session._types = table
        return table

    def close(self) -> None:
        self._pending.close()
