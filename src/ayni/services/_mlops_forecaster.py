"""The supply forecaster in the MLOps loop: the annual district model the product serves.

``ayni.services.forecasting`` serves ``forecast_district_material``, whose level is the annual MINAM
district model (``fit_annual_model`` → ``TabularForecaster``, a log-growth model over district × year);
the Chiclayo daily model is a backtest, not served. So the registered ``forecaster`` is the annual model.

Base data is ``annual_panel`` over target years 2019…latest (features from years before the target only),
``key`` = ``<ubigeo>:<year>``, ``label`` = the target log growth, and ``split`` = ``test`` for the target
year ``test_year`` (``Settings.forecaster.test_year``, the year ``ayni forecast train`` holds out; later years
are left out): the frozen evaluation set is held out by time. There is no user feedback for supply, so the
training set is the base training rows.

Gate metric: MASE (lower is better) on the frozen year, in tonnes: the model's MAE divided by the mean
absolute change of the previous year (``|y_{T-1} − y_{T-2}|``, the in-sample naive error, per district
from the features). Checks: forecasts (and interval bounds) are non-negative, invariant to the order of
the rows, and not worse than "same as last year" by more than 5 %.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ayni.errors import InvalidInput
from ayni.mlops.drift import build_reference
from ayni.mlops.feedback import EvalSet, TrainingSetReport
from ayni.mlops.promotion import CheckResult
from ayni.mlops.registry import Signature
from ayni.mlops.retrain import TrainedModel

log = logging.getLogger(__name__)

MODEL_FILE = "annual.npz"  # TabularForecaster.save, as `ayni forecast train` names it
DRIFT_FEATURES = ("lr1", "pop_lr1", "gpc_lr1", "log_last")
_META = ("key", "label", "split", "ubigeo", "target_year", "target", "last")


def load_forecaster(model_dir: Path):  # type: ignore[no-untyped-def]
    """The registered annual model in ``model_dir`` (what serving loads from the registry's champion)."""
    from ayni.forecast.tabular import TabularForecaster

    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise InvalidInput(f"{model_dir} holds no {MODEL_FILE}.")
    return TabularForecaster.load(path)


def generation_path(data_dir: Path) -> Path:
    return data_dir / "peru" / "waste_generation_district_year.csv"


def forecaster_base(path: Path, *, test_year: int) -> pd.DataFrame:
    """MINAM's district × year table as panel rows with features, label and a time split."""
    from ayni.forecast.peru import FIRST_TARGET_YEAR, annual_panel, load_generation

    if not path.is_file():
        raise InvalidInput(f"No MINAM generation table at {path}; set AYNI_DATA_DIR.")
    generation = load_generation(path)
    last = int(generation["year"].max())
    test = int(test_year)
    if not FIRST_TARGET_YEAR < test <= last:
        raise InvalidInput(f"The test year {test} must come after {FIRST_TARGET_YEAR} and be in the table "
                           f"(years up to {last}); set AYNI_FORECASTER__TEST_YEAR.", details={"test_year": test})
    panel = annual_panel(generation, target_years=range(FIRST_TARGET_YEAR, last + 1))
    panel = panel[np.isfinite(panel["target"])].reset_index(drop=True)
    panel.insert(0, "key", panel["ubigeo"].astype(str) + ":" + panel["target_year"].astype(str))
    panel.insert(1, "label", [repr(float(v)) for v in panel["target"]])
    panel.insert(2, "split", np.where(panel["target_year"] == test, "test",
                                      np.where(panel["target_year"] < test, "train", "later")))
    return panel[panel["split"] != "later"].reset_index(drop=True)


def forecaster_training_set(base: pd.DataFrame, feedback: pd.DataFrame, *,
                            eval_set: EvalSet) -> tuple[pd.DataFrame, TrainingSetReport]:
    """The base training rows (no feedback for supply); nothing from the evaluation set."""
    from ayni.mlops.data_version import hash_frame

    out = base[(base["split"] == "train") & ~base["key"].astype(str).isin(eval_set.keys)].reset_index(drop=True)
    report = TrainingSetReport(base_rows=len(base), feedback_rows=0, corrections_used=0, relabelled=0, added=0,
                               duplicates_dropped=0, eval_leaks_dropped=0, rows_out=len(out),
                               data_version=hash_frame(out[["key", "label"]]))
    return out, report


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in _META if c in frame.columns] + ["group", "source"], errors="ignore")


class ForecasterTrainer:
    """``Trainer`` over ``ayni.forecast.TabularForecaster`` with ``fit_annual_model``'s candidates and settings.

    ``random_state`` has no default: ``model_specs`` passes ``Settings.forecaster.seed``, the seed of
    ``ayni forecast train`` too."""

    def __init__(self, *, random_state: int, max_ratio_to_last_value: float = 1.05) -> None:
        self.random_state = random_state
        self.max_ratio_to_last_value = max_ratio_to_last_value

    def _model(self, model_dir: Path):  # type: ignore[no-untyped-def]
        return load_forecaster(model_dir)

    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel:
        from ayni.forecast.peru import ANNUAL_CANDIDATES
        from ayni.forecast.tabular import TabularForecaster

        X = _features(frame)
        y: np.ndarray = np.asarray(frame["label"].astype(float), dtype=np.float64)
        # the settings of ayni.forecast.peru.fit_annual_model, fitted on the panel rows we are given
        model = TabularForecaster(candidates=ANNUAL_CANDIDATES, n_splits=2, coverage=0.8,
                                  model_params={"hist_gbm": {"max_iter": 200, "min_samples_leaf": 50}},
                                  random_state=self.random_state).fit(X, y, time=frame["target_year"].to_numpy())
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(out_dir / MODEL_FILE)
        build_reference(tabular=X[list(DRIFT_FEATURES)].reset_index(drop=True),
                        random_state=self.random_state).save(out_dir)
        pred = model.predict(X.iloc[:2])
        return TrainedModel(model_dir=out_dir, params={"random_state": self.random_state, "chosen": model.chosen_,
                                                       "rows": len(y)},
                            metrics={f"cv_mae_{k.replace(':', '_')}": v for k, v in model.cv_scores_.items()},
                            signature=Signature(X.iloc[:2].to_numpy(dtype=np.float64), pred))

    @staticmethod
    def _tonnes(frame: pd.DataFrame, growth: np.ndarray) -> np.ndarray:
        return np.asarray(frame["last"].to_numpy(dtype=np.float64) * np.exp(growth))

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]:
        model = self._model(model_dir)
        last = eval_frame["last"].to_numpy(dtype=np.float64)
        truth = self._tonnes(eval_frame, eval_frame["label"].astype(float).to_numpy())
        pred = self._tonnes(eval_frame, model.predict(_features(eval_frame)))
        prev = last / np.exp(eval_frame["lr1"].to_numpy(dtype=np.float64))  # y_{T-2}
        scale = float(np.nanmean(np.abs(last - prev)))
        mae, naive = float(np.mean(np.abs(truth - pred))), float(np.mean(np.abs(truth - last)))
        return {"mae": mae, "mase": mae / scale if scale > 0 else float("nan"), "last_value_mae": naive,
                "mape": float(np.mean(np.abs(truth - pred) / np.abs(truth)) * 100), "n_districts": float(len(truth))}

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> Sequence[CheckResult]:
        model = self._model(model_dir)
        X = _features(eval_frame)
        band = model.predict_interval(X)
        low = self._tonnes(eval_frame, band["lower"].to_numpy())
        nonneg = float(np.mean(low >= 0) if len(low) else 1.0)
        order = np.random.default_rng(self.random_state).permutation(len(X))
        a = model.predict(X)
        b = np.empty_like(a)
        b[order] = model.predict(X.iloc[order])
        same = float(np.max(np.abs(a - b))) if len(a) else 0.0
        scores = self.evaluate(model_dir, eval_frame)
        ratio = scores["mae"] / scores["last_value_mae"] if scores["last_value_mae"] > 0 else float("inf")
        return [
            CheckResult("non-negative forecasts", nonneg == 1.0, f"share of lower bounds ≥ 0: {nonneg:.3f}", nonneg),
            CheckResult("invariant to row order", same <= 1e-9, f"largest change {same:.2e} ≤ 1e-9", same),
            CheckResult("not worse than last value", ratio <= self.max_ratio_to_last_value,
                        f"MAE / last-value MAE {ratio:.3f} ≤ {self.max_ratio_to_last_value}", ratio),
        ]
