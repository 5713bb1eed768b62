"""Trains small scikit-learn, LightGBM and XGBoost models and converts them to ONNX
(ai.onnx.ml operators) with skl2onnx / onnxmltools: the fixtures of `tests/rewrite/
test_lower_ml_models.py`, which runs `trt-rewrite --lower-ml` on each, verified, and parses the
result with TensorRT-RTX.

Needs (not test dependencies; the fixtures are committed):
    pip install scikit-learn skl2onnx onnxmltools lightgbm xgboost-cpu

Usage:
    python benchmarks/ml_models.py [--out tests/fixtures/ml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OPSETS = {"": 17, "ai.onnx.ml": 3}
FEATURES = 6
SEED = 0


def data(classes: int | None, n: int = 200):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((n, FEATURES)).astype(np.float32)
    signal = x @ rng.standard_normal(FEATURES) + 0.3 * rng.standard_normal(n)
    if classes is None:
        return x, signal.astype(np.float32)
    edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
    return x, np.digitize(signal, edges).astype(np.int64)


def sklearn_models():
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Binarizer, Normalizer, StandardScaler
    from sklearn.svm import SVC, SVR
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    yield "logreg_binary", make_pipeline(StandardScaler(), LogisticRegression()), 2
    yield "logreg_3class", make_pipeline(StandardScaler(), LogisticRegression()), 3
    yield "linear_regression", LinearRegression(), None
    for kernel in ("linear", "poly", "rbf", "sigmoid"):
        yield f"svc_{kernel}_3class", SVC(kernel=kernel, degree=2, gamma=0.2), 3
        yield f"svr_{kernel}", SVR(kernel=kernel, degree=2, gamma=0.2), None
    yield "svc_rbf_binary", SVC(kernel="rbf", gamma=0.2), 2
    yield "decision_tree_3class", DecisionTreeClassifier(max_depth=6, random_state=0), 3
    yield "decision_tree_regressor", DecisionTreeRegressor(max_depth=6, random_state=0), None
    yield "random_forest_binary", RandomForestClassifier(8, max_depth=5, random_state=0), 2
    yield "random_forest_regressor", RandomForestRegressor(8, max_depth=5, random_state=0), None
    yield "gradient_boosting_binary", GradientBoostingClassifier(n_estimators=10, max_depth=3), 2
    yield "gradient_boosting_3class", GradientBoostingClassifier(n_estimators=6, max_depth=3), 3
    yield "gradient_boosting_regressor", GradientBoostingRegressor(n_estimators=10), None
    yield (
        "impute_normalize_logreg",
        make_pipeline(SimpleImputer(), Normalizer(), LogisticRegression()),
        3,
    )
    yield "binarize_tree", make_pipeline(Binarizer(threshold=0.2), DecisionTreeClassifier()), 2


def convert_sklearn(name, model, classes, out: Path):
    from skl2onnx import to_onnx

    x, y = data(classes)
    model.fit(x, y)
    proto = to_onnx(model, x[:1], target_opset=OPSETS)
    (out / f"{name}.onnx").write_bytes(proto.SerializeToString())


def onehot_pipeline(out: Path):
    """OneHotEncoder on int64 categories feeding a logistic regression."""
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 4, size=(200, 3)).astype(np.int64)
    y = (x.sum(axis=1) > 4).astype(np.int64)
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(x, y)
    proto = to_onnx(model, x[:1], target_opset=OPSETS)
    (out / "onehot_logreg.onnx").write_bytes(proto.SerializeToString())


def boosters(out: Path):
    import lightgbm
    import xgboost
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    kinds = [FloatTensorType([None, FEATURES])]
    for classes in (2, 3):
        x, y = data(classes)
        lgb = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=8, verbose=-1).fit(x, y)
        proto = convert_lightgbm(lgb, initial_types=[("input", kinds[0])], target_opset=15)
        (out / f"lightgbm_{classes}class.onnx").write_bytes(proto.SerializeToString())
        xgb = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
        proto = convert_xgboost(xgb, initial_types=[("input", kinds[0])], target_opset=15)
        (out / f"xgboost_{classes}class.onnx").write_bytes(proto.SerializeToString())
    x, y = data(None)
    lgb = lightgbm.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1).fit(x, y)
    proto = convert_lightgbm(lgb, initial_types=[("input", kinds[0])], target_opset=15)
    (out / "lightgbm_regressor.onnx").write_bytes(proto.SerializeToString())
    xgb = xgboost.XGBRegressor(n_estimators=10, max_depth=3).fit(x, y)
    proto = convert_xgboost(xgb, initial_types=[("input", kinds[0])], target_opset=15)
    (out / "xgboost_regressor.onnx").write_bytes(proto.SerializeToString())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/ml", help="where to write the models")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, model, classes in sklearn_models():
        convert_sklearn(name, model, classes, out)
    onehot_pipeline(out)
    boosters(out)
    total = sum(p.stat().st_size for p in out.glob("*.onnx"))
    print(f"wrote {len(list(out.glob('*.onnx')))} models, {total / 1024:.0f} KiB, to {out}")


if __name__ == "__main__":
    main()
