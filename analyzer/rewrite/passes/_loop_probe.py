"""Running one Loop alone in onnxruntime, for passes that recognise a loop by what it computes.

Exported detection post-processing loops (torchvision's mask pasting, keypoint decoding) are
written differently by every exporter version; what stays is what they compute from their
per-iteration inputs. A pass finds a candidate Loop by its interface (which outer tensors the
body reads, their types and ranks), runs the loop alone on generated inputs, and compares the
result with the computation it would put in its place: the match is the behaviour, not the
nodes (paste_masks.py, heatmap_keypoints.py).

Helpers here: the outer tensors a body reads, split into build-time constants, values computed
from constants and the shapes of other reads (`num_keypoints = Shape(maps)[1]`), and data;
`LoopProbe` builds the probe model (those computations, and a copy of the Loop whose trip count
and condition are fed) and runs it.
"""

from __future__ import annotations

from trtforge.analyzer.lazy import lazy_import
from trtforge.analyzer.rewrite.graphutil import const_value, export_graph, producer

np = lazy_import("numpy")
gs = lazy_import("onnx_graphsurgeon")

RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike"})


def outer_reads(body: gs.Graph) -> list[gs.Tensor] | None:
    """The tensors `body` reads from the enclosing graph (first use order), or None when the
    body holds a nested subgraph (not handled)."""
    inner = {id(t) for t in body.inputs}
    for node in body.nodes:
        if any(isinstance(v, gs.Graph) for v in node.attrs.values()):
            return None
        inner.update(id(t) for t in node.outputs)
    reads, seen = [], set()
    for node in body.nodes:
        for t in node.inputs:
            if t.name and id(t) not in inner and id(t) not in seen:
                seen.add(id(t))
                reads.append(t)
    return reads


def closure(tensor: gs.Tensor, nodes: list[gs.Node], shape_of: set[str] | None = None) -> bool:
    """Whether `tensor` is computed from build-time constants only — and, with `shape_of`, from
    the shapes of the tensors named there. Appends the nodes computing it to `nodes`
    (producers first) when it is. Iterative: the upstream of a data tensor can be thousands of
    nodes deep."""
    found: list[gs.Node] = []
    visited: set[int] = set()
    stack: list[tuple[gs.Tensor, bool]] = [(tensor, False)]
    while stack:
        t, done = stack.pop()
        if isinstance(t, gs.Constant):
            continue
        node = producer(t)
        if node is None or node.op in RANDOM_OPS:
            return False
        if any(isinstance(v, gs.Graph) for v in node.attrs.values()):
            return False
        if done:  # its inputs' producers are in `found` already
            found.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((t, True))
        if node.op == "Shape" and shape_of is not None and node.inputs[0].name in shape_of:
            continue  # the shape of a data read: fed to the probe
        stack.extend((x, False) for x in node.inputs if x.name)
    have = {id(n) for n in nodes}
    nodes.extend(n for n in found if id(n) not in have)
    return True


def is_true(tensor: gs.Tensor) -> bool:
    """A build-time constant True (initializer or Constant node)."""
    value = const_value(tensor)
    return value is not None and value.size == 1 and bool(value.reshape(-1)[0])


def counted_loops(graph: gs.Graph, outputs: int):
    """(Loop node, body) for every default-domain Loop of `graph` run for a trip count with a
    condition that is absent or constant True, no loop-carried value, and `outputs` scan
    outputs: the shape of a per-detection post-processing loop."""
    for node in graph.nodes:
        if node.op != "Loop" or (node.domain or "") not in ("", "ai.onnx"):
            continue
        body = node.attrs.get("body")
        if not isinstance(body, gs.Graph) or len(node.inputs) != 2:
            continue
        if len(node.outputs) != outputs or len(body.inputs) != 2:
            continue
        if len(body.outputs) != outputs + 1:
            continue
        if node.inputs[1].name and not is_true(node.inputs[1]):
            continue
        yield node, body


def split_reads(reads: list[gs.Tensor]) -> tuple[list[gs.Node], list[gs.Tensor]]:
    """(the nodes computing the reads that are not data, the data reads): a read is data
    unless it is computed from constants and the shapes of data reads."""
    data = [t for t in reads if not closure(t, [], None)]
    while True:  # a read computed from the shapes of the other data reads is not data
        names = {t.name for t in data}
        derived = [t for t in data if closure(t, [], names - {t.name})]
        if not derived:
            break
        data.remove(derived[0])
    names = {t.name for t in data}
    nodes: list[gs.Node] = []
    for t in reads:
        if t.name not in names:
            closure(t, nodes, names)
    return nodes, data


def _detached(node: gs.Node) -> gs.Node:
    """A copy of `node` whose variables are new tensors of the same names (the graph keeps its
    own): the probe's graph refers to them by name."""

    def fresh(t):
        if isinstance(t, gs.Constant) or not t.name:
            return t
        return gs.Variable(t.name, t.dtype, t.shape)

    return node.copy(
        inputs=[fresh(t) for t in node.inputs], outputs=[fresh(t) for t in node.outputs]
    )


class LoopProbe:
    """One Loop, alone, in onnxruntime: `probe(feeds, trips)` → the loop's outputs.

    `data` are the loop's data reads, fed by name: name -> (dtype, shape of what is fed; a
    dim may be a name); `nodes` compute its other reads. The trip count is fed, the
    condition is True.
    """

    TRIP, COND = "loop_probe_trip", "loop_probe_cond"

    def __init__(self, loop: gs.Node, data: dict[str, tuple], nodes: list[gs.Node], opset: int):
        import onnxruntime as ort

        trip = gs.Variable(self.TRIP, np.int64, [])
        cond = gs.Variable(self.COND, np.bool_, [])
        outs = [gs.Variable(f"loop_probe_out_{k}", t.dtype) for k, t in enumerate(loop.outputs)]
        inputs = [gs.Variable(name, dtype, list(shape)) for name, (dtype, shape) in data.items()]
        body = loop.attrs["body"].copy()
        kept = {id(t) for t in [*body.inputs, *body.outputs]}
        for t in body.tensors().values():  # shapes seen with the real inputs do not hold here
            if isinstance(t, gs.Variable) and id(t) not in kept:
                t.shape = None
        for t in body.outputs[1:]:
            t.shape = None
        graph = gs.Graph(
            nodes=[
                *[_detached(n) for n in nodes],
                gs.Node("Loop", attrs={"body": body}, inputs=[trip, cond], outputs=outs),
            ],
            inputs=[*inputs, trip, cond],
            outputs=outs,
            opset=opset,
        )
        proto = export_graph(graph)
        proto.ir_version = min(proto.ir_version, 8)
        self.session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )

    def __call__(self, feeds: dict[str, np.ndarray], trips: int) -> list[np.ndarray]:
        feeds = dict(feeds)
        feeds[self.TRIP] = np.array(trips, np.int64)
        feeds[self.COND] = np.array(True)
        return self.session.run(None, feeds)


def dtype_kind(tensor: gs.Tensor) -> str:
    """The NumPy kind of a tensor's dtype ("f", "i", "u", "b", …), "" when unknown or not a
    NumPy type (bfloat16, float8: such loops are not probed)."""
    try:
        return np.dtype(tensor.dtype).kind if tensor.dtype is not None else ""
    except TypeError:
        return ""


def first_line(err: Exception, limit: int = 120) -> str:
    """The first line of an error, shortened, for a skip reason."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:limit]
