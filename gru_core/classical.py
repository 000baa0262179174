"""A strong classical rival for the GRU: exponential smoothing (ETS), from statsmodels.

Why ETS: it is the classical method that is hard to beat on trending and seasonal series (it is
the reference in the M3/M4 forecasting competitions, next to Theta, which is a special case of
ETS with drift), it handles a damped trend and an additive or multiplicative season, and
statsmodels' ``ETSModel`` is a well-kept, tested implementation of Hyndman's state-space ETS.
(statsmodels 0.14.5's Holt-Winters and Theta classes do not import under pandas 3; ``ETSModel``
does.)

Protocol -- the same windows and horizon as the GRU, the same information:

1. **Fit on the training part only.** Candidate models ETS(A, trend, season) with trend in
   {none, additive damped} and season in {none, additive, multiplicative (positive data)} are fitted
   to ``y[:train_end]`` (heuristic initial states, maximum likelihood smoothing parameters); the
   lowest AICc wins.
2. **Filter, never refit.** With those parameters and initial states fixed, the ETS filter runs
   over the whole series once. Its states at step o depend only on ``y[:o+1]`` (a causal
   filter), so the forecast from origin o -- ``predict(start=o+1, end=o+H, dynamic=0)`` -- is the
   one a forecaster standing at o would make, exactly as a refit-free rolling origin.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from gru_core.errors import DataError


def _ets_model():
    """statsmodels' ETSModel, imported on first use (it takes a moment to load)."""
    try:
        with warnings.catch_warnings():       # statsmodels 0.14.5 warns about pandas 3 decorators
            warnings.simplefilter("ignore")
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    except ImportError as e:  # pragma: no cover - statsmodels is in requirements.txt
        raise DataError(f"The ETS baseline needs statsmodels ({e}). Install it with "
                        "`python -m pip install -r requirements.txt`.") from None
    return ETSModel


@dataclass
class ETSFit:
    """An ETS model fitted to the training part: its spec, parameters and initial states."""

    trend: str | None                 # None or "add" (always damped when present)
    seasonal: str | None              # None, "add" or "mul"
    season: int | None                # m, when seasonal
    params: np.ndarray                # smoothing_level, [smoothing_trend], [smoothing_seasonal], [damping_trend]
    initial_level: float
    initial_trend: float | None
    initial_seasonal: np.ndarray | None   # (m,) in statsmodels' order
    aicc: float
    tried: dict                       # label -> AICc of every candidate that fitted

    @property
    def label(self) -> str:
        """Short name, e.g. ``"ETS(A,Ad,M)"``."""
        t = "Ad" if self.trend else "N"
        s = {"add": "A", "mul": "M"}.get(self.seasonal, "N")
        return f"ETS(A,{t},{s})"

    def _spec(self) -> dict:
        spec = dict(error="add", trend=self.trend, damped_trend=bool(self.trend), seasonal=self.seasonal,
                    seasonal_periods=self.season if self.seasonal else None)
        known = dict(initialization_method="known", initial_level=self.initial_level)
        if self.trend:
            known["initial_trend"] = self.initial_trend
        if self.seasonal:
            known["initial_seasonal"] = self.initial_seasonal
        return {**spec, **known}

    def filtered(self, y):
        """statsmodels results of the fixed-parameter filter over ``y`` (T,)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _ets_model()(np.asarray(y, dtype=np.float64), **self._spec()).smooth(self.params)


def fit_ets(y_train, season: int | None = None) -> ETSFit:
    """Fit the candidate ETS models to the training part and keep the lowest AICc.

    Parameters
    ----------
    y_train : array (n,)
        The training part of the target (nothing later).
    season : int, optional
        Season m; seasonal candidates need at least two full seasons of training data.

    Raises
    ------
    DataError
        When no candidate can be fitted (fewer than 10 training values).
    """
    ETSModel = _ets_model()
    y = np.asarray(y_train, dtype=np.float64).ravel()
    if y.shape[0] < 10 or not np.all(np.isfinite(y)):
        raise DataError(f"The ETS baseline needs at least 10 finite training values; got {y.shape[0]}. "
                        "Use a longer series or a larger training fraction.")
    seasons = [None]
    if season is not None and season >= 2 and y.shape[0] >= 2 * season + 2:
        seasons += ["add"] + (["mul"] if y.min() > 0 else [])
    best, tried = None, {}
    for trend in (None, "add"):
        for seasonal in seasons:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = ETSModel(y, error="add", trend=trend, damped_trend=bool(trend), seasonal=seasonal,
                                 seasonal_periods=season if seasonal else None,
                                 initialization_method="heuristic").fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
            aicc = float(r.aicc)
            if not np.isfinite(aicc):
                continue
            fit = ETSFit(trend=trend, seasonal=seasonal, season=season if seasonal else None,
                         params=np.asarray(r.params, dtype=np.float64),
                         initial_level=float(r.initial_level),
                         initial_trend=float(r.initial_trend) if trend else None,
                         initial_seasonal=np.asarray(r.initial_seasonal, dtype=np.float64) if seasonal else None,
                         aicc=aicc, tried={})
            tried[fit.label] = aicc
            if best is None or aicc < best.aicc:
                best = fit
    if best is None:
        raise DataError("No ETS model could be fitted to the training part. Check that the target "
                        "is not constant, or use the naive baselines only.")
    best.tried = tried
    return best


def ets_forecast(fit: ETSFit, y, origins, horizon: int) -> np.ndarray:
    """H-step ETS forecasts from each origin, using only ``y[:o+1]`` for origin o.

    Parameters
    ----------
    fit : ETSFit
    y : array (T,)
        The target in data units.
    origins : array (N,)
        Forecast origins o (last known step); o + H must be <= T - 1 (use :func:`ets_future` for
        forecasts past the end).
    horizon : int

    Returns
    -------
    np.ndarray
        (N, H) float64.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    o = np.asarray(origins, dtype=np.int64).ravel()
    H = int(horizon)
    if o.size and (o.min() < 0 or o.max() + H > y.shape[0] - 1):
        raise DataError(f"ETS forecasts from origins {int(o.min())}..{int(o.max())} with horizon {H} "
                        f"reach past the data (T={y.shape[0]}). Use ets_future for the future.")
    res = fit.filtered(y)
    out = np.empty((o.shape[0], H))
    for i, oi in enumerate(o):
        out[i] = np.asarray(res.predict(start=int(oi) + 1, end=int(oi) + H, dynamic=0))
    return out


def ets_future(fit: ETSFit, y, horizon: int) -> np.ndarray:
    """The H steps after the end of ``y`` (T,), from the filter over all of it, (H,)."""
    res = fit.filtered(y)
    return np.asarray(res.forecast(int(horizon)), dtype=np.float64)


def ets_windows(ds, split: str, season: int | None = None, fit: ETSFit | None = None) -> tuple[np.ndarray, ETSFit]:
    """ETS forecasts on the windows of a dataset split, in data units, beside the model's.

    Parameters
    ----------
    ds : gru_core.windows.Dataset
    split : {"train", "val", "test"}
    season : int, optional
        Season m (e.g. from ``detect_season`` on the training part).
    fit : ETSFit, optional
        Reuse a fit (it must come from ``y[:train_end]`` of the same series).

    Returns
    -------
    (np.ndarray, ETSFit)
        (N, H) forecasts for target steps o+1 .. o+H of each window, and the fit used.
    """
    if split not in ("train", "val", "test"):
        raise DataError(f"Unknown split {split!r}: choose one of train, val, test.")
    v = np.asarray(ds.series.values, dtype=np.float64)
    y = v[:, 0] if v.ndim == 2 else v
    fit = fit if fit is not None else fit_ets(y[:ds.bounds[0]], season)
    origins = getattr(ds, split).starts + ds.window.lookback - 1
    return ets_forecast(fit, y, origins, ds.window.horizon), fit
