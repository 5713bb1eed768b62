"""The pass framework: discovery, duplicates, naming, fixed point, unchanged graphs, reports."""

from __future__ import annotations

import pytest

from trtforge.analyzer.rewrite import base, manager, registry
from trtforge.analyzer.rewrite.base import Match, RewritePass

PASS_IDS = {
    "decompose-contrib",
    "fold-constants",
    "fuse-layernorm",
    "fuse-rmsnorm",
    "fuse-gelu",
    "nms-plugin",
}

PLAIN = """<ir_version: 8, opset_import: ["" : 17]>
g (float[2,8] x) => (float[2,8] y) {
 r = Relu(x)
 y = Sigmoid(r)
}"""


def test_every_pass_discovered_with_its_module_docstring():
    assert set(registry.all_passes()) == PASS_IDS
    for cls in registry.pass_classes():
        module = __import__(cls.__module__, fromlist=["_"])
        doc = module.__doc__ or ""
        for section in ("Before", "After", "Skips"):
            assert section in doc, f"{cls.id}: module docstring lacks '{section}'"
        assert cls.summary
        assert cls.__module__.rsplit(".", 1)[-1] == cls.id.replace("-", "_")


def test_duplicate_pass_id_rejected():
    found, origin = {}, {}
    cls = registry.get_pass("fuse-gelu")
    registry.register(found, origin, cls, "a")
    with pytest.raises(registry.DuplicatePassError, match="declared twice"):
        registry.register(found, origin, cls, "b")
    with pytest.raises(TypeError):
        registry.register(found, origin, object, "c")


def test_unknown_pass_is_a_user_error(rw):
    from trtforge.analyzer.errors import UserError

    with pytest.raises(UserError, match="unknown rewrite pass"):
        rw.apply(rw.parse(PLAIN), "fuse-everything")


@pytest.mark.parametrize("pass_id", sorted(PASS_IDS))
def test_no_match_leaves_the_model_untouched(rw, pass_id):
    model = rw.parse(PLAIN)
    before = model.SerializeToString()
    result = rw.apply(model, pass_id)
    assert not result.changed and result.proto is model
    assert model.SerializeToString() == before


class _Doubler(RewritePass):
    """Before: Relu. After: Relu twice (once per run until a marker exists). Skips: none."""

    id = "test-doubler"

    def find(self, ctx):
        for node in list(ctx.graph.nodes):
            if node.op == "Relu" and not node.name.startswith("test-doubler/"):
                yield Match(node.name or "relu", [node])

    def rewrite(self, match, ctx):
        node = match.nodes[0]
        out = node.outputs[0]
        base.detach(node)
        mid = ctx.variable("mid", dtype=out.dtype)
        ctx.node("Relu", node.inputs, [mid])
        ctx.node("Relu", [mid], [out])


def test_framework_names_new_nodes_and_reruns_to_a_fixed_point(rw, monkeypatch):
    table = dict(registry._passes_by_id())
    table["test-doubler"] = _Doubler
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    result = rw.apply(rw.parse(PLAIN), "test-doubler")
    names = [n.name for n in result.proto.graph.node]
    assert names[:2] == ["test-doubler/Relu_0", "test-doubler/Relu_1"]
    assert result.rounds == 2  # the second round finds nothing new
    assert result.passes["test-doubler"].applied == 1


class _Forever(_Doubler):
    id = "test-forever"

    def find(self, ctx):
        for node in list(ctx.graph.nodes):
            if node.op == "Relu":
                yield Match(node.name, [node])
                return


def test_a_pass_that_never_settles_is_an_internal_error(rw, monkeypatch):
    table = dict(registry._passes_by_id())
    table["test-forever"] = _Forever
    monkeypatch.setattr(registry, "_passes_by_id", lambda: table)
    with pytest.raises(RuntimeError, match="fixed point"):
        rw.apply(rw.parse(PLAIN), "test-forever")


def test_report_json_shape(rw):
    model = rw.parse("""<ir_version: 8, opset_import: ["" : 17]>
    g (float[2,8] x) => (float[2,8] y, float[2,1] mean) <float two = {2.0}, float eps = {1e-5}> {
     mean = ReduceMean<axes=[-1]>(x)
     d = Sub(x, mean)
     p = Pow(d, two)
     var = ReduceMean<axes=[-1]>(p)
     e = Add(var, eps)
     s = Sqrt(e)
     y = Div(d, s)
    }""")
    report = rw.apply(model, "fuse-layernorm", "fold-constants").to_json()
    assert report["changed"] is False
    assert report["passes"]["fuse-layernorm"]["applied"] == 0
    (skip,) = report["passes"]["fuse-layernorm"]["skipped"]
    assert set(skip) == {"anchor", "reason"} and "graph output" in skip["reason"]
    assert report["passes"]["fold-constants"] == {"applied": 0, "skipped": []}


def test_max_rounds_is_bounded():
    assert 2 <= manager.MAX_ROUNDS <= 16
