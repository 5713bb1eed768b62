"""Signal processing: DFT, STFT, window functions, MelWeightMatrix.

Sources: onnx-tensorrt docs/operators.md (10.15: BlackmanWindow, HammingWindow, HannWindow
FP32/FP16; STFT FP32 "`frame_step` and `window` must be an initializer. Input must be
real-valued."; DFT, MelWeightMatrix: N); onnxOpImporters.cpp importSTFT (frame_step, window and
frame_length must be initializers; signal rank 2, or rank 3 with last dim 1) and the window
importers ("Output must be float32-type!": output_datatype must be 1; window length a scalar);
Changelog 10.4 (window ops), 10.5 (real-valued STFT). Observed with the TensorRT-RTX 1.7.1
parser: DFT has no importer ("Plugin not found"); complex STFT input and a runtime window fail;
output_datatype=FLOAT16 fails.
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._compute import (
    CHANGELOG,
    IMPORTERS,
    OBSERVED,
    OPS_MD,
    is_weights,
    not_weights,
    src,
)
from trtforge.analyzer.kb.policy import FLOAT_LIKE, INDEX_INTS
from trtforge.analyzer.kb.rule import NEVER, AttrLimit, NodeContext, OpRule, Since

_STFT_CONST = {
    1: "frame_step becomes the convolution stride",
    2: "the window is folded into the DFT weights",
    3: "frame_length sizes the DFT weights",
}


def _check_stft(ctx: NodeContext):
    for index, why in _STFT_CONST.items():
        if ctx.has_input(index) and not is_weights(ctx, index):
            yield not_weights(ctx, index, why)
    signal = ctx.input(0)
    if signal is not None and signal.shape is not None:
        shape = signal.shape
        real = len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, None) and shape[2] == 1)
        if len(shape) == 3 and shape[2] == 2:
            real = False
        if len(shape) not in (2, 3) or not real:
            yield ctx.finding(
                "complex-signal",
                f"signal shape {list(shape)}: TensorRT's STFT takes real signals "
                "[batch, length] or [batch, length, 1]",
                "compute the STFT of the real and imaginary parts separately",
            )
    if not (ctx.has_input(2) or ctx.has_input(3)):
        yield ctx.finding(
            "frame-length",
            "neither window nor frame_length is given",
            "pass a window initializer or a frame_length initializer",
        )


_WINDOW_ATTR = AttrLimit(
    "output_datatype",
    allowed={1},
    default=1,
    hint="produce a FLOAT window (output_datatype=1) and Cast it afterwards",
    code="output-datatype",
)

RULES = [
    *(
        OpRule(
            op=op,
            source=src(
                f"{OPS_MD} ({op} row)", f"{IMPORTERS} import{op}", CHANGELOG + " 10.4", OBSERVED
            ),
            since=Since(trt=(10, 4), rtx=(1, 0), reason=f"{op} is imported from TensorRT 10.4"),
            types={0: INDEX_INTS},
            attrs=(_WINDOW_ATTR,),
            hint="compute the window offline and store it as an initializer",
        )
        for op in ("BlackmanWindow", "HammingWindow", "HannWindow")
    ),
    OpRule(
        op="STFT",
        source=src(
            f"{OPS_MD} (STFT row)", f"{IMPORTERS} importSTFT", CHANGELOG + " 10.5", OBSERVED
        ),
        since=Since(trt=(10, 5), rtx=(1, 0), reason="STFT is imported from TensorRT 10.5"),
        types={0: FLOAT_LIKE, 1: INDEX_INTS, 2: FLOAT_LIKE, 3: INDEX_INTS},
        hint="compute the STFT as a strided Conv with precomputed DFT weights",
        check=_check_stft,
    ),
    OpRule(
        op="DFT",
        source=src(f"{OPS_MD} (DFT row: N)", "no importer (plugin lookup fails)", OBSERVED),
        since=NEVER,
        hint="no TensorRT importer: for fixed lengths trt-rewrite --decompose-dft expresses the "
        "DFT as MatMul with precomputed cos/sin matrices; otherwise use a plugin",
    ),
    OpRule(
        op="MelWeightMatrix",
        source=src(f"{OPS_MD} (MelWeightMatrix row: N)", "no importer", OBSERVED),
        since=NEVER,
        hint="precompute the mel matrix offline and store it as an initializer "
        "(trt-rewrite --fold-constants when its inputs are constants)",
    ),
]
