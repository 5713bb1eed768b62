"""The `ai.onnx.ml` domain (traditional ML ops): no importer on any target.

The parser dispatches built-in importers by op_type alone and has none for these names, so it
looks each node up as a plugin (name = op_type, namespace from `plugin_namespace` or the node's
domain) and fails unless one is registered.

Sources: onnx-tensorrt onnxOpImporters.cpp (no importer; FallbackPluginImporter), ModelImporter
(plugin lookup); observed with the TensorRT-RTX 1.7.1 parser: Normalizer, Scaler, Binarizer,
Imputer, ArrayFeatureExtractor, LinearRegressor, LabelEncoder, OneHotEncoder and
TreeEnsembleClassifier all fail with "Plugin not found".
"""

from __future__ import annotations

from trtforge.analyzer.kb.ops._tensor_common import OBSERVED
from trtforge.analyzer.kb.rule import OpRule, Since

DOMAIN = "ai.onnx.ml"
SOURCE = f"onnxOpImporters.cpp (no importer; plugin fallback); {OBSERVED}"
WHY = Since(
    trt=None,
    rtx=None,
    reason="the parser has no importer for ai.onnx.ml ops and no plugin of that name is known",
)
HINT = (
    "trt-rewrite --lower-ml turns linear/SVM/tree-ensemble/preprocessing ops with numeric "
    "labels into standard ops (ZipMap with --zipmap-as-tensor); otherwise run the "
    "classical-ML part outside TensorRT (e.g. onnxruntime) or register a plugin of that name"
)

OPS = (
    "ArrayFeatureExtractor",
    "Binarizer",
    "CastMap",
    "CategoryMapper",
    "DictVectorizer",
    "FeatureVectorizer",
    "Imputer",
    "LabelEncoder",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "OneHotEncoder",
    "SVMClassifier",
    "SVMRegressor",
    "Scaler",
    "TreeEnsemble",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
)

RULES = [OpRule(op=op, domain=DOMAIN, source=SOURCE, since=WHY, hint=HINT) for op in OPS]
