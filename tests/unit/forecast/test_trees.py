from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

from ayni.forecast._trees import TreeEnsemble, compile_forest, compile_hist_gbm


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + rng.normal(0, 0.1, 600)
    return X, y


def test_compiled_gradient_boosting_predicts_exactly_like_scikit_learn_including_missing_values() -> None:
    X, y = _data()
    X[::9, 2] = np.nan
    model = HistGradientBoostingRegressor(max_iter=25, random_state=0).fit(X, y)
    assert np.allclose(compile_hist_gbm(model).predict(X), model.predict(X), atol=1e-9)


def test_compiled_forest_predicts_exactly_like_scikit_learn() -> None:
    X, y = _data()
    model = RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0).fit(X, y)
    assert np.allclose(compile_forest(model).predict(X), model.predict(X), atol=1e-9)


def test_tree_arrays_round_trip() -> None:
    X, y = _data()
    compiled = compile_hist_gbm(HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y))
    again = TreeEnsemble.from_arrays(compiled.to_arrays("p_"), "p_")
    assert np.array_equal(again.predict(X), compiled.predict(X))
