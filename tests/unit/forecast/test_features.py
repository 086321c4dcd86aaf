from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ayni.forecast.features import calendar_features, origin_features, seasonal_naive

from ._synthetic import weekly_series


def _frame(y: np.ndarray, index: pd.DatetimeIndex, origins: list[int], **kw: object) -> pd.DataFrame:
    params: dict = {"horizon": 10, "seasons": (7,), "windows": (3, 14), "profile_periods": (2,)}
    params.update(kw)
    return origin_features(y, index, origins, **params).X


def test_features_at_an_origin_ignore_every_value_from_the_origin_on() -> None:
    s = weekly_series(120)
    y, index = s.to_numpy(), pd.DatetimeIndex(s.index)
    exog = pd.DataFrame({"temp": np.arange(120.0)}, index=index)
    before = _frame(y, index, [60, 90], exog=exog, exog_mode="past")
    tampered = y.copy()
    tampered[60:] = 1e6
    after = _frame(tampered, index, [60], exog=exog, exog_mode="past")
    pd.testing.assert_frame_equal(before.iloc[:10].reset_index(drop=True), after)


def test_features_do_change_when_the_past_changes() -> None:
    s = weekly_series(120)
    y, index = s.to_numpy(), pd.DatetimeIndex(s.index)
    tampered = y.copy()
    tampered[55] += 50
    assert not _frame(y, index, [60]).equals(_frame(tampered, index, [60]))


def test_seasonal_naive_feature_is_the_last_known_value_at_the_same_phase() -> None:
    y = np.arange(40, dtype=float)
    index = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = origin_features(y, index, [20], horizon=10, seasons=(7,), windows=(7,), relative=False)
    # steps 1..7 read one week back, steps 8..10 two weeks back
    expected = [13, 14, 15, 16, 17, 18, 19, 13, 14, 15]
    assert frame.X["snaive_7"].tolist() == expected
    assert seasonal_naive(y, np.array([20]), horizon=10, season=7).ravel().tolist() == expected
    assert frame.X["last"].unique().tolist() == [19]
    assert frame.target.tolist() == list(range(20, 30))


def test_relative_features_are_divided_by_the_level() -> None:
    y = np.full(60, 50.0)
    index = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = origin_features(y, index, [30], horizon=3, seasons=(7,), windows=(7,))
    assert np.allclose(frame.X["snaive_7"], 1.0) and np.allclose(frame.target, 1.0)
    assert np.allclose(frame.level, 50.0)


def test_same_time_exog_reads_the_target_timestamp_and_past_exog_does_not() -> None:
    index = pd.date_range("2024-01-01", periods=50, freq="D")
    exog = pd.DataFrame({"t": np.arange(50.0)}, index=index)
    y = np.ones(50)
    same = origin_features(y, index, [30], horizon=3, seasons=(7,), windows=(7,), exog=exog, exog_mode="same_time")
    past = origin_features(y, index, [30], horizon=3, seasons=(7,), windows=(7,), exog=exog, exog_mode="past")
    assert same.X["x_t"].tolist() == [30, 31, 32]
    assert past.X["x_t_last"].tolist() == [29, 29, 29]


def test_future_rows_have_no_target_but_do_have_calendar_features() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = origin_features(np.ones(30), index, [30], horizon=7, seasons=(7,), windows=(7,))
    assert np.isnan(frame.target).all()
    assert frame.X["dow"].notna().all()


def test_origin_outside_the_series_is_rejected() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="D")
    with pytest.raises(ValueError):
        origin_features(np.ones(30), index, [31], horizon=3, seasons=(7,), windows=(7,))


def test_calendar_features_are_cyclic_and_bounded() -> None:
    index = pd.date_range("2024-01-01", periods=3 * 144, freq="10min")
    cal = calendar_features(index)
    for col in ("tod_sin", "tod_cos", "dow_sin", "dow_cos", "doy_sin", "doy_cos"):
        assert cal[col].between(-1, 1).all()
    assert cal["minute_of_day"].max() == 1430
    assert "month" not in calendar_features(index, annual=False)
