"""Trends and forecasts of one count or measure series.

STL (statsmodels) splits the series into trend, seasonality (weekly for daily series; daily and
weekly, by MSTL, for hourly ones) and remainder. The forecast is STL-style: the seasonally adjusted
series is forecast by the best (AIC) of three small ARIMA models, and the last seasonal cycle is
added back; its intervals are the ARIMA's. Change points are found by binary segmentation of the
seasonally adjusted series (mean shifts, BIC-like penalty). Period-over-period compares the window
with the one before it (环比) and with the same window a year earlier (同比).
"""

import warnings
from dataclasses import dataclass

import numpy as np

PERIODS = {"day": (7,), "hour": (24, 168)}
MIN_SEGMENT = {"day": 7, "hour": 24}
# Candidate models for the seasonally adjusted series: a mean-reverting AR(1) with a constant (most
# sensor series), a local level (exponential smoothing: counts whose level drifts) and an ARIMA(1,1,1).
CANDIDATES = (((1, 0, 0), "c"), ((0, 1, 1), "n"), ((1, 1, 1), "n"))


@dataclass
class Decomposition:
    trend: np.ndarray
    seasonal: np.ndarray  # the sum of the seasonal components
    resid: np.ndarray
    seasonals: dict[int, np.ndarray]


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN gaps (sensor outages); edges take the nearest value."""
    y = np.asarray(values, dtype=float).copy()
    bad = np.isnan(y)
    if bad.all():
        return np.zeros_like(y)
    if bad.any():
        idx = np.arange(len(y))
        y[bad] = np.interp(idx[bad], idx[~bad], y[~bad])
    return y


def usable_periods(n: int, bucket: str) -> tuple[int, ...]:
    """The seasonal periods the series is long enough for (two full cycles each)."""
    return tuple(p for p in PERIODS[bucket] if n >= 2 * p + 1)


def decompose(y: np.ndarray, bucket: str) -> Decomposition | None:
    from statsmodels.tsa.seasonal import MSTL, STL

    periods = usable_periods(len(y), bucket)
    if not periods:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(periods) == 1:
            res = STL(y, period=periods[0], robust=True).fit()
            seasonals = {periods[0]: np.asarray(res.seasonal)}
        else:
            res = MSTL(y, periods=periods, stl_kwargs={"robust": True}).fit()
            s = np.asarray(res.seasonal).reshape(len(y), -1)
            seasonals = {p: s[:, i] for i, p in enumerate(periods)}
    seasonal = sum(seasonals.values())
    return Decomposition(
        trend=np.asarray(res.trend), seasonal=seasonal, resid=np.asarray(res.resid), seasonals=seasonals
    )


def _seasonal_ahead(seasonals: dict[int, np.ndarray], n: int, horizon: int) -> np.ndarray:
    """Each seasonal component's last cycle, repeated over the horizon (phase-aligned)."""
    out = np.zeros(horizon)
    for p, s in seasonals.items():
        last = s[-p:]
        # time n + h has the phase of time n - p + (h mod p), the (h mod p)-th of the last cycle
        out += last[np.arange(horizon) % p]
    return out


def forecast(
    y: np.ndarray, bucket: str, horizon: int, *, alpha: float = 0.2, decomposition: Decomposition | None = None
) -> dict:
    """{"mean", "lower", "upper", "model"} arrays of length `horizon`; `alpha` 0.2 gives 80 % intervals."""
    from statsmodels.tsa.arima.model import ARIMA

    y = fill_gaps(y)
    dec = decomposition if decomposition is not None else decompose(y, bucket)
    if dec is None:
        level = float(np.mean(y[-7:])) if len(y) else 0.0
        flat = np.full(horizon, level)
        return {"mean": flat, "lower": flat.copy(), "upper": flat.copy(), "model": "mean"}
    adjusted = y - dec.seasonal
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for order, trend in CANDIDATES:
            try:
                fit = ARIMA(adjusted, order=order, trend=trend).fit()
            except Exception:  # noqa: S112 - a candidate that does not converge is skipped
                continue
            if best is None or fit.aic < best[0]:
                best = (fit.aic, fit, order)
    seasonal_ahead = _seasonal_ahead(dec.seasonals, len(y), horizon)
    if best is None:
        level = float(np.mean(adjusted[-7:]))
        flat = np.full(horizon, level) + seasonal_ahead
        return {"mean": flat, "lower": flat.copy(), "upper": flat.copy(), "model": "mean"}
    _, fit, order = best
    pred = fit.get_forecast(horizon)
    mean = np.asarray(pred.predicted_mean) + seasonal_ahead
    ci = np.asarray(pred.conf_int(alpha=alpha))
    return {
        "mean": mean,
        "lower": ci[:, 0] + seasonal_ahead,
        "upper": ci[:, 1] + seasonal_ahead,
        "model": f"STL+ARIMA{order}",
    }


def seasonal_naive(y: np.ndarray, period: int, horizon: int) -> np.ndarray:
    last = np.asarray(y[-period:], dtype=float)
    return np.array([last[h % period] for h in range(horizon)])


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, period: int) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample seasonal-naive MAE."""
    scale = np.mean(np.abs(train[period:] - train[:-period]))
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(predicted))) / scale) if scale else float("inf")


def backtest(y: np.ndarray, bucket: str, *, horizon: int = 14, folds: int = 4, min_train: int | None = None) -> dict:
    """Rolling-origin evaluation on held-out windows at the end of the series: mean MASE of the
    forecast and of the seasonal-naive baseline (period: the longest seasonal period)."""
    y = fill_gaps(y)
    period = PERIODS[bucket][-1] if bucket == "day" else 168
    min_train = min_train or 4 * period
    model_scores, naive_scores = [], []
    for k in range(folds, 0, -1):
        cut = len(y) - k * horizon
        if cut < min_train:
            continue
        train, test = y[:cut], y[cut : cut + horizon]
        fc = forecast(train, bucket, len(test))["mean"]
        model_scores.append(mase(test, fc, train, period))
        naive_scores.append(mase(test, seasonal_naive(train, period, len(test)), train, period))
    if not model_scores:
        raise ValueError("the series is too short for a backtest")
    return {
        "folds": len(model_scores),
        "mase": float(np.mean(model_scores)),
        "mase_seasonal_naive": float(np.mean(naive_scores)),
    }


def change_points(y: np.ndarray, bucket: str, *, max_points: int = 5) -> list[dict]:
    """Mean shifts in the series by binary segmentation: split where the squared-error gain is
    largest while it beats a penalty of 2·log(n)·σ² (σ from the median absolute first difference,
    robust to the shifts themselves). Returns [{"index", "before", "after"}] sorted by index."""
    y = fill_gaps(y)
    n = len(y)
    min_seg = MIN_SEGMENT[bucket]
    if n < 2 * min_seg:
        return []
    sigma = 1.4826 * np.median(np.abs(np.diff(y))) / np.sqrt(2)
    sigma2 = max(sigma**2, 1e-9)
    penalty = 2.0 * np.log(n) * sigma2 * 2.0
    found: list[int] = []
    segments = [(0, n)]
    while segments and len(found) < max_points:
        best = None
        for a, b in segments:
            seg = y[a:b]
            m = len(seg)
            if m < 2 * min_seg:
                continue
            csum = np.cumsum(seg)
            total = csum[-1]
            ks = np.arange(min_seg, m - min_seg + 1)
            left = csum[ks - 1]
            gain = left**2 / ks + (total - left) ** 2 / (m - ks) - total**2 / m
            j = int(np.argmax(gain))
            if best is None or gain[j] > best[0]:
                best = (gain[j], a, b, a + int(ks[j]))
        if best is None or best[0] <= penalty:
            break
        _, a, b, cut = best
        found.append(cut)
        segments.remove((a, b))
        segments += [(a, cut), (cut, b)]
    found.sort()
    bounds = [0, *found, n]
    out = []
    for i, cut in enumerate(found):
        out.append(
            {
                "index": cut,
                "before": float(np.mean(y[bounds[i] : cut])),
                "after": float(np.mean(y[cut : bounds[i + 2]])),
            }
        )
    return out


def pct_change(current: float | None, base: float | None) -> float | None:
    if current is None or base is None or not np.isfinite(base) or base == 0:
        return None
    return round(100.0 * (current - base) / abs(base), 2)


def _total(values: np.ndarray, measure: bool) -> float | None:
    v = values[~np.isnan(values)] if measure else values
    if not len(v):
        return None
    return float(np.mean(v)) if measure else float(np.sum(v))


def trend_report(*, spec, since, until, bucket: str = "day", horizon: int = 14, user=None) -> dict:
    """Everything the trends endpoint answers for one series over [since, until)."""
    from dateutil.relativedelta import relativedelta

    from datahub.analysis import selectors

    index, values = selectors.load_series(spec, since=since, until=until, bucket=bucket, user=user)
    measure = spec.kind == "datastream" and spec.stat not in ("count", "sum")
    y = fill_gaps(values)
    dec = decompose(y, bucket) if len(y) else None
    fc = forecast(y, bucket, horizon, decomposition=dec) if len(y) else None
    step = index[1] - index[0] if len(index) > 1 else None
    future = []
    if fc is not None:
        from datetime import timedelta

        last = index[-1]
        tz = last.tzinfo
        for h in range(1, horizon + 1):
            if bucket == "day":
                t = (last.replace(tzinfo=None) + timedelta(days=h)).replace(tzinfo=tz)
            else:
                t = (last + h * (step or timedelta(hours=1))).astimezone(tz)
            future.append(t)
    span = until - since
    _, prev = selectors.load_series(spec, since=since - span, until=since, bucket=bucket, user=user)
    _, year = selectors.load_series(
        spec, since=since - relativedelta(years=1), until=until - relativedelta(years=1), bucket=bucket, user=user
    )
    current = _total(values, measure)
    previous = _total(prev, measure)
    year_ago = _total(year, measure)
    points = []
    for i, t in enumerate(index):
        v = values[i]
        points.append(
            {
                "t": t.isoformat(),
                "value": None if np.isnan(v) else float(v),
                "trend": float(dec.trend[i]) if dec is not None else None,
                "seasonal": float(dec.seasonal[i]) if dec is not None else None,
                "resid": float(dec.resid[i]) if dec is not None else None,
            }
        )
    cps = change_points(y, bucket) if len(y) else []
    return {
        "series": spec.label,
        "bucket": bucket,
        "from": since.isoformat(),
        "to": until.isoformat(),
        "seasonal_periods": list(usable_periods(len(y), bucket)),
        "points": points,
        "forecast": [
            {
                "t": t.isoformat(),
                "mean": float(fc["mean"][h]),
                "lower": float(fc["lower"][h]),
                "upper": float(fc["upper"][h]),
            }
            for h, t in enumerate(future)
        ]
        if fc is not None
        else [],
        "forecast_model": fc["model"] if fc is not None else "",
        "interval": 0.8,
        "change_points": [{**cp, "t": index[cp["index"]].isoformat()} for cp in cps],
        "period_over_period": {
            "aggregate": "mean" if measure else "sum",
            "current": current,
            "previous": previous,
            "change_pct": pct_change(current, previous),
            "year_ago": year_ago,
            "year_over_year_pct": pct_change(current, year_ago),
        },
    }
