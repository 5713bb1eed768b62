"""Worker process of the parser backend: runs TensorRT's ONNX parser on models, one at a time.

Started by `trtforge.analyzer.backends.parser.ParserPool` as
`python -m trtforge.analyzer.backends._parser_worker` with `trtforge.analyzer.trt.child_env()`
(so TensorRT-RTX finds `libtensorrt_rtx.so`). It reads one JSON request per line on stdin,
`{"id": ..., "path": "model.onnx"}`, and answers with JSON lines on stdout:
`{"event": "ready", ...}` once, then per request any number of `{"event": "partial", ...}`
(the state so far, so a parser abort loses only the node being parsed) and one
`{"event": "done", ...}`. If the parser aborts the process, the pool records it.

Per-node verdicts (why it is not just one parse): the parser stops at the first node it cannot
import, and `supports_model_v2` then reports every subgraph as unsupported. So the worker parses,
takes the node at fault (the one top-level node that is in none of the reported subgraphs),
records the parser's errors against it, removes it — its outputs become graph inputs with the
types shape inference found — and parses again, until the rest parses. Every other node keeps
its full context (constants stay constants), unlike cutting the graph into pieces. A node whose
inputs come from a removed node with no known tensor type cannot be judged and stays
`unknown`; so do all nodes after an error that names no node (a graph-level error), except
an initializer the parser cannot import (an INT16 zero point): that error goes to the nodes
reading the initializer, which are removed as above (initializers only removed nodes read are
left out of the next parse). A node
rejected only in a later parse while it reads (directly or not) such a stand-in input is marked
`dependent`: its verdict may be an artifact of the stand-in (e.g. a shape computation that lost
its values), so the agreement score leaves it out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path

import onnx

from trtforge.analyzer.inference import infer_model, symbolic_types
from trtforge.analyzer.trt import parser_error

log = logging.getLogger("trtforge.parser_worker")

#: the parser stops after this many failing nodes per model (each costs one more parse).
MAX_PARSES = 400


_PARSING = re.compile(r"^Parsing node: (.*) \[([^\]]*)\]$")
_WHILE = re.compile(r"While parsing node number (\d+) \[")


def _make_logger(trt):
    """A TensorRT logger that keeps the parser's "Parsing node" and error messages."""

    class Recorder(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.parsing: list[tuple[str, str]] = []
            self.failed_at: list[int] = []

        def clear(self) -> None:
            self.parsing.clear()
            self.failed_at.clear()

        def log(self, severity, msg) -> None:
            if msg.startswith("Parsing node: "):
                match = _PARSING.match(msg.strip())
                if match:
                    self.parsing.append((match[1], match[2]))
            elif severity in (trt.ILogger.ERROR, trt.ILogger.INTERNAL_ERROR):
                match = _WHILE.search(msg)
                if match:
                    self.failed_at.append(int(match[1]))

    return Recorder()


class Parser:
    """One TensorRT builder, a fresh network and parser per parse."""

    def __init__(self) -> None:
        from trtforge.analyzer import trt as trt_adapter

        self.trt = trt_adapter.import_trt()
        self.logger = _make_logger(self.trt)
        self.quiet = self.trt.Logger(self.trt.Logger.INTERNAL_ERROR)
        self.builder = self.trt.Builder(self.logger)
        self.name = trt_adapter.parser_name()
        self.version = trt_adapter.version()
        self.plugins = self._register_trtforge_plugins()

    def _register_trtforge_plugins(self) -> str:
        """Registers trtforge's own plugins (when their kernels were built), as trt-build does.

        Then nodes for trtforge plugins parse as they will when the engine is built. Skipped
        when the plugin SDK is absent, its kernels were not built, or
        TRTFORGE_PARSER_PLUGINS=0.
        """
        if os.environ.get("TRTFORGE_PARSER_PLUGINS", "1") == "0":
            return "disabled"
        try:
            from trtforge.plugins import registry
        except ImportError:
            return "no plugin SDK"
        try:
            done = registry.register(trt=self.trt)
        except Exception as err:  # noqa: BLE001 - kernels not built, library not loadable
            log.debug("trtforge plugins not registered: %s", err)
            return f"not registered: {str(err).splitlines()[0]}"
        return f"{len(done.specs)} registered ({done.backend})"

    def parse(
        self, data: bytes, path: str, record: bool = False
    ) -> tuple[bool, list[list[int]], list[dict]]:
        """Returns (accepted, node lists of the reported subgraphs, errors).

        With `record`, `self.logger.parsing` then holds the (label, op) of each node the parser
        started, in order, and `self.logger.failed_at` the node numbers its error messages
        name. (Recording costs a Python call per log message, so it is off by default.)
        """
        trt = self.trt
        self.logger.clear()
        network = self.builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger if record else self.quiet)
        if hasattr(parser, "supports_model_v2"):
            ok = bool(parser.supports_model_v2(data, path))
            subgraphs = [list(parser.get_subgraph_nodes(i)) for i in range(parser.num_subgraphs)]
        else:  # TensorRT before 10.x's supports_model_v2: node lists come back directly
            ok, collection = parser.supports_model(data, path)
            ok = bool(ok)
            subgraphs = [list(nodes) for nodes, _ in collection]
        errors = [parser_error(parser.get_error(i)) for i in range(parser.num_errors)]
        del parser, network
        return ok, subgraphs, errors


def _used_names(graph: onnx.GraphProto, into: set[str]) -> set[str]:
    """Every tensor name a graph's nodes (and their bodies) read."""
    for node in graph.node:
        into.update(n for n in node.input if n)
        for attr in node.attribute:
            if attr.HasField("g"):
                _used_names(attr.g, into)
            for body in attr.graphs:
                _used_names(body, into)
    return into


def _tensor_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Types of the top-level tensors, from shape inference as the static backend runs it
    (`graph.infer_model`: no large weights, data propagation only where it helps and is safe)."""
    graph = (infer_model(model) or model).graph
    types: dict[str, onnx.TypeProto] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        if value.type.WhichOneof("value") is not None:
            types.setdefault(value.name, value.type)
    # what ONNX leaves untyped (com.microsoft ops' outputs and what follows): without a type a
    # node reading a refused one's output cannot stand in the next parse ("not judged": an
    # optimized BigBird's Attention, which the parser refuses)
    untyped = {o for node in model.graph.node for o in node.output if o and o not in types}
    if untyped:
        types.update(symbolic_types(model, untyped))
    return types


#: element types a TensorRT network input can have (others fail in the parser's importInput).
_INPUT_TYPES = frozenset(
    getattr(onnx.TensorProto, name)
    for name in ("FLOAT", "FLOAT16", "BFLOAT16", "INT32", "INT64", "INT8", "UINT8", "BOOL")
)
#: the parser's errors on a node after a refused one that are about the stand-in input, not
#: the node: a network input used as a shape tensor of a type a shape tensor cannot have, or
#: the shape analyzer's internal assertion on a shape computed from one (a Range whose bound
#: stands in for a refused DequantizeLinear).
_STAND_IN_SHAPE = re.compile(
    r"is a shape tensor and must have type Int32 or Int64|graphShapeAnalyzer\.cpp.*"
    r"Error Code 2: Internal Error"
)
#: parser functions whose errors concern the graph's inputs/outputs, not a node.
GRAPH_FUNCS = frozenset({"importInput", "importInputs", "markOutput", "importModel"})
#: the parser's error for an initializer it cannot convert (importInitializers)
_BAD_INITIALIZER = re.compile(r"Failed to import initializer: (\S+)\s*$")


def _label(node: onnx.NodeProto) -> tuple[str, str]:
    """How the parser's log names a node: its name, else `node_of_<first output>`."""
    name = node.name or (f"node_of_{node.output[0]}" if node.output else "")
    return name, node.op_type


def _usable_as_input(value: onnx.TypeProto | None) -> bool:
    """Only a tensor of a TensorRT input type and known rank can stand in as a graph input."""
    if value is None or value.WhichOneof("value") != "tensor_type":
        return False
    tensor = value.tensor_type
    return tensor.elem_type in _INPUT_TYPES and tensor.HasField("shape")


class Partition:
    """Parses a model repeatedly, removing each node at fault, to judge every node."""

    def __init__(self, parser: Parser, model: onnx.ModelProto, path: str, emit) -> None:
        self.parser = parser
        self.model = model
        self.path = path
        self.emit = emit
        n = len(model.graph.node)
        self.status = ["unknown"] * n
        self.errors: list[list[dict]] = [[] for _ in range(n)]
        self.cause = [""] * n
        self.found_in = [0] * n  # which parse rejected the node (1: the model as it is)
        self.dependent: set[int] = set()  # rejected while reading a stand-in input
        self.graph_errors: list[dict] = []
        self.supported: bool | None = None
        self.parses = 0
        self.complete = False
        self.types: dict[str, onnx.TypeProto] | None = None
        self._reads: list[set[str]] | None = None
        self._data = b""

    @property
    def reads(self) -> list[set[str]]:
        """Per top-level node: every tensor name it (and its bodies) reads."""
        if self._reads is None:
            self._reads = [
                _used_names(onnx.GraphProto(node=[node]), set()) for node in self.model.graph.node
            ]
        return self._reads

    def result(self) -> dict:
        return {
            "supported": self.supported,
            "nodes": [
                {
                    "status": s,
                    "errors": e,
                    **({"cause": c} if c else {}),
                    **({"parse": k} if k else {}),
                    **({"dependent": True} if i in self.dependent else {}),
                }
                for i, (s, e, c, k) in enumerate(
                    zip(self.status, self.errors, self.cause, self.found_in, strict=True)
                )
            ],
            "graph_errors": self.graph_errors,
            "parses": self.parses,
            "complete": self.complete,
        }

    def _build(self, alive: list[int], removed: list[int]) -> onnx.ModelProto:
        """The model with only `alive` nodes; removed nodes' outputs become graph inputs."""
        src = self.model.graph
        graph = onnx.GraphProto()
        graph.name = src.name
        graph.node.extend(src.node[i] for i in alive)
        produced_by_removed = {o for i in removed for o in src.node[i].output if o}
        used = set().union(*(self.reads[i] for i in alive))
        # initializers only removed nodes read go too: the parser imports every initializer,
        # and one it cannot convert (an INT16 zero point) would fail the graph again
        keep = used | {o.name for o in src.output}
        dropped = {t.name for t in src.initializer if t.name not in keep}
        graph.initializer.extend(t for t in src.initializer if t.name not in dropped)
        graph.sparse_initializer.extend(src.sparse_initializer)
        graph.value_info.extend(src.value_info)
        graph.input.extend(i for i in src.input if i.name not in dropped)
        assert self.types is not None
        have = {v.name for v in graph.input}
        for name in sorted(produced_by_removed & used):
            if name in have:
                continue
            graph.input.append(onnx.helper.make_value_info(name, self.types[name]))
        outputs = [o for o in src.output if o.name not in produced_by_removed]
        if not outputs:  # every output came from a removed node: expose what the rest computes
            consumed = used
            for i in alive:
                for name in src.node[i].output:
                    if name and name not in consumed and _usable_as_input(self.types.get(name)):
                        outputs.append(onnx.helper.make_value_info(name, self.types[name]))
        graph.output.extend(outputs)
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        model.graph.CopyFrom(graph)
        return model

    def _downstream(self, alive: list[int], removed: list[int]) -> set[int]:
        """Alive nodes that read (directly or not) an output of a removed node."""
        src = self.model.graph
        tainted = {o for i in removed for o in src.node[i].output if o}
        out: set[int] = set()
        for i in alive:  # graph order is topological
            if not self.reads[i].isdisjoint(tainted):
                out.add(i)
                tainted.update(o for o in src.node[i].output if o)
        return out

    def _cascade(self, alive: list[int], removed: list[int]) -> None:
        """Removes (as `unknown`) nodes fed by a removed node's output of unusable type."""
        assert self.types is not None
        src = self.model.graph
        changed = True
        while changed:
            changed = False
            bad = {
                o
                for i in removed
                for o in src.node[i].output
                if o and not _usable_as_input(self.types.get(o))
            }
            if not bad:
                return
            for i in list(alive):
                if not self.reads[i].isdisjoint(bad):
                    alive.remove(i)
                    removed.append(i)
                    self.cause[i] = (
                        "not judged: reads an output of an unsupported node whose type is "
                        "unknown or cannot be a TensorRT network input"
                    )
                    changed = True

    def _failing(
        self, alive: list[int], subgraphs: list[list[int]], errors: list[dict]
    ) -> tuple[dict[int, list[dict]], list[dict]]:
        """Which nodes the failed parse rejects: ({position in `alive`: errors}, graph errors).

        `supports_model_v2` first runs the parser's per-op checkers over every node (each
        failing checker adds an error naming its node), then imports the nodes in order and
        stops at the first that fails. So:
          * an error from importing the graph's inputs/outputs concerns no node;
          * an error naming a top-level node (index and op agree) belongs to that node;
          * the node the import stopped at is left out of every reported subgraph (used only
            when there is no graph-level error, which leaves every node out);
          * errors raised in helpers name no node and leave every node in a subgraph: the node
            is the one the parser's log names ("While parsing node number N"), else the last
            top-level node it started parsing.
        Errors not claimed by a node named in them (e.g. from a node inside an If body) go to
        the node found by the other rules.
        """
        graph_errors = [e for e in errors if e.get("func") in GRAPH_FUNCS]
        node_errors = [e for e in errors if e.get("func") not in GRAPH_FUNCS]
        nodes = self.model.graph.node
        failing: dict[int, list[dict]] = {}
        unclaimed: list[dict] = []
        for err in list(node_errors):
            # an initializer the parser cannot import (an INT16 zero point, ...) fails the
            # whole graph before any node: it belongs to the nodes that read it, and goes
            # with them
            match = _BAD_INITIALIZER.search(err.get("desc", ""))
            readers = (
                [p for p, i in enumerate(alive) if match.group(1) in self.reads[i]] if match else []
            )
            if readers:
                node_errors.remove(err)
                for position in readers:
                    failing.setdefault(position, []).append(err)
        for err in node_errors:
            position = err.get("node", -1)
            if (
                isinstance(position, int)
                and 0 <= position < len(alive)
                and err.get("op") == nodes[alive[position]].op_type
                and err.get("node_name", "") in ("", nodes[alive[position]].name)
            ):
                failing.setdefault(position, []).append(err)
            else:
                unclaimed.append(err)
        if graph_errors:
            for err in unclaimed:  # cannot tell which node: keep them with the graph's
                graph_errors.append(err)
            return failing, graph_errors
        if not unclaimed:
            return failing, []
        covered = {i for nodes_ in subgraphs for i in nodes_}
        stopped = [i for i in range(len(alive)) if i not in covered and i not in failing]
        if not stopped:
            self.parser.parse(self._data, self.path, record=True)
            log_ = self.parser.logger
            numbers = [n for n in log_.failed_at if 0 <= n < len(alive)]
            if numbers:
                stopped = [numbers[0]]
            else:
                labels: dict[tuple[str, str], int] = {}
                for position, original in enumerate(alive):
                    labels.setdefault(_label(nodes[original]), position)
                for label in reversed(log_.parsing):
                    if label in labels:
                        stopped = [labels[label]]
                        break
        if not stopped:
            return failing, unclaimed
        for position in stopped:
            failing.setdefault(position, []).extend(unclaimed)
        return failing, []

    def run(self) -> dict:
        n = len(self.model.graph.node)
        alive = list(range(n))
        removed: list[int] = []
        self._data = self.model.SerializeToString()
        while alive:
            self.parses += 1
            ok, subgraphs, errors = self.parser.parse(self._data, self.path)
            if self.supported is None:
                self.supported = ok
            if ok:
                for i in alive:
                    self.status[i] = "supported"
                self.complete = True
                break
            failing, graph_errors = self._failing(alive, subgraphs, errors)
            tainted = self._downstream(alive, removed) if removed else set()
            for position, errs in failing.items():
                original = alive[position]
                self.found_in[original] = self.parses
                if original in tainted and all(
                    _STAND_IN_SHAPE.search(e.get("desc", "")) for e in errs
                ):
                    # the stand-in, a float network input, cannot be a shape tensor: what
                    # the refused node computes might be (a Range bound, a Reshape's shape)
                    self.cause[original] = (
                        "not judged: it computes a shape from the output of a refused node, "
                        "which stands in as a network input TensorRT cannot take as a shape"
                    )
                    continue
                self.status[original] = "unsupported"
                self.errors[original] = errs
                if original in tainted:
                    self.dependent.add(original)
            if graph_errors or not failing:
                self.graph_errors.extend(graph_errors or errors)
                for position, original in enumerate(alive):
                    if position not in failing:
                        self.cause[original] = (
                            "not judged: the parser failed on the graph as a whole"
                        )
                break
            for position in sorted(failing, reverse=True):
                removed.append(alive.pop(position))
            if not alive:
                self.complete = True
                break
            if self.parses >= MAX_PARSES:
                for i in alive:
                    self.cause[i] = f"not judged: stopped after {MAX_PARSES} parses"
                break
            if self.types is None:
                self.types = _tensor_types(self.model)
            self._cascade(alive, removed)
            if not alive:
                self.complete = True
                break
            self._data = self._build(alive, removed).SerializeToString()
            self.emit(self.result())
        return self.result()


def _handle(parser: Parser, request: dict, out) -> None:
    rid = request.get("id")

    def emit(result: dict, event: str = "partial") -> None:
        out.write(json.dumps({"event": event, "id": rid, **result}) + "\n")
        out.flush()

    start = time.perf_counter()
    path = request["path"]
    crash_on = os.environ.get("TRTFORGE_TEST_WORKER_ABORT")
    if crash_on and crash_on in path:  # tests: stand in for a parser that aborts the process
        os.abort()
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as err:  # noqa: BLE001
        emit({"load_error": f"{type(err).__name__}: {err}"}, "done")
        return
    folder_path = str(Path(path).resolve())
    result = Partition(parser, model, folder_path, emit).run()
    result["seconds"] = round(time.perf_counter() - start, 4)
    emit(result, "done")


def main() -> int:
    # A Ctrl-C reaches the whole process group: the parent decides (it cleans up, reports
    # "interrupted" and closes our stdin, which ends this loop); the worker does not print a
    # KeyboardInterrupt of its own.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # TensorRT's logger prints to stdout: keep the real stdout for the protocol only and send
    # everything else written to file descriptor 1 to stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    parser = Parser()
    ready = {
        "event": "ready",
        "parser": parser.name,
        "version": parser.version,
        "plugins": parser.plugins,
        "pid": os.getpid(),
    }
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        _handle(parser, json.loads(line), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
