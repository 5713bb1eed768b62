"""Plugins that ship with TensorRT itself (libnvinfer_plugin), by (name, version).

The ONNX parser finds these by op_type like any registered plugin (`plugin_version` attribute,
default "1"; empty namespace). TensorRT-RTX ships no plugin library, so none of them resolves
there — observed with the TensorRT-RTX 1.7.1 parser: a node named `EfficientNMS_TRT` fails with
"Plugin not found", and the importers that call into a shipped plugin fail too (RoiAlign:
"ROIAlign plugin was not found in the plugin registry"; ScatterElements with a reduction:
"Unsupported reduction type").

Importers of the open-source parser that need one of these plugins on TensorRT: RoiAlign
(ROIAlign_TRT), ScatterElements with reduction != "none" (ScatterElements). NonZero,
NonMaxSuppression and GridSample are TensorRT core layers (INonZeroLayer, INMSLayer,
IGridSampleLayer), although TensorRT-RTX's parser imports NonZero through a plugin.

Sources: TensorRT OSS plugin/README.md (plugin table, names, versions, [DEPRECATED] marks);
plugin/scatterElementsPlugin README (version 2 = IPluginV3, July 2024); TensorRT 10.11 release
notes (DisentangledAttention_TRT and MultiscaleDeformableAttnPlugin_TRT version 2); TensorRT
11.0 release notes ("Removed deprecated plugins: batchTile, clip, coordConvAC, cropAndResize,
gelu, leakyRelu, normalize, singleStepLSTM, specialSlice, split, nms, and proposal").
"""

from __future__ import annotations

from dataclasses import dataclass

from trtforge.analyzer.targets import Target

Version = tuple[int, int]


@dataclass(frozen=True)
class ShippedPlugin:
    """Which TensorRT releases ship one plugin version.

    Attributes:
        trt: first TensorRT release that ships it (the knowledge base starts at 10.0).
        removed: first TensorRT release that no longer ships it, or None.
        deprecated: marked [DEPRECATED] in the plugin table.
    """

    trt: Version = (10, 0)
    removed: Version | None = None
    deprecated: bool = False

    def available(self, target: Target) -> bool:
        if target.family != "trt":
            return False  # TensorRT-RTX ships no plugin library
        if target.version < self.trt:
            return False
        return self.removed is None or target.version < self.removed


_TRT10 = ShippedPlugin()
_DEPRECATED = ShippedPlugin(deprecated=True)
_REMOVED_IN_11 = ShippedPlugin(deprecated=True, removed=(11, 0))

#: (plugin name, version) -> releases that ship it.
SHIPPED: dict[tuple[str, str], ShippedPlugin] = {
    ("BatchTilePlugin_TRT", "1"): _REMOVED_IN_11,
    ("BatchedNMS_TRT", "1"): _DEPRECATED,
    ("BatchedNMSDynamic_TRT", "1"): _DEPRECATED,
    ("CustomQKVToContextPluginDynamic", "1"): _TRT10,
    ("CustomQKVToContextPluginDynamic", "2"): _TRT10,
    ("CustomQKVToContextPluginDynamic", "3"): _TRT10,
    ("Clip_TRT", "1"): _REMOVED_IN_11,
    ("CoordConvAC", "1"): _REMOVED_IN_11,
    ("CropAndResize", "1"): _REMOVED_IN_11,
    ("CropAndResizeDynamic", "1"): _TRT10,
    ("DecodeBbox3DPlugin", "1"): _TRT10,
    ("DetectionLayer_TRT", "1"): _TRT10,
    ("DisentangledAttention_TRT", "1"): _TRT10,
    ("DisentangledAttention_TRT", "2"): ShippedPlugin(trt=(10, 11)),
    ("EfficientNMS_TRT", "1"): _TRT10,
    ("EfficientNMS_ONNX_TRT", "1"): _DEPRECATED,
    ("CustomEmbLayerNormPluginDynamic", "1"): _TRT10,
    ("CustomEmbLayerNormPluginDynamic", "2"): _TRT10,
    ("CustomFCPluginDynamic", "1"): _TRT10,
    ("FlattenConcat_TRT", "1"): _TRT10,
    ("CustomGeluPluginDynamic", "1"): _REMOVED_IN_11,
    ("GenerateDetection_TRT", "1"): _TRT10,
    ("GridAnchor_TRT", "1"): _TRT10,
    ("GridAnchorRect_TRT", "1"): _TRT10,
    ("GroupNormalizationPlugin", "1"): _TRT10,
    ("InstanceNormalization_TRT", "1"): _TRT10,
    ("LReLU_TRT", "1"): _REMOVED_IN_11,
    ("ModulatedDeformConv2d", "1"): _TRT10,
    ("MultilevelCropAndResize_TRT", "1"): _TRT10,
    ("MultilevelProposeROI_TRT", "1"): _TRT10,
    ("MultiscaleDeformableAttnPlugin_TRT", "1"): _TRT10,
    ("MultiscaleDeformableAttnPlugin_TRT", "2"): ShippedPlugin(trt=(10, 11)),
    ("NMS_TRT", "1"): _REMOVED_IN_11,
    ("NMSDynamic_TRT", "1"): _REMOVED_IN_11,
    ("Normalize_TRT", "1"): _REMOVED_IN_11,
    ("RPROI_TRT", "1"): _TRT10,
    ("PillarScatterPlugin", "1"): _TRT10,
    ("PriorBox_TRT", "1"): _TRT10,
    ("ProposalLayer_TRT", "1"): _TRT10,
    ("Proposal", "1"): _REMOVED_IN_11,
    ("ProposalDynamic", "1"): _TRT10,
    ("PyramidROIAlign_TRT", "1"): _TRT10,
    ("Region_TRT", "1"): _TRT10,
    ("Reorg_TRT", "2"): _TRT10,
    ("ROIAlign_TRT", "1"): _TRT10,
    ("ResizeNearest_TRT", "1"): _TRT10,
    ("ScatterElements", "1"): _TRT10,
    ("ScatterElements", "2"): ShippedPlugin(trt=(10, 3)),
    ("ScatterND", "1"): _TRT10,
    ("CustomSkipLayerNormPluginDynamic", "1"): _TRT10,
    ("CustomSkipLayerNormPluginDynamic", "2"): _TRT10,
    ("CustomSkipLayerNormPluginDynamic", "3"): _TRT10,
    ("SpecialSlice_TRT", "1"): _REMOVED_IN_11,
    ("Split", "1"): _REMOVED_IN_11,
    ("VoxelGeneratorPlugin", "1"): _TRT10,
}
