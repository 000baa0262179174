"""Target transforms that let a GRU forecast trending and seasonal series, each with an exact inverse.

A standard-scaled GRU cannot forecast a level it never saw in training: on a rising series the
test part lies above the whole training range and the forecast stays flat below it. A transform
makes the network learn something that *does* repeat -- changes instead of levels, or each window
relative to its own last value -- and maps the forecast back to the data's units.

    key             series step (before windowing)       inside the model (ModelConfig.window_norm)
    none            z_t = y_t                            --
    log             z_t = log y_t                        --
    diff            z_t = y_t - y_{t-1}                  --
    seasonal_diff   z_t = y_t - y_{t-m}                  --
    log_diff        z_t = log y_t - log y_{t-1}          --
    window          z_t = y_t                            each window minus its last value
    log_window      z_t = log y_t                        each window minus its last value
    window_scale    z_t = y_t                            each window minus its mean, over its std

Columns: log applies to the target and to every input column that is positive on the training
part; a difference applies to every column (a trending input needs it as much as the target).
The first d steps (d = 1 or m, the lag) have no difference; training windows start at s >= d.

Inverse for a forecast made at origin o (the last input step) of target steps o+1 .. o+H, with
u = log y (log transforms) or u = y::

    lag 0   u_hat[o+1+j] = z_hat[j]
    lag d   u_hat[o+1+j] = u_prev + z_hat[j],   u_prev = u[o+1+j-d] if j < d (known at o)
                                                         u_hat[o+1+j-d] otherwise (forecast)
    y_hat = exp(u_hat) (log transforms) or u_hat

It needs only values up to o, so it never leaks the future. Nothing here is fitted on anything
but the training part: the only choice made from data (which input columns get a log) looks at
``values[:train_end]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gru_core.errors import DataError


@dataclass(frozen=True)
class Transform:
    """One target transform of the registry."""

    key: str
    label: str                 # shown in pickers
    log: bool                  # take the log of positive columns first
    lag: str                   # "none", "one" (first difference) or "season" (seasonal difference)
    window_norm: str           # ModelConfig.window_norm: "none", "last" or "meanstd"
    description: str           # one sentence for help texts


TRANSFORMS: dict[str, Transform] = {t.key: t for t in (
    Transform("none", "None", False, "none", "none",
              "The series as it is (then scaled). Fine when the test part stays in the training range."),
    Transform("log", "Log", True, "none", "none",
              "Natural log of positive data: a season whose swing grows with the level becomes even."),
    Transform("diff", "First difference", False, "one", "none",
              "Step-to-step changes: a trend becomes a constant the network can learn."),
    Transform("seasonal_diff", "Seasonal difference", False, "season", "none",
              "Change from one season earlier: removes a repeating pattern and a linear trend."),
    Transform("log_diff", "Log + first difference", True, "one", "none",
              "Growth rates: for positive data with a trend whose size grows with the level."),
    Transform("window", "Per-window normalisation", False, "none", "last",
              "Each input window relative to its own last value; the forecast is added back to it."),
    Transform("log_window", "Log + per-window normalisation", True, "none", "last",
              "Per-window normalisation of the log: for positive data with multiplicative swings."),
    Transform("window_scale", "Per-window scaling (mean and spread)", False, "none", "meanstd",
              "Each input window relative to its own mean and spread; the forecast is scaled back: "
              "for series whose level and swing size both change."),
)}
"""The transform registry: key -> :class:`Transform` (``"auto"`` is chosen by :mod:`gru_core.auto`)."""

TRANSFORM_CHOICES = ("auto",) + tuple(TRANSFORMS)


def _unknown(key) -> DataError:
    return DataError(f"Unknown transform {key!r}. Use one of: {', '.join(TRANSFORM_CHOICES)}.")


def get_transform(key: str) -> Transform:
    """The registry entry for ``key`` (a DataError naming the choices otherwise)."""
    if key not in TRANSFORMS:
        raise _unknown(key)
    return TRANSFORMS[key]


@dataclass(frozen=True)
class FittedTransform:
    """A transform fitted to one series: its key, lag d and which columns are logged."""

    key: str = "none"
    lag: int = 0                            # d: 0 (none), 1 (first difference) or m (seasonal)
    log_cols: tuple[bool, ...] = (False,)   # (C,) True where the column is logged

    @property
    def spec(self) -> Transform:
        return get_transform(self.key)

    @property
    def window_norm(self) -> str:
        return self.spec.window_norm

    def to_dict(self) -> dict:
        """Plain JSON-able dict for a bundle or share link."""
        return {"key": self.key, "lag": int(self.lag), "log_cols": [bool(b) for b in self.log_cols]}

    @classmethod
    def from_dict(cls, d: dict) -> "FittedTransform":
        """Rebuild one written by :meth:`to_dict`."""
        try:
            ft = cls(key=str(d["key"]), lag=int(d["lag"]), log_cols=tuple(bool(b) for b in d["log_cols"]))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"Transform settings are incomplete ({e!r}). Expected keys key, lag, "
                            "log_cols; save them again with to_dict().") from None
        spec = get_transform(ft.key)
        if ft.lag < 0 or (spec.lag == "none") != (ft.lag == 0) or not ft.log_cols \
                or (spec.log and not ft.log_cols[0]) or (not spec.log and any(ft.log_cols)):
            raise DataError(f"Transform settings {d!r} do not fit transform {ft.key!r}. Save them "
                            "again with to_dict().")
        return ft

    # ---- forward

    def apply(self, values) -> np.ndarray:
        """z = transform(values), (T, C) float64; rows < lag are 0 (no difference exists there).

        Raises DataError if a logged column holds a value <= 0 anywhere.
        """
        v = np.asarray(values, dtype=np.float64)
        v = v.reshape(-1, 1) if v.ndim == 1 else v                    # (T, C)
        if v.shape[1] != len(self.log_cols):
            raise DataError(f"The transform was fitted on {len(self.log_cols)} column(s) but got "
                            f"{v.shape[1]}. Use the same target and input columns.")
        u = v.copy()
        for c in np.flatnonzero(self.log_cols):
            bad = np.flatnonzero(v[:, c] <= 0)
            if bad.size:
                raise DataError(f"A log transform needs positive values, but column {c} is "
                                f"{v[bad[0], c]:g} at step {int(bad[0])}. Choose the 'diff' or "
                                "'window' transform for data that reaches 0 or below.")
            u[:, c] = np.log(v[:, c])
        d = self.lag
        if d == 0:
            return u
        if d >= u.shape[0]:
            raise DataError(f"A difference at lag {d} needs more than {d} points; the series has "
                            f"{u.shape[0]}. Use a shorter season or the 'diff' transform.")
        z = np.zeros_like(u)                                          # (T, C)
        z[d:] = u[d:] - u[:-d]
        return z

    # ---- inverse

    def inverse(self, z_hat, origins, y) -> np.ndarray:
        """Forecasts of the transformed target back in data units (see the module docstring).

        Parameters
        ----------
        z_hat : array (N, H)
            Forecasts of the transformed target (already unscaled) for steps o+1 .. o+H.
        origins : array (N,)
            Forecast origin o of each row (the last input step); needs o >= lag - 1.
        y : array (T,)
            The target in data units; only y[:o+1] is read for row i.

        Returns
        -------
        np.ndarray
            (N, H) float64 forecasts in data units.
        """
        z = np.asarray(z_hat, dtype=np.float64)
        z = z[None] if z.ndim == 1 else z                              # (N, H)
        o = np.asarray(origins, dtype=np.int64).reshape(-1)            # (N,)
        y = np.asarray(y, dtype=np.float64).reshape(-1)                # (T,)
        if o.shape[0] != z.shape[0]:
            raise DataError(f"{z.shape[0]} forecast rows but {o.shape[0]} origins: give one origin "
                            "per row.")
        d = self.lag
        if o.size and (o.min() < max(d - 1, 0) or o.max() >= y.shape[0]):
            raise DataError(f"Forecast origins must lie in [{max(d - 1, 0)}, {y.shape[0] - 1}] for a "
                            f"lag-{d} transform; got {int(o.min())}..{int(o.max())}.")
        log = bool(self.log_cols[0])
        u = np.log(y) if log else y                                    # (T,) only u[:o+1] is read
        if d == 0:
            u_hat = z.copy()
        else:
            N, H = z.shape
            u_hat = np.empty_like(z)                                   # (N, H)
            for j in range(H):
                prev = u[o + 1 + j - d] if j < d else u_hat[:, j - d]  # (N,) known or forecast
                u_hat[:, j] = prev + z[:, j]
        return np.exp(u_hat) if log else u_hat


def fit_transform(key: str, values, train_end: int, season: int | None = None) -> FittedTransform:
    """Fit transform ``key`` to a series using only ``values[:train_end]``.

    Parameters
    ----------
    key : str
        A key of :data:`TRANSFORMS`.
    values : array (T, C)
        The series, column 0 the target.
    train_end : int
        End of the training part; nothing after it is read.
    season : int, optional
        Season m for ``seasonal_diff`` (required there).

    Raises
    ------
    DataError
        Unknown key, a log of a target that is not positive on the training part, or a seasonal
        difference without a season.
    """
    spec = get_transform(key)
    v = np.asarray(values, dtype=np.float64)
    v = v.reshape(-1, 1) if v.ndim == 1 else v                        # (T, C)
    train = v[:int(train_end)]                                        # (train_end, C)
    log_cols = (False,) * v.shape[1]
    if spec.log:
        if train.size == 0 or train[:, 0].min() <= 0:
            low = train[:, 0].min() if train.size else float("nan")
            raise DataError(f"A log transform needs a positive target, but the training part goes down "
                            f"to {low:g}. Choose 'diff' or 'window' instead.")
        log_cols = tuple(bool(train[:, c].min() > 0) for c in range(v.shape[1]))
    lag = 0
    if spec.lag == "one":
        lag = 1
    elif spec.lag == "season":
        if season is None or isinstance(season, bool) or not isinstance(season, (int, np.integer)) \
                or season < 2:
            raise DataError(f"A seasonal difference needs a season of at least 2 steps; got "
                            f"{season!r}. Give the season (e.g. 12 for monthly data) or use 'diff'.")
        lag = int(season)
    return FittedTransform(key=key, lag=lag, log_cols=log_cols)


def window_origins(ds, split: str) -> np.ndarray:
    """Forecast origin o = start + L - 1 of every window of ``split``, (N,) int64."""
    if split not in ("train", "val", "test"):
        raise DataError(f"Unknown split {split!r}: choose one of train, val, test.")
    return getattr(ds, split).starts + ds.window.lookback - 1


def inverse_windows(pred_scaled, ds, split: str) -> np.ndarray:
    """The model's forecasts on a split's windows, from scaled units to data units.

    Undoes the scaler (``ds.scaler.inverse_target``) and then the dataset's transform, using each
    window's own origin values. Per-window normalisation lives inside the model, so its outputs
    are already in (scaled, transformed) series units and need nothing extra here.

    Parameters
    ----------
    pred_scaled : array (N, H)
        ``gru_core.evaluate.predict(model, ds.<split>.X)``.
    ds : gru_core.windows.Dataset
    split : {"train", "val", "test"}

    Returns
    -------
    np.ndarray
        (N, H) float64 forecasts in the data's units.
    """
    return inverse_at(pred_scaled, ds, window_origins(ds, split))


def inverse_at(pred_scaled, ds, origins) -> np.ndarray:
    """Like :func:`inverse_windows` for arbitrary origins (e.g. T-1 for a forecast past the end)."""
    z = np.asarray(ds.scaler.inverse_target(np.asarray(pred_scaled, dtype=np.float64)), dtype=np.float64)
    ft = getattr(ds, "transform", None) or FittedTransform(log_cols=(False,) * ds.scaled.shape[1])
    y = np.asarray(ds.series.values, dtype=np.float64)
    y = y[:, 0] if y.ndim == 2 else y
    return ft.inverse(z, origins, y)


def range_warning(values, train_end: int, val_end: int) -> str | None:
    """A warning when the validation or test target leaves the training range, else None.

    A plain scaled network cannot forecast a level it never saw, so this names the gap (how far
    above the training maximum or below its minimum, in data units and in training ranges) and
    points at the transforms. It only reports; nothing is fitted on what it reads.
    """
    v = np.asarray(values, dtype=np.float64)
    y = v[:, 0] if v.ndim == 2 else v
    train = y[:int(train_end)]
    if train.size == 0:
        return None
    lo, hi = float(train.min()), float(train.max())
    width = hi - lo if hi > lo else 1.0
    parts = []
    for name, part in (("validation", y[int(train_end):int(val_end)]), ("test", y[int(val_end):])):
        if part.size == 0:
            continue
        above, below = float(part.max()) - hi, lo - float(part.min())
        if above > 0:
            parts.append(f"the {name} part reaches {above:.4g} above the training maximum "
                         f"({above / width:.0%} of the training range)")
        if below > 0:
            parts.append(f"the {name} part reaches {below:.4g} below the training minimum "
                         f"({below / width:.0%} of the training range)")
    if not parts:
        return None
    return ("Outside the training range: " + "; ".join(parts) + ". A network trained on scaled levels "
            "cannot forecast levels it never saw; choose a transform (first difference, seasonal "
            "difference or per-window normalisation), or leave it on 'auto'.")
