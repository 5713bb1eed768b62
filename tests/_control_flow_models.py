"""Models with If/Loop/Scan bodies for the tests of shape inference's native paths
(`tests/perf/test_short_names.py`, `tests/perf/test_split_inference.py`): the real ones at
hand, and random graphs built to exercise what a body's types depend on.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtforge.analyzer import _speculation

REPO = Path(__file__).resolve().parents[1]


def control_flow_models() -> list[tuple[str, onnx.ModelProto]]:
    """Models with If/Loop/Scan bodies: torchvision's detection exports (Loops and Ifs,
    nested, reading outer names), a TorchScript model's exports at opsets 11 and 13 (Loops
    holding Ifs: `examples/export_scripted_loops.py`) and ONNX's node test cases that hold
    bodies."""
    from onnx.backend.test.case import node as node_cases

    fixtures = REPO / "tests" / "fixtures"
    paths = sorted((fixtures / "detection").glob("*.onnx"))
    paths += sorted((fixtures / "scripted").glob("*.onnx"))
    models = [(path.name, onnx.load(path, load_external_data=False)) for path in paths]
    with np.errstate(all="ignore"):  # the cases compute their expected outputs
        cases = node_cases.collect_testcases(None)
    for case in cases:
        if not _speculation.CONTROL_FLOW.isdisjoint(n.op_type for n in case.model.graph.node):
            models.append((case.name, case.model))
    return models


class _Builder:
    """A random graph of float values of two shapes, [batch, 8, 16] ("3d") and [batch, 128]
    ("2d"), and the nodes that make them; every name new."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = itertools.count()
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[str, str] = {"x": "3d"}  # name -> kind, readable at the top level
        self.symbols: list[str] = []  # int64 values holding dims made up by inference
        self.shapes: dict[str, str] = {}  # int64 shape values -> the kind they reshape to
        self.constants: list[str] = []
        self.made: dict[tuple[int, ...], str] = {}

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def pick(self, kind: str | None = None) -> str:
        names = [n for n, k in self.values.items() if kind is None or k == kind]
        return self.rng.choice(names)

    def add(self, op: str, inputs: list[str], kind: str | None, **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        if kind is not None:
            self.values[out] = kind
        return out

    def constant(self, values: list[int]) -> str:
        """A Constant node of `values`; half the time one made before (read across bodies)."""
        made = self.made.get(tuple(values))
        if made is not None and self.rng.random() < 0.5:
            return made
        out = self.made[tuple(values)] = self.name("const")
        array = np.array(values, dtype=np.int64)
        self.nodes.append(
            helper.make_node("Constant", [], [out], value=numpy_helper.from_array(array))
        )
        self.constants.append(out)
        return out

    # --- the top-level steps ---------------------------------------------------------------

    def elementwise(self) -> None:
        op = self.rng.choice(["Relu", "Neg", "Sigmoid", "Identity"])
        source = self.pick()
        self.add(op, [source], self.values[source])

    def add_two(self) -> None:
        kind = self.rng.choice(["3d", "2d"]) if "2d" in self.values.values() else "3d"
        self.add("Add", [self.pick(kind), self.pick(kind)], kind)

    def shape_of(self) -> None:
        """A shape computed from a value (Shape → Gather → Concat): data propagation."""
        source = self.pick("3d")
        shape = self.add("Shape", [source], None)
        first = self.add("Gather", [shape, self.constant([0])], None, axis=0)
        flat = self.add("Concat", [first, self.constant([128])], None, axis=0)
        self.shapes[flat] = "2d"
        self.shapes[shape] = "3d"

    def reshape(self) -> None:
        if not self.shapes:
            return self.shape_of()
        shape = self.rng.choice(list(self.shapes))
        kind = self.shapes[shape]
        source = self.pick("2d" if kind == "3d" and "2d" in self.values.values() else "3d")
        self.add("Reshape", [source, shape], kind)

    def nonzero(self) -> None:
        """A value whose dims inference makes up (`unk__<n>`)."""
        self.symbols.append(self.add("NonZero", [self.pick()], None))

    def custom(self) -> None:
        """An op ONNX has no schema for (in a domain of its own, or in ONNX's): no type for
        its output, and the errors of the nodes after it are ignored."""
        out = self.name("custom")
        domain = self.rng.choice(["custom.ops", ""])
        self.nodes.append(helper.make_node("Mystery", [self.pick()], [out], domain=domain))
        self.values[out] = "?"

    def matmul(self) -> None:
        weight = self.name("w")
        self.initializers.append(numpy_helper.from_array(np.ones((16, 16), np.float32), weight))
        self.add("MatMul", [self.pick("3d"), weight], "3d")

    # --- bodies ------------------------------------------------------------------------------

    def branch(self, label: str, kind: str, depth: int) -> onnx.GraphProto:
        """A branch of an If: reads outer values (and made-up dims), maybe holds an If of its
        own, and outputs a value of `kind`."""
        nodes: list[onnx.NodeProto] = []
        current = self.pick(kind)
        for _ in range(self.rng.randint(1, 3)):
            choice = self.rng.random()
            out = self.name(f"{label}_")
            if choice < 0.3 and self.symbols:
                nodes.append(helper.make_node("Shape", [self.rng.choice(self.symbols)], [out]))
                out2 = self.name(f"{label}_")
                nodes.append(helper.make_node("Relu", [current], [out2]))
                current = out2
                continue
            if choice < 0.5 and depth < 2:
                inner = self.name(f"{label}_if")
                nodes.append(
                    helper.make_node(
                        "If", ["cond"], [inner],
                        then_branch=self.branch(self.name("t"), kind, depth + 1),
                        else_branch=self.branch(self.name("e"), kind, depth + 1),
                    )
                )  # fmt: skip
                current = inner
                continue
            if choice < 0.7:
                nodes.append(helper.make_node("Add", [current, self.pick(kind)], [out]))
            elif choice < 0.8 and self.constants:
                nodes.append(helper.make_node("Identity", [self.rng.choice(self.constants)], [out]))
                out = self.name(f"{label}_")
                nodes.append(helper.make_node("Neg", [current], [out]))
            else:
                nodes.append(helper.make_node(self.rng.choice(["Neg", "Relu"]), [current], [out]))
            current = out
        result = self.name(f"{label}_out")
        nodes.append(helper.make_node("Identity", [current], [result]))
        return helper.make_graph(
            nodes, label, [], [helper.make_tensor_value_info(result, TensorProto.FLOAT, None)]
        )

    def if_node(self) -> None:
        kind = self.rng.choice([k for k in ("3d", "2d") if k in self.values.values()])
        else_kind = kind if self.rng.random() < 0.8 else "3d"  # different shapes: merged
        out = self.name("if")
        self.nodes.append(
            helper.make_node(
                "If", ["cond"], [out],
                then_branch=self.branch(self.name("then"), kind, 1),
                else_branch=self.branch(self.name("else"), else_kind, 1),
            )
        )  # fmt: skip
        self.values[out] = kind if kind == else_kind else "?"

    def loop(self) -> None:
        """A Loop whose body reads outer values: a carried value and a scanned one."""
        trips = self.constant([3])
        trip_count = self.add("Squeeze", [trips], None)
        carried = self.pick("3d")
        outer = self.pick("3d")
        i, c, v = self.name("iter"), self.name("cond_in"), self.name("carried")
        c_out, v_out, scanned = (
            self.name("cond_out"),
            self.name("carried_out"),
            self.name("scanned"),
        )
        body = helper.make_graph(
            [
                helper.make_node("Identity", [c], [c_out]),
                helper.make_node("Add", [v, outer], [v_out]),
                helper.make_node("Relu", [outer], [scanned]),
            ],
            self.name("loop_body"),
            [
                helper.make_tensor_value_info(i, TensorProto.INT64, []),
                helper.make_tensor_value_info(c, TensorProto.BOOL, []),
                helper.make_tensor_value_info(v, TensorProto.FLOAT, None),
            ],
            [
                helper.make_tensor_value_info(c_out, TensorProto.BOOL, []),
                helper.make_tensor_value_info(v_out, TensorProto.FLOAT, None),
                helper.make_tensor_value_info(scanned, TensorProto.FLOAT, None),
            ],
        )
        final, stacked = self.name("loop_final"), self.name("loop_stacked")
        self.nodes.append(
            helper.make_node("Loop", [trip_count, "", carried], [final, stacked], body=body)
        )
        self.values[final] = "3d"
        self.symbols.append(stacked)

    def scan(self) -> None:
        """A Scan over a value's first axis, its body reading an outer value."""
        state0 = self.name("state")
        self.initializers.append(numpy_helper.from_array(np.zeros((8, 16), np.float32), state0))
        s, x = self.name("s_in"), self.name("x_in")
        s_out, y = self.name("s_out"), self.name("y_out")
        outer = self.pick("3d")
        shape = self.name("outer_shape")
        body = helper.make_graph(
            [
                helper.make_node("Add", [s, x], [s_out]),
                helper.make_node("Shape", [outer], [shape]),
                helper.make_node("Identity", [s_out], [y]),
            ],
            self.name("scan_body"),
            [
                helper.make_tensor_value_info(s, TensorProto.FLOAT, [8, 16]),
                helper.make_tensor_value_info(x, TensorProto.FLOAT, [8, 16]),
            ],
            [
                helper.make_tensor_value_info(s_out, TensorProto.FLOAT, [8, 16]),
                helper.make_tensor_value_info(y, TensorProto.FLOAT, [8, 16]),
            ],
        )
        final, ys = self.name("scan_final"), self.name("scan_ys")
        self.nodes.append(
            helper.make_node(
                "Scan", [state0, self.pick("3d")], [final, ys], body=body, num_scan_inputs=1
            )
        )
        self.values[ys] = "3d"


def random_control_flow_model(seed: int, steps: int = 40) -> onnx.ModelProto:
    """A random graph (seeded) of `steps` steps: element-wise ops, MatMuls, shapes computed by
    Shape/Gather/Concat and used by Reshapes far after them, values whose dims inference
    makes up (NonZero, Loop outputs), an op without a schema, Constants read by bodies, and
    If (nested), Loop and Scan nodes whose bodies read all of these; some values declared in
    value_info (dims named or left out) or made graph outputs, typed or not.

    Each name is new: the models meet `_split`'s conditions. Most pass ONNX's strict
    inference; some do not (a declared type that conflicts with the inferred one)."""
    rng = random.Random(seed)
    b = _Builder(rng)
    steps_by_weight = [
        (b.elementwise, 4), (b.add_two, 2), (b.shape_of, 2), (b.reshape, 3), (b.nonzero, 1),
        (b.matmul, 1), (b.if_node, 3), (b.loop, 1), (b.scan, 1), (b.custom, 0.3),
    ]  # fmt: skip
    steps_list, weights = zip(*steps_by_weight, strict=True)
    for _ in range(steps):
        rng.choices(steps_list, weights)[0]()
    if not any(n.op_type in _speculation.CONTROL_FLOW for n in b.nodes):
        b.if_node()
    dims = {"3d": ["batch", 8, 16], "2d": ["batch", 128]}
    value_info, outputs = [], []
    for name, kind in b.values.items():
        if name == "x" or kind not in dims:
            continue
        roll = rng.random()
        shape = [d if rng.random() < 0.7 else None for d in dims[kind]]
        if rng.random() < 0.02:  # a declaration that conflicts with the inferred type
            shape = [3] * len(shape)
        if roll < 0.15:
            value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        elif roll < 0.25:  # a graph output, its shape given or not
            typed = rng.random() < 0.5
            outputs.append(
                helper.make_tensor_value_info(name, TensorProto.FLOAT, shape if typed else None)
            )
    if not outputs:
        last = [n for n, k in b.values.items() if k in dims][-1]
        outputs.append(helper.make_tensor_value_info(last, TensorProto.FLOAT, None))
    graph = helper.make_graph(
        b.nodes,
        f"random{seed}",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 16]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        outputs,
        b.initializers,
        value_info=value_info,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom.ops", 1)],
    )
