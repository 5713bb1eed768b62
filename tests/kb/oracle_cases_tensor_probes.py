# ruff: noqa: E501 (one ONNX-text model per line reads best)
"""Probe models for the tensor/indexing/control-flow rules, built from ONNX text.

Each probe isolates one parser behaviour (a dtype, a constness, an attribute value, a control-
flow shape) and was written while observing the TensorRT-RTX 1.7.1 parser; the agreement
oracle (`python -m tools.oracle`) parses them all and scores the static verdicts.
"""

from __future__ import annotations

import onnx
import onnx.parser


def cases():
    """(name, model) for every probe."""
    out: list[tuple[str, onnx.ModelProto]] = []

    def mk(name, text, opset=18, domains=None):
        imports = f'"": {opset}' + "".join(f', "{d}": {v}' for d, v in (domains or {}).items())
        out.append(
            (name, onnx.parser.parse_model(f"<ir_version: 10, opset_import: [{imports}]>\n{text}"))
        )

    # --- exp1.py
    # Squeeze axes constant vs from-shape-computation vs input
    mk(
        "squeeze_axes_init",
        """g (float[1,3,1,4] x) => (float[3,4] y) <int64[2] ax = {0,2}> { y = Squeeze(x, ax) }""",
    )
    mk(
        "squeeze_axes_const",
        """g (float[1,3,1,4] x) => (float[3,4] y) { ax = Constant<value=int64[2] {0,2}>() y = Squeeze(x, ax) }""",
    )
    mk("squeeze_noaxes", """g (float[1,3,1,4] x) => (float[3,4] y) { y = Squeeze(x) }""")
    mk("squeeze_noaxes_dyn", """g (float[N,3,1,4] x) => (float[3,4] y) { y = Squeeze(x) }""")
    mk(
        "squeeze_op11",
        """g (float[1,3,1,4] x) => (float[3,4] y) { y = Squeeze<axes=[0,2]>(x) }""",
        opset=11,
    )
    mk(
        "unsqueeze_axes_fromshape",
        """g (float[2,3] x, float[5] z) => (float y) { s = Shape(z) one = Constant<value=int64[1] {1}>() ax = Sub(s, one) y = Unsqueeze(x, ax) }""",
    )
    mk(
        "unsqueeze_axes_input",
        """g (float[2,3] x, int64[1] ax) => (float y) { y = Unsqueeze(x, ax) }""",
    )
    mk(
        "unsqueeze_axes_init",
        """g (float[2,3] x) => (float y) <int64[1] ax = {0}> { y = Unsqueeze(x, ax) }""",
    )
    # Reshape shape as input
    mk("reshape_shape_input", """g (float[2,3] x, int64[2] s) => (float y) { y = Reshape(x, s) }""")
    mk("reshape_shape_int32", """g (float[2,3] x, int32[2] s) => (float y) { y = Reshape(x, s) }""")
    # Resize variants, scales as initializer
    base = """g (float[1,1,4,4] x) => (float y) <float[4] sc = {1,1,2,2}> { y = Resize<{attrs}>(x, , sc) }"""
    for nm, at in [
        ("nearest", 'mode="nearest"'),
        ("linear", 'mode="linear"'),
        ("cubic", 'mode="cubic"'),
        ("hps", 'mode="linear", coordinate_transformation_mode="half_pixel_symmetric"'),
        ("tfcrop", 'mode="linear", coordinate_transformation_mode="tf_crop_and_resize"'),
        ("excl", 'mode="cubic", exclude_outside=1'),
        ("cubic_a", 'mode="cubic", cubic_coeff_a=-0.5'),
        ("antialias", 'mode="linear", antialias=1'),
        ("nearest_ceil", 'mode="nearest", nearest_mode="ceil"'),
        ("extrap", 'mode="linear", extrapolation_value=1.0'),
        ("pth", 'mode="linear", coordinate_transformation_mode="pytorch_half_pixel"'),
        ("tfhp", 'mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn"'),
    ]:
        mk("resize_" + nm, base.replace("{attrs}", at), opset=19)
    mk(
        "resize_scales_computed",
        """g (float[1,1,4,4] x, float[1,1,8,8] z) => (float y) { s = Shape(z) f = Cast<to=1>(s) sc = Div(f, f) y = Resize<mode="nearest">(x, , sc) }""",
        opset=19,
    )
    mk(
        "resize_sizes_computed",
        """g (float[1,1,4,4] x, float[1,1,8,8] z) => (float y) { s = Shape(z) y = Resize<mode="nearest">(x, , , s) }""",
        opset=19,
    )
    mk(
        "resize_linear_4d_all",
        """g (float[1,1,4,4] x) => (float y) <float[4] sc = {2,2,2,2}> { y = Resize<mode="linear">(x, , sc) }""",
        opset=19,
    )
    mk(
        "resize_op10",
        """g (float[1,1,4,4] x) => (float y) <float[4] sc = {1,1,2,2}> { y = Resize<mode="nearest">(x, sc) }""",
        opset=10,
    )
    mk(
        "resize_axes_scales_init",
        """g (float[1,1,4,4] x) => (float y) <float[2] sc = {2,2}> { y = Resize<mode="nearest", axes=[2,3]>(x, , sc) }""",
        opset=19,
    )
    mk(
        "resize_axes_full_iota",
        """g (float[1,1,4,4] x) => (float y) <float[4] sc = {1,1,2,2}> { y = Resize<mode="nearest", axes=[0,1,2,3]>(x, , sc) }""",
        opset=19,
    )
    mk(
        "resize_int",
        """g (int32[1,1,4,4] x) => (int32 y) <float[4] sc = {1,1,2,2}> { y = Resize<mode="nearest">(x, , sc) }""",
        opset=19,
    )
    mk(
        "resize_bool",
        """g (bool[1,1,4,4] x) => (bool y) <float[4] sc = {1,1,2,2}> { y = Resize<mode="nearest">(x, , sc) }""",
        opset=19,
    )
    # Upsample
    mk(
        "upsample_init",
        """g (float[1,1,4,4] x) => (float y) <float[4] sc = {1,1,2,2}> { y = Upsample<mode="nearest">(x, sc) }""",
        opset=9,
    )
    mk(
        "upsample_attr",
        """g (float[1,1,4,4] x) => (float y) { y = Upsample<mode="nearest", scales=[1.0,1.0,2.0,2.0]>(x) }""",
        opset=7,
    )
    mk(
        "upsample_linear4",
        """g (float[1,1,4,4] x) => (float y) <float[4] sc = {2,2,2,2}> { y = Upsample<mode="linear">(x, sc) }""",
        opset=9,
    )
    # FLOAT scales that are not constants: of static length they fail, of dynamic (symbolic)
    # length they parse, as a network input or computed from data
    for op, opset, args in (("Resize", 19, "x, , {s}"), ("Upsample", 9, "x, {s}")):
        low = op.lower()
        for length, tag in (("k", "dynlen"), ("4", "statlen")):
            mk(
                f"{low}_scales_{tag}_input",
                f"""g (float[1,1,4,4] x, float[{length}] sc) => (float y) {{ y = {op}<mode="nearest">({args.format(s="sc")}) }}""",
                opset=opset,
            )
            mk(
                f"{low}_scales_{tag}_computed",
                f"""g (float[1,1,4,4] x, float[{length}] sc) => (float y) {{ s2 = Mul(sc, sc) y = {op}<mode="nearest">({args.format(s="s2")}) }}""",
                opset=opset,
            )
        mk(
            f"{low}_scales_norank_input",
            f"""g (float[1,1,4,4] x, float sc) => (float y) {{ y = {op}<mode="nearest">({args.format(s="sc")}) }}""",
            opset=opset,
        )
    # TopK with K of dynamic length crashes the parser; [1], [] and no shape parse
    for name, kshape in (("dynlen", "[kk]"), ("len1", "[1]"), ("scalar", "")):
        for xname, xshape in (("", "[3,4]"), ("_dynx", "[a,b]")):
            mk(
                f"topk_k_{name}{xname}",
                f"""g (float{xshape} x, int64{kshape} k) => (float v, int64 i) {{ v, i = TopK<axis=1>(x, k) }}""",
                opset=11,
            )
    # UINT8 weights: read as UINT8 by importers that take weights (Q/DQ), made an INT32
    # constant tensor for any other input (policy.uint8_weights)
    table = "<uint8[4,2] E = {0,1,2,3,4,5,6,7}, float s = {0.5}, uint8 z0 = {0}, uint8 z3 = {3}>"
    for name, body, result in (
        ("gather_cast", "g = Gather(E, i) y = Cast<to=1>(g)", "float y"),
        ("gather_out", "g = Gather(E, i)", "uint8 g"),
        ("gather_cast_u8_out", "g = Gather(E, i) y = Cast<to=2>(g)", "uint8 y"),
        ("gather_dq_zp0", "g = Gather(E, i) y = DequantizeLinear(g, s, z0)", "float y"),
        ("gather_dq_zp3", "g = Gather(E, i) y = DequantizeLinear(g, s, z3)", "float y"),
        ("dq_direct", "w = DequantizeLinear(E, s, z0) y = Gather(w, i)", "float y"),
        ("transpose_cast", "t = Transpose(E) y = Cast<to=1>(t)", "float y"),
        ("gather_identity_cast", "g = Gather(E, i) h = Identity(g) y = Cast<to=1>(h)", "float y"),
        ("add_two_cast", "a = Add(E, E) y = Cast<to=1>(a)", "float y"),
        ("relu_cast", "r = Relu(E) y = Cast<to=1>(r)", "float y"),
        (
            "const_gather_cast",
            "C = Constant<value=uint8[2] {1,2}>() g = Gather(C, i) y = Cast<to=1>(g)",
            "float y",
        ),
    ):
        mk(f"uint8w_{name}", f"g (int64[b] i) => ({result}) {table} {{ {body} }}", opset=13)
    # Range
    mk(
        "range_f_init",
        """g (float[1] d) => (float y) <float s = {0.0}, float l = {5.0}, float dd = {1.0}> { y = Range(s, l, dd) }""",
        opset=11,
    )
    mk(
        "range_i64_input",
        """g (int64 s, int64 l, int64 dd) => (int64 y) { y = Range(s, l, dd) }""",
        opset=11,
    )
    mk(
        "range_f_input",
        """g (float s, float l, float dd) => (float y) { y = Range(s, l, dd) }""",
        opset=11,
    )
    mk(
        "range_f_input_start",
        """g (float s) => (float y) <float l = {5.0}, float dd = {1.0}> { y = Range(s, l, dd) }""",
        opset=11,
    )
    mk(
        "range_f_shape_derived",
        """g (float[7] z) => (float y) <float s = {0.0}, float dd = {1.0}> { sh = Shape(z) c = Cast<to=1>(sh) l = Squeeze(c) y = Range(s, l, dd) }""",
        opset=13,
    )
    mk(
        "range_f16_input",
        """g (float16 s, float16 l, float16 dd) => (float16 y) { y = Range(s, l, dd) }""",
        opset=11,
    )
    # OneHot
    mk(
        "onehot_depth_init",
        """g (int64[3] i) => (float y) <float[1] d = {5.0}, float[2] v = {0.0, 1.0}> { y = OneHot(i, d, v) }""",
        opset=11,
    )
    mk(
        "onehot_depth_i64init",
        """g (int64[3] i) => (float y) <int64[1] d = {5}, float[2] v = {0.0, 1.0}> { y = OneHot(i, d, v) }""",
        opset=11,
    )
    mk(
        "onehot_values_input",
        """g (int64[3] i, float[2] v) => (float y) <int64[1] d = {5}> { y = OneHot(i, d, v) }""",
        opset=11,
    )
    # TopK
    mk(
        "topk_k_input",
        """g (float[10] x, int64[1] k) => (float v, int64 i) { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_k_big",
        """g (float[5000] x) => (float v, int64 i) <int64[1] k = {4000}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_k_3840",
        """g (float[5000] x) => (float v, int64 i) <int64[1] k = {3840}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_unsorted",
        """g (float[10] x) => (float v, int64 i) <int64[1] k = {3}> { v, i = TopK<sorted=0>(x, k) }""",
        opset=11,
    )
    mk(
        "topk_int32",
        """g (int32[10] x) => (int32 v, int64 i) <int64[1] k = {3}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_int64",
        """g (int64[10] x) => (int64 v, int64 i) <int64[1] k = {3}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk("topk_op1", """g (float[10] x) => (float v, int64 i) { v, i = TopK<k=3>(x) }""", opset=1)
    mk(
        "topk_k_shape",
        """g (float[10] x, float[3] z) => (float v, int64 i) { k = Shape(z) v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_bf16",
        """g (bfloat16[10] x) => (bfloat16 v, int64 i) <int64[1] k = {3}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_f16",
        """g (float16[10] x) => (float16 v, int64 i) <int64[1] k = {3}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    mk(
        "topk_dyn_axis",
        """g (float[N] x) => (float v, int64 i) <int64[1] k = {3}> { v, i = TopK(x, k) }""",
        opset=11,
    )
    # --- exp2.py
    mk(
        "onehot_depth_i64_input",
        """g (int64[3] i, int64[1] d) => (float y) <float[2] v = {0.0, 1.0}> { y = OneHot(i, d, v) }""",
        opset=11,
    )
    mk(
        "onehot_depth_shape",
        """g (int64[3] i, float[5] z) => (float y) <float[2] v = {0.0, 1.0}> { d = Shape(z) y = OneHot(i, d, v) }""",
        opset=11,
    )
    mk(
        "slice_axes_input",
        """g (float[4,4] x, int64[1] ax) => (float y) <int64[1] s = {1}, int64[1] e = {3}> { y = Slice(x, s, e, ax) }""",
        opset=13,
    )
    mk(
        "slice_starts_input",
        """g (float[4,4] x, int64[1] s) => (float y) <int64[1] e = {3}, int64[1] ax = {0}> { y = Slice(x, s, e, ax) }""",
        opset=13,
    )
    mk(
        "slice_steps_input",
        """g (float[4,4] x, int64[1] st) => (float y) <int64[1] s = {0}, int64[1] e = {3}, int64[1] ax = {0}> { y = Slice(x, s, e, ax, st) }""",
        opset=13,
    )
    mk(
        "slice_op1",
        """g (float[4,4] x) => (float y) { y = Slice<starts=[1], ends=[3], axes=[0]>(x) }""",
        opset=1,
    )
    mk(
        "pad_pads_input",
        """g (float[4,4] x, int64[4] p) => (float y) { y = Pad(x, p) }""",
        opset=13,
    )
    mk(
        "pad_value_input",
        """g (float[4,4] x, float v) => (float y) <int64[4] p = {1,1,1,1}> { y = Pad(x, p, v) }""",
        opset=13,
    )
    mk(
        "pad_axes_input",
        """g (float[4,4] x, int64[1] ax) => (float y) <int64[2] p = {1,1}> { y = Pad(x, p, , ax) }""",
        opset=18,
    )
    mk(
        "pad_reflect_input_pads",
        """g (float[4,4] x, int64[4] p) => (float y) { y = Pad<mode="reflect">(x, p) }""",
        opset=13,
    )
    mk("pad_op2", """g (float[4,4] x) => (float y) { y = Pad<pads=[1,1,1,1]>(x) }""", opset=2)
    mk(
        "pad_int64",
        """g (int64[4,4] x) => (int64 y) <int64[4] p = {1,1,1,1}> { y = Pad(x, p) }""",
        opset=13,
    )
    mk(
        "pad_bool",
        """g (bool[4,4] x) => (bool y) <int64[4] p = {1,1,1,1}> { y = Pad(x, p) }""",
        opset=13,
    )
    mk("tile_input", """g (float[4,4] x, int64[2] r) => (float y) { y = Tile(x, r) }""", opset=13)
    mk(
        "expand_input",
        """g (float[4,1] x, int64[2] s) => (float y) { y = Expand(x, s) }""",
        opset=13,
    )
    mk(
        "cos_input",
        """g (int64[2] s) => (float y) { y = ConstantOfShape<value=float[1] {1.0}>(s) }""",
        opset=13,
    )
    mk(
        "cos_uint8",
        """g (int64[2] s) => (uint8 y) { y = ConstantOfShape<value=uint8[1] {1}>(s) }""",
        opset=13,
    )
    mk(
        "cos_int8",
        """g (int64[2] s) => (int8 y) { y = ConstantOfShape<value=int8[1] {1}>(s) }""",
        opset=13,
    )
    mk(
        "cos_bool",
        """g (int64[2] s) => (bool y) { y = ConstantOfShape<value=bool[1] {1}>(s) }""",
        opset=13,
    )
    mk(
        "cos_double",
        """g (int64[2] s) => (double y) { y = ConstantOfShape<value=double[1] {1.0}>(s) }""",
        opset=13,
    )
    mk(
        "split_input",
        """g (float[4,4] x, int64[2] sp) => (float a, float b) { a, b = Split<axis=0>(x, sp) }""",
        opset=13,
    )
    mk(
        "split_num_outputs",
        """g (float[4,4] x) => (float a, float b) { a, b = Split<axis=0, num_outputs=2>(x) }""",
        opset=18,
    )
    mk(
        "split_uneven_dyn",
        """g (float[N,4] x) => (float a, float b, float c) { a, b, c = Split<axis=0, num_outputs=3>(x) }""",
        opset=18,
    )
    mk("eyelike_dyn", """g (float[N,4] x) => (float y) { y = EyeLike(x) }""", opset=13)
    mk("eyelike_3d", """g (float[2,4,4] x) => (float y) { y = EyeLike(x) }""", opset=13)
    mk("eyelike_k", """g (float[4,4] x) => (float y) { y = EyeLike<k=1>(x) }""", opset=13)
    mk(
        "gridsample_5d",
        """g (float[1,1,4,4,4] x, float[1,2,2,2,3] gr) => (float y) { y = GridSample(x, gr) }""",
        opset=20,
    )
    mk(
        "gridsample_cubic_5d",
        """g (float[1,1,4,4,4] x, float[1,2,2,2,3] gr) => (float y) { y = GridSample<mode="cubic">(x, gr) }""",
        opset=20,
    )
    mk(
        "gridsample_3d",
        """g (float[1,1,4] x, float[1,2,1] gr) => (float y) { y = GridSample(x, gr) }""",
        opset=20,
    )
    mk(
        "gridsample_int",
        """g (int32[1,1,4,4] x, float[1,2,2,2] gr) => (int32 y) { y = GridSample(x, gr) }""",
        opset=20,
    )
    mk(
        "gridsample_op16",
        """g (float[1,1,4,4] x, float[1,2,2,2] gr) => (float y) { y = GridSample<mode="bilinear">(x, gr) }""",
        opset=16,
    )
    mk(
        "d2s_5d",
        """g (float[1,8,2,2,2] x) => (float y) { y = DepthToSpace<blocksize=2>(x) }""",
        opset=13,
    )
    mk(
        "d2s_int64",
        """g (int64[1,8,2,2] x) => (int64 y) { y = DepthToSpace<blocksize=2>(x) }""",
        opset=13,
    )
    mk(
        "d2s_bool",
        """g (bool[1,8,2,2] x) => (bool y) { y = DepthToSpace<blocksize=2>(x) }""",
        opset=13,
    )
    mk(
        "s2d_bool",
        """g (bool[1,2,4,4] x) => (bool y) { y = SpaceToDepth<blocksize=2>(x) }""",
        opset=13,
    )
    mk("trilu_k_input", """g (float[4,4] x, int64 k) => (float y) { y = Trilu(x, k) }""", opset=14)
    mk("trilu_1d", """g (float[4] x) => (float y) { y = Trilu(x) }""", opset=14)
    mk("trilu_bool", """g (bool[4,4] x) => (bool y) { y = Trilu(x) }""", opset=14)
    mk("gather_i32", """g (float[4,4] x, int32[2] i) => (float y) { y = Gather(x, i) }""", opset=13)
    mk("gather_bool", """g (bool[4,4] x, int64[2] i) => (bool y) { y = Gather(x, i) }""", opset=13)
    mk(
        "gather_uint8",
        """g (uint8[4,4] x, int64[2] i) => (uint8 y) { y = Gather(x, i) }""",
        opset=13,
    )
    mk("gather_int8", """g (int8[4,4] x, int64[2] i) => (int8 y) { y = Gather(x, i) }""", opset=13)
    mk(
        "gathernd_bd",
        """g (float[2,4,4] x, int64[2,1,1] i) => (float y) { y = GatherND<batch_dims=1>(x, i) }""",
        opset=13,
    )
    mk(
        "scatternd_bool",
        """g (bool[4,4] x, int64[1,1] i, bool[1,4] u) => (bool y) { y = ScatterND(x, i, u) }""",
        opset=13,
    )
    mk(
        "scatterel_bool",
        """g (bool[4,4] x, int64[1,4] i, bool[1,4] u) => (bool y) { y = ScatterElements(x, i, u) }""",
        opset=13,
    )
    mk(
        "scatterel_add",
        """g (float[4,4] x, int64[1,4] i, float[1,4] u) => (float y) { y = ScatterElements<reduction="add">(x, i, u) }""",
        opset=16,
    )
    mk(
        "scatterel_none",
        """g (float[4,4] x, int64[1,4] i, float[1,4] u) => (float y) { y = ScatterElements<reduction="none">(x, i, u) }""",
        opset=16,
    )
    mk(
        "scatter_op9",
        """g (float[4,4] x, int64[1,4] i, float[1,4] u) => (float y) { y = Scatter(x, i, u) }""",
        opset=9,
    )
    mk(
        "where_i64",
        """g (bool[4] c, int64[4] a, int64[4] b) => (int64 y) { y = Where(c, a, b) }""",
        opset=16,
    )
    mk(
        "where_bool",
        """g (bool[4] c, bool[4] a, bool[4] b) => (bool y) { y = Where(c, a, b) }""",
        opset=16,
    )
    mk(
        "where_uint8",
        """g (bool[4] c, uint8[4] a, uint8[4] b) => (uint8 y) { y = Where(c, a, b) }""",
        opset=16,
    )
    mk(
        "revseq_dyn",
        """g (float[N,4] x, int64[4] l) => (float y) { y = ReverseSequence<batch_axis=1, time_axis=0>(x, l) }""",
        opset=13,
    )
    mk(
        "revseq_1d",
        """g (float[4] x, int64[1] l) => (float y) { y = ReverseSequence<batch_axis=0, time_axis=0>(x, l) }""",
        opset=13,
    )
    mk(
        "nms_max_input",
        """g (float[1,4,4] b, float[1,1,4] s, int64[1] m) => (int64 y) <float[1] iou = {0.5}, float[1] st = {0.0}> { y = NonMaxSuppression(b, s, m, iou, st) }""",
        opset=11,
    )
    mk(
        "nms_iou_input",
        """g (float[1,4,4] b, float[1,1,4] s, float[1] iou) => (int64 y) <int64[1] m = {3}, float[1] st = {0.0}> { y = NonMaxSuppression(b, s, m, iou, st) }""",
        opset=11,
    )
    mk(
        "nms_2in",
        """g (float[1,4,4] b, float[1,1,4] s) => (int64 y) { y = NonMaxSuppression(b, s) }""",
        opset=11,
    )
    mk(
        "nms_f16",
        """g (float16[1,4,4] b, float16[1,1,4] s) => (int64 y) <int64[1] m = {3}> { y = NonMaxSuppression(b, s, m) }""",
        opset=11,
    )
    mk("nonzero_f", """g (float[4] x) => (int64 y) { y = NonZero(x) }""", opset=13)
    mk(
        "transpose_9d",
        """g (float[1,1,1,1,1,1,1,1,2] x) => (float y) { y = Transpose(x) }""",
        opset=13,
    )
    mk(
        "reshape_9d",
        """g (float[2] x) => (float y) <int64[9] s = {1,1,1,1,1,1,1,1,2}> { y = Reshape(x, s) }""",
        opset=13,
    )
    mk(
        "concat_uint8",
        """g (uint8[2] a, uint8[2] b) => (uint8 y) { y = Concat<axis=0>(a, b) }""",
        opset=13,
    )
    mk("identity_uint8", """g (uint8[2] a) => (uint8 y) { y = Identity(a) }""", opset=13)
    mk("identity_double", """g (double[2] a) => (double y) { y = Identity(a) }""", opset=13)
    mk("flatten_bool", """g (bool[2,3,4] a) => (bool y) { y = Flatten(a) }""", opset=13)
    mk("shape_uint8", """g (uint8[2,3] a) => (int64 y) { y = Shape(a) }""", opset=13)
    mk("size_f", """g (float[2,3] a) => (int64 y) { y = Size(a) }""", opset=13)
    mk(
        "constant_strings",
        """g (float[2] a) => (float y) { c = Constant<value_strings=["a","b"]>() y = Identity(a) }""",
        opset=13,
    )
    mk(
        "constant_value_floats",
        """g (float[2] a) => (float y) { c = Constant<value_floats=[1.0,2.0]>() y = Add(a, c) }""",
        opset=13,
    )
    mk(
        "constant_double",
        """g (double[2] a) => (double y) { c = Constant<value=double[2] {1.0,2.0}>() y = Add(a, c) }""",
        opset=13,
    )
    mk(
        "tensorscatter_4d",
        """g (float[1,2,8,4] c, float[1,2,1,4] u, int64[1] w) => (float y) { y = TensorScatter<axis=2>(c, u, w) }""",
        opset=24,
    )
    mk(
        "tensorscatter_noidx",
        """g (float[1,2,8,4] c, float[1,2,1,4] u) => (float y) { y = TensorScatter<axis=2>(c, u) }""",
        opset=24,
    )
    mk(
        "tensorscatter_axis1",
        """g (float[1,8,2,4] c, float[1,1,2,4] u, int64[1] w) => (float y) { y = TensorScatter<axis=1>(c, u, w) }""",
        opset=24,
    )
    # --- exp3.py
    MS = {"com.microsoft": 1}
    for op, sig in [
        ("Gelu", "(x)"),
        ("FastGelu", "(x)"),
        ("BiasGelu", "(x, x)"),
        ("QuickGelu", "(x)"),
        ("FusedMatMul", "(m, m)"),
        ("LayerNormalization", "(x, g)"),
        ("SimplifiedLayerNormalization", "(x, g)"),
        ("SkipLayerNormalization", "(x, x, g)"),
        ("SkipSimplifiedLayerNormalization", "(x, x, g)"),
        ("BiasAdd", "(x, x, g)"),
        ("RotaryEmbedding", "(x)"),
        ("MatMulNBits", "(x)"),
        ("Attention", "(x)"),
        ("MultiHeadAttention", "(x)"),
        ("GroupQueryAttention", "(x)"),
        ("EmbedLayerNormalization", "(x)"),
        ("DequantizeLinear", "(x, g)"),
        ("QuantizeLinear", "(x, g)"),
        ("Range", "(x, x, x)"),
        ("Trilu", "(m)"),
        ("NhwcConv", "(x)"),
        ("Softmax", "(x)"),
        ("Relu", "(x)"),
        ("GridSample", "(x, x)"),
    ]:
        mk(
            "ms_" + op,
            f"""g (float[4,4] x, float[4,4] m) => (float y) <float[4] g = {{1,1,1,1}}> {{ y = com.microsoft.{op}{sig} }}""",
            opset=17,
            domains=MS,
        )
    ML = {"ai.onnx.ml": 3}
    for op in [
        "Normalizer",
        "Scaler",
        "Binarizer",
        "Imputer",
        "ArrayFeatureExtractor",
        "LinearRegressor",
        "LabelEncoder",
        "OneHotEncoder",
        "TreeEnsembleClassifier",
    ]:
        mk(
            "ml_" + op,
            f"""g (float[4,4] x) => (float y) {{ y = ai.onnx.ml.{op}(x) }}""",
            opset=17,
            domains=ML,
        )
    mk(
        "custom_Relu",
        """g (float[4,4] x) => (float y) { y = my.dom.Relu(x) }""",
        opset=17,
        domains={"my.dom": 1},
    )
    mk(
        "custom_Foo",
        """g (float[4,4] x) => (float y) { y = my.dom.Foo(x) }""",
        opset=17,
        domains={"my.dom": 1},
    )
    # control flow
    mk(
        "if_unsupported_inner",
        """g (bool c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[4] b) { b = Col2Im(x, x, x) }> }""",
        opset=18,
    )
    mk(
        "if_ok",
        """g (bool c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[4] b) { b = Neg(x) }> }""",
        opset=18,
    )
    mk(
        "if_rank_mismatch",
        """g (bool c, float[4] x, float[2,2] z) => (float y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[2,2] b) { b = Neg(z) }> }""",
        opset=18,
    )
    mk(
        "if_shape_mismatch",
        """g (bool c, float[4] x, float[3] z) => (float y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[3] b) { b = Neg(z) }> }""",
        opset=18,
    )
    mk(
        "if_const_cond",
        """g (float[4] x) => (float[4] y) <bool c = {1}> {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[4] b) { b = Col2Im(x, x, x) }> }""",
        opset=18,
    )
    mk(
        "if_type_mismatch",
        """g (bool c, float[4] x, int32[4] z) => (float y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (int32[4] b) { b = Neg(z) }> }""",
        opset=18,
    )
    mk(
        "if_cond_float",
        """g (float c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[4] b) { b = Neg(x) }> }""",
        opset=18,
    )
    mk(
        "if_cond_vec",
        """g (bool[1] c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] a) { a = Relu(x) }, else_branch = e () => (float[4] b) { b = Neg(x) }> }""",
        opset=18,
    )
    mk(
        "if_init_outputs",
        """g (bool c) => (float[2] y) {
      y = If(c) <then_branch = t () => (float[2] a) { a = Constant<value=float[2] {1,2}>() }, else_branch = e () => (float[2] b) { b = Constant<value=float[2] {3,4}>() }> }""",
        opset=18,
    )
    mk(
        "if_same_output_name",
        """g (bool c, float[4] x) => (float[4] y) {
      y = If(c) <then_branch = t () => (float[4] x) { }, else_branch = e () => (float[4] b) { b = Neg(x) }> }""",
        opset=18,
    )
    loop_body = """body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so, float[4] sc) { cout = Identity(cin) so = Add(s, s) sc = Identity(so) }"""
    mk(
        "loop_scan_out",
        """g (float[4] x) => (float[4] y, float z) <int64 n = {3}, bool c = {1}> { y, z = Loop(n, c, x) <body = """
        + loop_body
        + """> }""",
        opset=16,
    )
    mk(
        "loop_scan_out_dyn_trip",
        """g (float[4] x, int64 n) => (float[4] y, float z) <bool c = {1}> { y, z = Loop(n, c, x) <body = """
        + loop_body
        + """> }""",
        opset=16,
    )
    mk(
        "loop_no_scan",
        """g (float[4] x, int64 n) => (float[4] y) <bool c = {1}> { y = Loop(n, c, x) <body = body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so) { cout = Identity(cin) so = Add(s, s) }> }""",
        opset=16,
    )
    mk(
        "loop_while_scan",
        """g (float[4] x, bool c) => (float[4] y, float z) { y, z = Loop(, c, x) <body = """
        + loop_body
        + """> }""",
        opset=16,
    )
    mk(
        "loop_unsupported_inner",
        """g (float[4] x, int64 n) => (float[4] y) <bool c = {1}> { y = Loop(n, c, x) <body = body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so) { cout = Identity(cin) so = Compress(s, cin) }> }""",
        opset=16,
    )
    mk(
        "loop_carried_shape_change",
        """g (float[1] x, int64 n) => (float y) <bool c = {1}> { y = Loop(n, c, x) <body = body (int64 i, bool cin, float[N] s) => (bool cout, float[M] so) { cout = Identity(cin) so = Concat<axis=0>(s, s) }> }""",
        opset=16,
    )
    mk(
        "loop_cond_computed",
        """g (float[4] x, int64 n) => (float[4] y) <bool c = {1}> { y = Loop(n, c, x) <body = body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so) { so = Add(s, s) r = ReduceSum<keepdims=0>(so) z = Constant<value_float=100.0>() cout = Less(r, z) }> }""",
        opset=16,
    )
    mk(
        "scan_basic",
        """g (float[2] init, float[3,2] xs) => (float[2] y, float[3,2] z) { y, z = Scan<num_scan_inputs=1, body = b (float[2] s, float[2] xi) => (float[2] so, float[2] sc) { so = Add(s, xi) sc = Identity(so) }>(init, xs) }""",
        opset=16,
    )
    mk(
        "scan_reverse",
        """g (float[2] init, float[3,2] xs) => (float[2] y, float[3,2] z) { y, z = Scan<num_scan_inputs=1, scan_input_directions=[1], body = b (float[2] s, float[2] xi) => (float[2] so, float[2] sc) { so = Add(s, xi) sc = Identity(so) }>(init, xs) }""",
        opset=16,
    )
    mk(
        "scan_axis1",
        """g (float[2] init, float[2,3] xs) => (float[2] y, float[3,2] z) { y, z = Scan<num_scan_inputs=1, scan_input_axes=[1], body = b (float[2] s, float[2] xi) => (float[2] so, float[2] sc) { so = Add(s, xi) sc = Identity(so) }>(init, xs) }""",
        opset=16,
    )
    mk(
        "scan_out_axis1",
        """g (float[2] init, float[3,2] xs) => (float[2] y, float[2,3] z) { y, z = Scan<num_scan_inputs=1, scan_output_axes=[1], body = b (float[2] s, float[2] xi) => (float[2] so, float[2] sc) { so = Add(s, xi) sc = Identity(so) }>(init, xs) }""",
        opset=16,
    )
    mk(
        "scan_unsupported_inner",
        """g (float[2] init, float[3,2] xs) => (float[2] y) { y = Scan<num_scan_inputs=1, body = b (float[2] s, float[2] xi) => (float[2] so) { so = Col2Im(s, xi, xi) }>(init, xs) }""",
        opset=16,
    )
    # sequences
    mk(
        "seq_construct_at",
        """g (float[4] a, float[4] b) => (float[4] y) <int64 i = {0}> { s = SequenceConstruct(a, b) y = SequenceAt(s, i) }""",
        opset=16,
    )
    mk(
        "concat_from_seq",
        """g (float[4] a, float[4] b) => (float y) { s = SequenceConstruct(a, b) y = ConcatFromSequence<axis=0>(s) }""",
        opset=16,
    )
    mk(
        "split_to_seq_concat",
        """g (float[4] a) => (float y) { s = SplitToSequence<axis=0>(a) y = ConcatFromSequence<axis=0>(s) }""",
        opset=16,
    )
    mk(
        "optional_has",
        """g (float[4] a) => (bool y) { o = Optional(a) y = OptionalHasElement(o) }""",
        opset=18,
    )
    # --- exp4.py
    for t in [
        "double",
        "int16",
        "uint16",
        "uint32",
        "int8",
        "float8e4m3fn",
        "int4",
        "uint8",
        "bool",
        "bfloat16",
    ]:
        mk(
            f"reshape_{t}",
            f"""g ({t}[2,3] x) => ({t} y) <int64[1] s = {{6}}> {{ y = Reshape(x, s) }}""",
            opset=21,
        )
        mk(f"concat_{t}", f"""g ({t}[2,3] x) => ({t} y) {{ y = Concat<axis=0>(x, x) }}""", opset=21)
        mk(f"transpose_{t}", f"""g ({t}[2,3] x) => ({t} y) {{ y = Transpose(x) }}""", opset=21)
    mk(
        "double_init_gather",
        """g (int64[2] i) => (double y) <double[3] d = {1.0,2.0,3.0}> { y = Gather(d, i) }""",
        opset=13,
    )
    mk(
        "gather_idx_int8",
        """g (float[4] x, int8[2] i) => (float y) { y = Gather(x, i) }""",
        opset=13,
    )
    mk(
        "gather_idx_int16",
        """g (float[4] x, int16[2] i) => (float y) { y = Gather(x, i) }""",
        opset=13,
    )
    mk(
        "where_cond_int",
        """g (int32[4] c, float[4] a, float[4] b) => (float y) { y = Where(c, a, b) }""",
        opset=16,
    )
    mk(
        "compress",
        """g (float[4] x, bool[4] c) => (float y) { y = Compress<axis=0>(x, c) }""",
        opset=13,
    )
    mk(
        "compress_const",
        """g (float[4] x) => (float y) <bool[4] c = {1,0,1,0}> { y = Compress<axis=0>(x, c) }""",
        opset=13,
    )
    mk(
        "ccp",
        """g (float[4,4] x) => (float y) <int64[2] s = {2,2}> { y = CenterCropPad(x, s) }""",
        opset=18,
    )
    mk("unique_f", """g (float[4] x) => (float y) { y = Unique(x) }""", opset=13)
    mk("flatten_dyn", """g (float[N,3,4] a) => (float y) { y = Flatten<axis=2>(a) }""", opset=13)
    mk(
        "d2s_dyn",
        """g (float[N,8,H,W] x) => (float y) { y = DepthToSpace<blocksize=2>(x) }""",
        opset=13,
    )
    mk("identity_int4", """g (int4[4] a) => (int4 y) { y = Identity(a) }""", opset=21)
    mk(
        "scatternd_uint8",
        """g (uint8[4,4] x, int64[1,1] i, uint8[1,4] u) => (uint8 y) { y = ScatterND(x, i, u) }""",
        opset=13,
    )
    mk(
        "gatherel_uint8",
        """g (uint8[4,4] x, int64[1,4] i) => (uint8 y) { y = GatherElements(x, i) }""",
        opset=13,
    )
    mk(
        "tile_uint8",
        """g (uint8[4,4] x) => (uint8 y) <int64[2] r = {2,1}> { y = Tile(x, r) }""",
        opset=13,
    )
    mk(
        "expand_uint8",
        """g (uint8[4,1] x) => (uint8 y) <int64[2] r = {4,4}> { y = Expand(x, r) }""",
        opset=13,
    )
    mk(
        "slice_uint8",
        """g (uint8[4,4] x) => (uint8 y) <int64[1] s = {1}, int64[1] e = {3}> { y = Slice(x, s, e) }""",
        opset=13,
    )
    mk(
        "split_uint8",
        """g (uint8[4,4] x) => (uint8 a, uint8 b) { a, b = Split<axis=0, num_outputs=2>(x) }""",
        opset=18,
    )
    mk(
        "squeeze_uint8",
        """g (uint8[1,4] x) => (uint8 y) <int64[1] a = {0}> { y = Squeeze(x, a) }""",
        opset=13,
    )
    mk("flatten_uint8", """g (uint8[2,4] x) => (uint8 y) { y = Flatten(x) }""", opset=13)
    mk("transpose_uint8_b", """g (uint8[2,4] x) => (uint8 y) { y = Transpose(x) }""", opset=13)
    mk(
        "pad_uint8",
        """g (uint8[4,4] x) => (uint8 y) <int64[4] p = {1,1,1,1}> { y = Pad(x, p) }""",
        opset=13,
    )
    mk(
        "topk_uint8",
        """g (uint8[4] x) => (uint8 v, int64 i) <int64[1] k = {2}> { v, i = TopK(x, k) }""",
        opset=13,
    )
    mk("trilu_uint8", """g (uint8[4,4] x) => (uint8 y) { y = Trilu(x) }""", opset=14)
    mk(
        "revseq_uint8",
        """g (uint8[4,4] x, int64[4] l) => (uint8 y) { y = ReverseSequence<batch_axis=1, time_axis=0>(x, l) }""",
        opset=13,
    )
    mk("nonzero_uint8", """g (uint8[4] x) => (int64 y) { y = NonZero(x) }""", opset=13)
    mk(
        "onehot_uint8",
        """g (uint8[3] i) => (float y) <int64[1] d = {5}, float[2] v = {0.0, 1.0}> { y = OneHot(i, d, v) }""",
        opset=11,
    )
    mk("eyelike_uint8", """g (uint8[4,4] x) => (uint8 y) { y = EyeLike(x) }""", opset=13)
    # --- exp6.py
    body = "<body = body (int64 i, bool cin, float[4] s) => (bool cout, float[4] so) { cout = Identity(cin) so = Identity(s) }>"
    mk(
        "loop_cast",
        "g (float[4] x, float l) => (float[4] y) <bool c = {1}> { m = Cast<to=7>(l) y = Loop(m, c, x) "
        + body
        + " }",
        16,
    )
    mk(
        "loop_ceil_cast",
        "g (float[4] x, float l) => (float[4] y) <bool c = {1}> { q = Ceil(l) m = Cast<to=7>(q) y = Loop(m, c, x) "
        + body
        + " }",
        16,
    )
    mk(
        "loop_div_cast",
        "g (float[4] x, float l, float d) => (float[4] y) <bool c = {1}> { q = Div(l, d) m = Cast<to=7>(q) y = Loop(m, c, x) "
        + body
        + " }",
        16,
    )
    mk(
        "loop_sub_div_ceil_cast",
        "g (float[4] x, float l, float s, float d) => (float[4] y) <bool c = {1}> { a = Sub(l, s) q = Div(a, d) r = Ceil(q) m = Cast<to=7>(r) y = Loop(m, c, x) "
        + body
        + " }",
        16,
    )
    mk(
        "range_cast_float_input",
        "g (float l) => (int64 y) <int64 s = {0}, int64 d = {1}> { m = Cast<to=7>(l) y = Range(s, m, d) }",
        16,
    )
    mk(
        "range_div_cast_float_input",
        "g (float l, float e) => (int64 y) <int64 s = {0}, int64 d = {1}> { q = Div(l, e) m = Cast<to=7>(q) y = Range(s, m, d) }",
        16,
    )
    mk(
        "reshape_from_float",
        "g (float[6] x, float[2] sh) => (float y) { m = Cast<to=7>(sh) y = Reshape(x, m) }",
        16,
    )
    mk(
        "reshape_from_float_mul",
        "g (float[6] x, float[2] sh) => (float y) { q = Mul(sh, sh) m = Cast<to=7>(q) y = Reshape(x, m) }",
        16,
    )
    # --- exp7.py
    mk(
        "unsq_axes_shape_derived",
        "g (float[2,3] x, float[5] z) => (float y) { s = Shape(z) c = Constant<value=int64[1] {4}>() ax = Sub(s, c) y = Unsqueeze(x, ax) }",
        13,
    )
    mk(
        "sq_axes_shape_derived",
        "g (float[1,3] x, float[1] z) => (float y) { s = Shape(z) c = Constant<value=int64[1] {1}>() ax = Sub(s, c) y = Squeeze(x, ax) }",
        13,
    )
    mk(
        "unsq_axes_int_input_derived",
        "g (float[2,3] x, int64[1] n) => (float y) { c = Constant<value=int64[1] {0}>() ax = Mul(n, c) y = Unsqueeze(x, ax) }",
        13,
    )
    mk(
        "resize_sizes_concat",
        'g (float[1,3,4,4] x, float[1,3,8,8] z) => (float y) { s = Shape(z) a = Constant<value=int64[1] {2}>() b = Constant<value=int64[1] {4}>() hw = Slice(s, a, b) nc = Constant<value=int64[2] {1,3}>() sz = Concat<axis=0>(nc, hw) y = Resize<mode="linear">(x, , , sz) }',
        13,
    )
    mk("expand_bool", "g (bool[1,4] x) => (bool y) <int64[2] s = {3,4}> { y = Expand(x, s) }", 13)
    mk(
        "where_float_data_scalar",
        "g (bool[4] c, float[4] a) => (float y) <float b = {0.0}> { y = Where(c, a, b) }",
        13,
    )
    mk(
        "gather_scalar_idx_shape",
        "g (float[2,3] x) => (int64 y) <int64 i = {1}> { s = Shape(x) y = Gather<axis=0>(s, i) }",
        13,
    )
    mk(
        "slice_dynamic_from_shape",
        "g (float[N,8] x, float[M] z) => (float y) { s = Shape(z) zero = Constant<value=int64[1] {0}>() ax = Constant<value=int64[1] {0}>() y = Slice(x, zero, s, ax) }",
        13,
    )
    mk(
        "tile_from_shape",
        "g (float[2,3] x, float[4,1] z) => (float y) { r = Shape(z) y = Tile(x, r) }",
        13,
    )
    mk(
        "cos_from_reduce",
        "g (float[2,3] x) => (float y) { r = ReduceMax<keepdims=0>(x) i = Cast<to=7>(r) u = Unsqueeze(i, c) y = ConstantOfShape(u) }".replace(
            "(i, c)", "(i, ax)"
        ).replace("{ r", "<int64[1] ax = {0}> { r"),
        13,
    )
    mk(
        "range_int_from_data",
        "g (float[2,3] x) => (int64 y) <int64 s = {0}, int64 d = {1}> { r = ReduceMax<keepdims=0>(x) l = Cast<to=7>(r) y = Range(s, l, d) }",
        13,
    )
    mk(
        "nonzero_then_gather",
        "g (float[4] x) => (float y) { n = NonZero(x) t = Transpose(n) y = GatherND(x, t) }",
        13,
    )
    mk(
        "reshape_from_data_int",
        "g (float[6] x, int64[2] v) => (float y) { q = Mul(v, v) y = Reshape(x, q) }",
        13,
    )

    skip = {"unsqueeze_axes_fromshape", "unsq_axes_int_input_derived"}  # invalid / special
    return [(n, m) for n, m in out if n not in skip and not n.startswith("ms_")]
