"""The parser backend: per-node verdicts from the installed TensorRT ONNX parser.

The parser runs in worker subprocesses (`_parser_worker`), started with the environment from
`trtforge.analyzer.trt.child_env()`, so a parser that aborts the process becomes a recorded
failure instead of a crash of trt-check. The worker's method (parse, remove the node at fault,
parse again) is described in its module docstring. Weights are never loaded here; the worker
gives the parser the model's path so the parser itself reads external data.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import onnx

from trtforge.analyzer import trt as trt_adapter
from trtforge.analyzer.findings import Finding, Fix
from trtforge.analyzer.loading import LoadedModel
from trtforge.analyzer.report import PLUGIN, SUPPORTED, UNSUPPORTED, NodeVerdict, PluginRef, Report
from trtforge.analyzer.session import ModelSession

log = logging.getLogger("trtforge.parser")

WORKER_MODULE = "trtforge.analyzer.backends._parser_worker"
#: seconds one model may take (all its parses) before its worker is killed.
DEFAULT_TIMEOUT = 300.0
#: seconds a worker may take to import TensorRT and say it is ready.
START_TIMEOUT = 120.0


class WorkerDied(RuntimeError):
    """The worker process ended (parser abort, timeout) before answering."""


def _package_root() -> str:
    """The folder holding the `trtforge` package, for the worker's PYTHONPATH."""
    import trtforge.analyzer

    return str(Path(trtforge.analyzer.__file__).parent.parent.parent)


def worker_env() -> dict[str, str]:
    env = trt_adapter.child_env()
    root = _package_root()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


class Worker:
    """One worker process; `run(path)` returns its answer or raises WorkerDied."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=worker_env(),
        )
        self._buf = b""
        ready = self._read_until(
            lambda m: m.get("event") == "ready", time.monotonic() + START_TIMEOUT
        )
        self.parser = ready.get("parser", "")
        self.version = ready.get("version", "")
        self.plugins = ready.get("plugins", "")

    def _readline(self, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerDied(self._death())
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _read_until(self, done: Callable[[dict], bool], deadline: float, partial=None) -> dict:
        while True:
            try:
                line = self._readline(deadline)
            except TimeoutError:
                self.kill()
                raise WorkerDied("timed out") from None
            message = json.loads(line)
            if done(message):
                return message
            if partial is not None:
                partial(message)

    def _death(self) -> str:
        code = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        lines = [x for x in tail.splitlines() if x.strip()]
        why = f"signal {-code}" if code < 0 else f"exit status {code}"
        return f"parser process died ({why})" + (f": {lines[-1]}" if lines else "")

    def run(self, path: str, timeout: float, partial=None) -> dict:
        self._stderr.seek(0)
        self._stderr.truncate()
        request = json.dumps({"id": path, "path": path}) + "\n"
        try:
            self.proc.stdin.write(request.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerDied(self._death()) from None
        return self._read_until(
            lambda m: m.get("event") == "done", time.monotonic() + timeout, partial
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._stderr.close()


@dataclass
class ParserResult:
    """The parser's verdicts for one model.

    Attributes:
        supported: the whole-model verdict (None when the parser died before answering).
        nodes: per top-level node: {"status": supported|unsupported|unknown, "errors": [...]}.
        graph_errors: errors that name no node.
        crash: why the parser process died or timed out ("" when it did not).
        complete: every node was judged.
    """

    supported: bool | None
    nodes: list[dict]
    graph_errors: list[dict] = field(default_factory=list)
    crash: str = ""
    complete: bool = False
    parses: int = 0
    seconds: float = 0.0
    parser: str = ""
    plugins: str = ""  # what became of registering trtforge's plugins in the worker

    def to_json(self) -> dict:
        return {
            "supported": self.supported,
            "nodes": self.nodes,
            "graph_errors": self.graph_errors,
            "crash": self.crash,
            "complete": self.complete,
            "parses": self.parses,
            "seconds": self.seconds,
            "parser": self.parser,
        }

    @classmethod
    def from_json(cls, data: dict) -> ParserResult:
        return cls(
            supported=data.get("supported"),
            nodes=data.get("nodes", []),
            graph_errors=data.get("graph_errors", []),
            crash=data.get("crash", ""),
            complete=data.get("complete", False),
            parses=data.get("parses", 0),
            seconds=data.get("seconds", 0.0),
            parser=data.get("parser", ""),
        )


def _from_answer(answer: dict | None, node_count: int, crash: str, parser: str) -> ParserResult:
    if answer is None:
        answer = {}
    if "load_error" in answer:
        return ParserResult(
            None,
            [_unknown("model not loadable")] * node_count,
            crash=answer["load_error"],
            parser=parser,
        )
    nodes = answer.get("nodes") or [_unknown("not judged") for _ in range(node_count)]
    supported = answer.get("supported")
    if crash:
        nodes = [n if n["status"] != "unknown" else _unknown(f"not judged: {crash}") for n in nodes]
        # a crash during the first parse means the model does not parse (the process aborts)
        if supported is None:
            supported = False
    return ParserResult(
        supported=supported,
        nodes=nodes,
        graph_errors=answer.get("graph_errors", []),
        crash=crash,
        complete=bool(answer.get("complete")) and not crash,
        parses=answer.get("parses", 0),
        seconds=answer.get("seconds", 0.0),
        parser=parser,
    )


def _unknown(cause: str) -> dict:
    return {"status": "unknown", "errors": [], "cause": cause}


class ParserPool:
    """Worker processes that run the parser on models; a dead worker is replaced.

    Use as a context manager: `with ParserPool(2) as pool: pool.run(paths)`.
    """

    def __init__(self, workers: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.size = max(1, workers)
        self.timeout = timeout
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self.parser = trt_adapter.parser_name()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _take(self) -> Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            worker = Worker()
            with self._lock:
                self._all.append(worker)
            return worker

    def _give(self, worker: Worker) -> None:
        self._idle.put(worker)

    def _drop(self, worker: Worker) -> None:
        worker.kill()
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def run_one(self, path: str | os.PathLike, node_count: int | None = None) -> ParserResult:
        """Parses one model (path on disk) and returns the parser's verdicts."""
        path = str(path)
        if node_count is None:
            node_count = len(onnx.load(path, load_external_data=False).graph.node)
        last: dict | None = None

        def keep(message: dict) -> None:
            nonlocal last
            if message.get("event") == "partial":
                last = message

        worker = self._take()
        try:
            answer = worker.run(path, self.timeout, keep)
        except WorkerDied as died:
            self._drop(worker)
            log.warning("%s: %s", path, died)
            return _from_answer(last, node_count, str(died), worker.parser or self.parser)
        self._give(worker)
        result = _from_answer(answer, node_count, "", worker.parser or self.parser)
        result.plugins = worker.plugins
        return result

    def run(self, paths: Iterable[str | os.PathLike], on_result=None) -> dict[str, ParserResult]:
        """Parses many models in parallel; returns {path: result}."""
        todo: queue.Queue[str] = queue.Queue()
        for p in paths:
            todo.put(str(p))
        results: dict[str, ParserResult] = {}

        def drive() -> None:
            while True:
                try:
                    path = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    result = self.run_one(path)
                except Exception as err:  # noqa: BLE001 - one bad model must not stop the rest
                    result = ParserResult(None, [], crash=f"{type(err).__name__}: {err}")
                results[path] = result
                if on_result is not None:
                    on_result(path, result)

        threads = [threading.Thread(target=drive, daemon=True) for _ in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()


# -- trt-check --backend parser ------------------------------------------------------------


def _finding(error: dict, source: str, inner: str = "") -> Finding:
    code = error.get("code") or "UNKNOWN"
    desc = " ".join((error.get("desc") or "").split())
    func = error.get("func") or ""
    if desc in ("", "false"):  # a checker that only says no
        desc = f"rejected by the parser's {func or 'checks'}"
    where = f" [{func}]" if func and func not in desc else ""
    return Finding(
        code=f"parser/{code}",
        message=f"{desc}{where}",
        hint="see the knowledge base's findings (trt-check --backend static) for fixes",
        source=source,
        inner=inner,
    )


def _find_inner(node: onnx.NodeProto, op: str, name: str, index: int) -> list[str]:
    """Paths (`<attr>/<inner>`…) of the body nodes that match the error, searched depth-first."""
    found: list[str] = []
    for attr in node.attribute:
        bodies = [attr.g] if attr.HasField("g") else list(attr.graphs)
        for body in bodies:
            for position, inner in enumerate(body.node):
                here = f"{attr.name}/{inner.name or inner.op_type}"
                if inner.op_type == op and (inner.name == name if name else position == index):
                    found.append(here)
                found.extend(f"{here}/{deeper}" for deeper in _find_inner(inner, op, name, index))
    return found


_STACK_ENTRY = re.compile(r"^(.*) \((.*)\)$")


def _parser_label(node: onnx.NodeProto) -> str:
    return node.name or (f"node_of_{node.output[0]}" if node.output else node.op_type)


def _follow_stack(node: onnx.NodeProto, stack: list[str], op: str, name: str) -> str | None:
    """Follows the parser's subgraph stack ("<node> (<op>)", "<graph> (<attr>)", …) down from
    `node`; returns the path below it in static's format, or None when it does not fit."""
    parts: list[str] = []
    current, body = node, None
    for depth, entry in enumerate(stack[1:]):
        match = _STACK_ENTRY.match(entry)
        if not match:
            return None
        label, kind = match[1], match[2]
        if depth % 2 == 0:  # a body of the current node, named by its attribute
            attr = next((a for a in current.attribute if a.name == kind), None)
            if attr is None or not attr.HasField("g"):
                return None
            body = attr.g
            parts.append(kind)
        else:  # a node of that body
            assert body is not None
            current = next((n for n in body.node if _parser_label(n) == label), None)
            if current is None:
                return None
            parts.append(current.name or current.op_type)
    if body is None:
        return None
    candidates = [n for n in body.node if n.op_type == op and (not name or n.name == name)]
    if len(candidates) != 1:
        return None
    return "/".join([*parts, candidates[0].name or candidates[0].op_type])


def _inner_path(node: onnx.NodeProto, error: dict) -> str:
    """For a node with bodies: the path of the inner node the error names (static's format,
    e.g. `loop_0/body/Unique_3`), or "" when the error is about the node itself."""
    if not any(a.HasField("g") or len(a.graphs) for a in node.attribute):
        return ""
    op = error.get("op", "")
    name = error.get("node_name", "")
    if op == node.op_type and name == node.name:
        return ""
    outer = node.name or node.op_type
    stack = list(error.get("stack") or [])
    below = _follow_stack(node, stack, op, name) if stack and op else None
    if below is None and op:
        matches = _find_inner(node, op, name, error.get("node", -1))
        below = matches[0] if len(matches) == 1 else None
    if below is None:
        below = "/".join([*stack[1:], name or f"{op}#{error.get('node', '?')}"])
    return f"{outer}/{below}"


def report_from_result(loaded: LoadedModel, result: ParserResult) -> Report:
    """Turns the parser's verdicts into a trt-check report."""
    from trtforge.analyzer.backends.static import model_info, plugin_match

    source = result.parser or trt_adapter.parser_name()
    target = trt_adapter.target()
    verdicts: list[NodeVerdict] = []
    for index, node in enumerate(loaded.structure.graph.node):
        entry = result.nodes[index] if index < len(result.nodes) else _unknown("not judged")
        findings = [_finding(e, source, _inner_path(node, e)) for e in entry.get("errors", [])]
        status = SUPPORTED
        if entry["status"] == "unsupported":
            status = UNSUPPORTED
            if not findings:
                findings = [Finding("parser/UNKNOWN", "rejected by the parser", source=source)]
            if entry.get("dependent"):
                findings.append(
                    Finding(
                        "parser/after-upstream-failure",
                        "rejected only once the unsupported nodes before it were replaced by "
                        "inputs; the rejection may go away when those are fixed",
                        hint="fix the nodes reported before it and check again",
                        source=source,
                        severity="warning",
                    )
                )
        elif entry["status"] == "unknown":
            findings.append(
                Finding(
                    "parser/not-judged",
                    entry.get("cause") or "the parser did not reach this node",
                    hint="fix the nodes reported before it and check again",
                    source=source,
                    severity="warning",
                )
            )
        verdict = NodeVerdict(index, node.name, node.op_type, node.domain, status, findings)
        if status == SUPPORTED and target is not None:
            # accepted through a plugin (no built-in importer): the parser found it registered
            match = plugin_match(node, target)
            if match is not None:
                verdict.status = PLUGIN
                verdict.plugin = PluginRef(match.name, match.version, match.namespace, True)
        verdicts.append(verdict)
    graph_findings = [_finding(e, source) for e in result.graph_errors]
    if result.crash:
        graph_findings.append(
            Finding(
                "parser/crash",
                f"the parser process failed: {result.crash}",
                hint="this is a TensorRT failure; report it with the model, and use "
                "--backend static meanwhile",
                source=source,
            )
        )
    elif (
        result.supported is False
        and not any(v.status == UNSUPPORTED for v in verdicts)
        and not graph_findings
    ):
        graph_findings.append(
            Finding("parser/rejected", "the parser rejected the model", source=source)
        )
    notes = [f"backend: {source}, {result.parses} parse(s), {result.seconds:.2f} s"]
    if result.plugins:
        notes.append(f"trtforge plugins in the parser: {result.plugins}")
    return Report(
        model=model_info(loaded),
        target=target.id if target is not None else "unknown",
        backend="parser",
        nodes=verdicts,
        graph_findings=graph_findings,
        notes=notes,
    )


def parse_loaded(loaded: LoadedModel, timeout: float = DEFAULT_TIMEOUT) -> ParserResult:
    """Runs the parser on a loaded model (writing it to a temporary file if it has no path)."""
    with ParserPool(1, timeout=timeout) as pool:
        if loaded.path is not None:
            return pool.run_one(loaded.path, len(loaded.structure.graph.node))
        with tempfile.TemporaryDirectory(prefix="trtforge-parse-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(loaded.proto.SerializeToString())
            return pool.run_one(path, len(loaded.structure.graph.node))


def add_static_fixes(report: Report, model: LoadedModel | ModelSession) -> None:
    """Gives the parser's findings the hints and fixes the knowledge base has for the node.

    The parser says *that* and *why* a node fails; the knowledge base knows which rewrite pass
    or plugin fixes it. Where both reject a node, the parser's findings keep their message and
    take the static findings' hint and fixes. Only the nodes the parser rejected are judged,
    on the session's type table (no second check of the whole model).
    """
    from trtforge.analyzer.backends.static import StaticChecker
    from trtforge.analyzer.graph import GraphView

    target = trt_adapter.target()
    rejected = [v for v in report.nodes if v.status == UNSUPPORTED]
    if target is None or not rejected:
        return
    session = ModelSession.of(model)
    try:
        checker = StaticChecker(session, target)
        checker.types = session.types()
        view = GraphView(session.structure.graph, checker.types, weights=session.loaded.weight_at)
        nodes = session.structure.graph.node
        known = {v.index: list(checker.evaluate(nodes[v.index], view)[1]) for v in rejected}
        for problem in session.problems():  # as the static report puts them first
            if problem.node in known:
                known[problem.node].insert(0, problem.finding)
    except Exception as err:  # noqa: BLE001 - hints are a bonus; the verdicts stand
        log.debug("no static hints for the parser report: %s", err)
        return
    for verdict in rejected:
        errors = [f for f in known[verdict.index] if f.is_error]
        if errors:
            hint = errors[0].hint
            fixes = tuple(dict.fromkeys(f for e in errors for f in e.fixes))
        else:  # the knowledge base expects an importer; a pass may still replace the op
            fixes = _removing_passes(verdict.domain, verdict.op_type)
            if not fixes:
                continue
            hint = f"replace it with standard ops: trt-rewrite --{fixes[0].name}"
        verdict.reasons = [
            replace(f, hint=hint or f.hint, fixes=fixes or f.fixes)
            if f.code.startswith("parser/") and f.is_error
            else f
            for f in verdict.reasons
        ]


def _removing_passes(domain: str, op_type: str) -> tuple[Fix, ...]:
    """Rewrite passes that replace a custom-domain op (`RewritePass.removes`)."""
    from trtforge.analyzer.rewrite.registry import passes_removing

    if domain in ("", "ai.onnx"):
        return ()
    return tuple(Fix("rewrite", p) for p in passes_removing(domain, op_type))


def check_parser(model: LoadedModel | ModelSession, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Checks `model` (or the model of a session) with the installed TensorRT's ONNX parser
    (in a subprocess)."""
    if trt_adapter.flavour() is None:
        trt_adapter.import_trt()  # raises the UserError that says what to install
    from trtforge.analyzer import validity

    session = ModelSession.of(model)
    loaded = session.loaded
    report = report_from_result(loaded, parse_loaded(loaded, timeout))
    add_static_fixes(report, session)
    # the parser takes some invalid graphs on trust (an unknown opset or IR version, a bad
    # attribute type, value_info of no ONNX type): never call them supported
    validity.attach(report, session.problems())
    # the parser takes an input of 2^32 or more per dim modulo 2^32: never call it supported
    from trtforge.analyzer.kb.graph_rules import input_size_findings

    report.graph_findings.extend(input_size_findings(loaded.structure.graph))
    return report
