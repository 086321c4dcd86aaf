from __future__ import annotations

import numpy as np
import pandas as pd

from ayni.forecast.drift import add, combine, scale, shifted_input_study, weather_shifts


def test_shift_study_reports_zero_change_without_shift_and_more_error_with_it() -> None:
    inputs = pd.DataFrame({"temperature": np.linspace(10, 30, 50), "humidity": 60.0,
                           "general_diffuse": 1.0, "diffuse": 1.0})
    truth = 2 * inputs["temperature"].to_numpy()

    def predict(df: pd.DataFrame) -> np.ndarray:
        return 2 * df["temperature"].to_numpy() + 0.1

    study = shifted_input_study(predict, inputs, truth, weather_shifts()).set_index("scenario")
    assert study.loc["none", "mae_change_pct"] == 0
    assert study.loc["temperature +3 °C", "mae_change_pct"] > 1000
    assert abs(study.loc["humidity -10 points", "mae_change_pct"]) < 1e-9


def test_shifts_do_not_modify_their_input_and_respect_bounds() -> None:
    df = pd.DataFrame({"h": [5.0, 95.0], "r": [1.0, 2.0]})
    out = combine(add("h", 10, upper=100), scale("r", 2))(df)
    assert df["h"].tolist() == [5.0, 95.0]
    assert out["h"].tolist() == [15.0, 100.0] and out["r"].tolist() == [2.0, 4.0]


def test_forecast_png_is_a_png_image() -> None:
    from ayni.forecast.plot import forecast_png

    idx = pd.date_range("2024-01-01", periods=30, freq="D")
    hist = pd.Series(np.arange(20.0), index=idx[:20])
    fc = pd.DataFrame({"mean": 20.0, "lower": 18.0, "upper": 22.0}, index=idx[20:])
    png = forecast_png(hist, fc, title="t", truth=pd.Series(21.0, index=idx[20:]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 500
