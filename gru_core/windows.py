"""Sliding windows, chronological train/validation/test splits and scaling for GRU Lab.

A series of T steps and C columns (column 0 is the target) becomes supervised pairs
(X: L past steps of all columns -> Y: the next H target values). Vocabulary:

    lookback L   input steps per window         window i starts at s = starts[i]
    horizon  H   target steps per window        inputs  = series[s : s+L]        (L, C)
    stride   S   steps between window starts    targets = series[s+L : s+L+H, 0]  (H,)

Split rule (no leakage):

    train_end = round(T * train),   val_end = round(T * (train + val))
    train = [0, train_end),   val = [train_end, val_end),   test = [val_end, T)

A window belongs to the split that holds ALL of its H targets. Its L inputs may reach back into
earlier splits (a forecaster standing at that time knows the past) but never forward. Within a
split with target range [a, b) the valid starts are max(0, a - L) <= s <= b - L - H, taken every
S steps from the first valid one (so validation starts at s = train_end - L). Hence every train
window's inputs and targets lie in [0, train_end).

The scaler is fitted on values[:train_end] only. Windows are strided *views* (``Tensor.unfold``)
of one scaled (T, C) float32 tensor: a million-point series costs T*C*4 bytes, not L times that.

An optional target transform (``gru_core.transforms``: log, first or seasonal difference) is
applied to the series before scaling, and the scaler is fitted on the transformed training part.
A difference at lag d has no value at steps < d, so then every window starts at s >= d.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from gru_core.errors import DataError
from gru_core.transforms import FittedTransform, fit_transform

if TYPE_CHECKING:                       # only for the annotation; any object with .values works
    from gru_core.data import Series

SCALER_KINDS = ("standard", "minmax", "none")


def _check_positive_int(value, name: str, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number >= 1, got {value!r}. {fix}")


def _finite_2d(values, dtype, shape_fix: str) -> np.ndarray:
    """``values`` as a non-empty (T, C) array of ``dtype`` (1-D counts as C = 1), all finite."""
    v = np.asarray(values, dtype=dtype)
    v = v.reshape(-1, 1) if v.ndim == 1 else v                      # (T, C)
    if v.ndim != 2 or 0 in v.shape:
        raise DataError(f"Expected a non-empty (T, C) array, got shape {v.shape}. {shape_fix}")
    if not np.all(np.isfinite(v)):
        raise DataError("The series contains NaN or infinite values. Fill or drop missing values "
                        "first (Data page: missing values).")
    return v


@dataclass
class WindowConfig:
    """How a series is cut into (input, target) windows."""

    lookback: int = 48      # L: input steps the model sees
    horizon: int = 12       # H: future target steps it predicts at once
    stride: int = 1         # S: steps between consecutive window starts

    def __post_init__(self):
        self.validate()
        self.lookback, self.horizon, self.stride = int(self.lookback), int(self.horizon), int(self.stride)

    def validate(self) -> None:
        """Raise DataError unless lookback, horizon and stride are whole numbers >= 1."""
        _check_positive_int(self.lookback, "lookback", "Use at least 1 input step, e.g. lookback=48.")
        _check_positive_int(self.horizon, "horizon", "Predict at least 1 step ahead, e.g. horizon=12.")
        _check_positive_int(self.stride, "stride", "Use stride=1 to start a window at every step.")


@dataclass
class SplitConfig:
    """Chronological fractions of the series: train, then validation, then test."""

    train: float = 0.7
    val: float = 0.15
    test: float = 0.15

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise DataError unless every fraction is > 0 and they sum to 1 (within 1e-6)."""
        fracs = {"train": self.train, "val": self.val, "test": self.test}
        for name, f in fracs.items():
            if isinstance(f, bool) or not isinstance(f, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(f) or f <= 0:
                raise DataError(f"The {name} fraction must be a number > 0, got {f!r}. "
                                "Give every split a share, e.g. train=0.7, val=0.15, test=0.15.")
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise DataError(f"Split fractions must add up to 1, but train={self.train} + val={self.val} "
                            f"+ test={self.test} = {total:.6g}. Adjust them, e.g. 0.7 / 0.15 / 0.15.")
        if self.train + self.val >= 1.0:
            raise DataError(f"train={self.train} + val={self.val} leaves no room for the test split. "
                            "Make train + val smaller than 1, e.g. 0.7 / 0.15 / 0.15.")


def split_bounds(T: int, split: SplitConfig) -> tuple[int, int]:
    """(train_end, val_end) = (round(T * train), round(T * (train + val)))."""
    return int(round(T * split.train)), int(round(T * (split.train + split.val)))


class Scaler:
    """Per-column affine scaling x' = (x - center) / scale, fitted on the training part only.

    kind = "standard": center = mean, scale = std (population, ddof=0)  -> mean 0, std 1
    kind = "minmax":   center = min,  scale = max - min                 -> range [0, 1]
    kind = "none":     center = 0,    scale = 1                          -> identity

    A constant training column would give scale 0; it gets scale 1 instead (its values are only
    shifted by the center), so nothing is ever divided by zero. Statistics are float64 arrays (C,).
    ``transform`` / ``inverse_transform`` accept numpy arrays or torch tensors of any leading shape
    whose last dim is C, and return the same kind (a float tensor keeps its dtype and device).
    """

    def __init__(self, kind: str = "standard"):
        if kind not in SCALER_KINDS:
            raise DataError(f"Unknown scaler '{kind}'. Use one of: {', '.join(SCALER_KINDS)}.")
        self.kind = kind
        self.center: np.ndarray | None = None   # (C,) float64
        self.scale: np.ndarray | None = None    # (C,) float64

    @property
    def fitted(self) -> bool:
        return self.center is not None

    def fit(self, values) -> "Scaler":
        """Compute center and scale per column from ``values`` (T, C) (a 1-D array counts as C=1)."""
        v = _finite_2d(values, np.float64, "Pass the training part of the series to Scaler.fit.")
        if self.kind == "standard":
            center, scale = v.mean(axis=0), v.std(axis=0)
        elif self.kind == "minmax":
            center, scale = v.min(axis=0), v.max(axis=0) - v.min(axis=0)
        else:
            center, scale = np.zeros(v.shape[1]), np.ones(v.shape[1])
        self.center = center
        self.scale = np.where(scale > 0, scale, 1.0)                    # constant column -> scale 1
        return self

    def _stats(self, x, cols: slice | int = slice(None)):
        """(center, scale) matching x's type (numpy float64 or a tensor of x's dtype/device)."""
        if not self.fitted:
            raise DataError("The scaler is not fitted yet. Call fit(training_values) first.")
        c, s = self.center[cols], self.scale[cols]
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.float32
            return torch.as_tensor(c, dtype=dtype, device=x.device), torch.as_tensor(s, dtype=dtype, device=x.device)
        return c, s

    def _check_last_dim(self, x) -> None:
        C = self.center.shape[0] if self.fitted else None
        if C is not None and (x.ndim == 0 or x.shape[-1] != C):
            raise DataError(f"The scaler was fitted on {C} column(s) but got an array of shape "
                            f"{tuple(x.shape)}. The last dimension must be the {C} column(s).")

    @staticmethod
    def _like(out, x):
        """Keep float32 numpy input float32 (float64 otherwise)."""
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            return out.astype(np.float32)
        return out

    def transform(self, x):
        """x' = (x - center) / scale, column-wise on the last dim (..., C)."""
        c, s = self._stats(x)
        self._check_last_dim(x)
        return self._like((x - c) / s, x)

    def inverse_transform(self, x):
        """x = x' * scale + center, column-wise on the last dim (..., C)."""
        c, s = self._stats(x)
        self._check_last_dim(x)
        return self._like(x * s + c, x)

    def inverse_target(self, y):
        """Inverse for the target (column 0) on an array of any shape: y * scale[0] + center[0]."""
        c, s = self._stats(y, 0)
        return self._like(y * s + c, y)

    def to_dict(self) -> dict:
        """Plain JSON-able dict: {"kind", "center", "scale"} (lists of floats, or None if not fitted)."""
        return {"kind": self.kind,
                "center": None if self.center is None else [float(v) for v in self.center],
                "scale": None if self.scale is None else [float(v) for v in self.scale]}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        """Rebuild a scaler written by ``to_dict``."""
        try:
            sc = cls(d["kind"])
            center, scale = d["center"], d["scale"]
        except (KeyError, TypeError) as e:
            raise DataError(f"Scaler settings are incomplete ({e!r}). Expected keys kind, center, scale; "
                            "save the scaler again with to_dict().") from None
        if (center is None) != (scale is None):
            raise DataError("Scaler settings have only one of center/scale. Save the scaler again with to_dict().")
        if center is not None:
            try:
                c, s = np.asarray(center, dtype=np.float64), np.asarray(scale, dtype=np.float64)
            except (TypeError, ValueError):
                c = s = np.array([np.nan])
            if c.ndim != 1 or c.shape != s.shape or not np.all(np.isfinite(c)) \
                    or not np.all(np.isfinite(s)) or not np.all(s > 0):
                raise DataError("Scaler settings are invalid (center and scale must be equal-length lists "
                                "of finite numbers, scale > 0). Save the scaler again with to_dict().")
            sc.center, sc.scale = c, s
        return sc

    def __repr__(self) -> str:
        return f"Scaler(kind={self.kind!r}, fitted={self.fitted})"


@dataclass
class Windows:
    """The windows of one split: strided views into ``Dataset.scaled``, never copies."""

    X: torch.Tensor         # (N, L, C) float32 inputs
    Y: torch.Tensor         # (N, H) float32 targets (column 0)
    starts: np.ndarray      # (N,) int64: first input step of each window; target j is at starts[i] + L + j

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __repr__(self) -> str:
        return f"Windows(N={len(self)}, X={tuple(self.X.shape)}, Y={tuple(self.Y.shape)})"


@dataclass
class Dataset:
    """A series cut into scaled train / validation / test windows (see the module docstring)."""

    series: "Series"                # gru_core.data.Series (anything with .values (T, C) works)
    window: WindowConfig
    split: SplitConfig
    scaler: Scaler                  # fitted on values[:train_end]
    scaled: torch.Tensor            # (T, C) float32, the one storage all windows view
    bounds: tuple[int, int]         # (train_end, val_end)
    train: Windows
    val: Windows
    test: Windows
    transform: FittedTransform | None = None   # series transform; None = identity ("none")

    def __repr__(self) -> str:
        T, C = self.scaled.shape
        return (f"Dataset(T={T}, C={C}, bounds={self.bounds}, {self.window}, scaler={self.scaler.kind!r}, "
                f"train={len(self.train)}, val={len(self.val)}, test={len(self.test)})")


def _start_range(lo_target: int, hi_target: int, L: int, H: int, skip: int = 0) -> tuple[int, int]:
    """First and last valid start s for windows whose H targets lie in [lo_target, hi_target).

    Targets s+L .. s+L+H-1 in range  <=>  lo_target - L <= s <= hi_target - L - H; inputs need
    s >= skip (0, or the lag d of a differencing transform).
    """
    return max(skip, lo_target - L), hi_target - L - H


def _split_counts(T: int, window: WindowConfig, split: SplitConfig, skip: int = 0) -> tuple[int, int, int]:
    """Number of windows in train, val and test for a series of length T."""
    L, H, S = window.lookback, window.horizon, window.stride
    train_end, val_end = split_bounds(T, split)
    counts = []
    for a, b in ((0, train_end), (train_end, val_end), (val_end, T)):
        first, last = _start_range(a, b, L, H, skip)
        counts.append((last - first) // S + 1 if last >= first else 0)
    return tuple(counts)


def min_length(window: WindowConfig, split: SplitConfig) -> int:
    """Smallest T such that every series of length >= T gives each split at least one window.

    With (train_end, val_end) from :func:`split_bounds`, each split holds a window iff

        train_end >= L + H,   val_end - train_end >= H,   T - val_end >= H

    (the stride does not matter: the first valid start always counts). Because of rounding the
    val/test sizes can dip by one as T grows, so this is the length after which *no* T fails --
    "needs at least min_length points" then holds for every longer series too.

    Since round() is off by at most 0.5, every T >= U = max((L+H+0.5)/train, (H+1)/val,
    (H+0.5)/(1-train-val)) + 2 works; we scan T = U-1, U-2, ... (vectorised, 1M at a time) for the
    last failing length. Only for absurdly small fractions (< ~1e-7), where the scan would pass
    20M lengths, the safe bound reached so far is returned instead of the exact minimum.
    """
    window.validate()
    split.validate()
    L, H = window.lookback, window.horizon
    a, ab = split.train, split.train + split.val                 # same floats as split_bounds
    U = math.ceil(max((L + H + 0.5) / a, (H + 1) / split.val, (H + 0.5) / (1.0 - ab))) + 2
    hi, chunk = U, 1_000_000
    for _ in range(20):
        lo = max(1, hi - chunk)
        T = np.arange(lo, hi, dtype=np.int64)                    # (k,) candidate lengths
        train_end, val_end = np.rint(T * a), np.rint(T * ab)     # rint == round (half to even)
        ok = (train_end >= L + H) & (val_end - train_end >= H) & (T - val_end >= H)
        bad = np.flatnonzero(~ok)
        if bad.size:
            return int(T[bad[-1]]) + 1
        if lo == 1:
            return 1
        hi = lo
    return hi


def _windows(scaled: torch.Tensor, first: int, last: int, window: WindowConfig) -> Windows:
    """Views of the windows starting at first, first+S, ..., <= last (requires last >= first)."""
    L, H, S = window.lookback, window.horizon, window.stride
    N = (last - first) // S + 1
    X = scaled[first: first + (N - 1) * S + L].unfold(0, L, S)             # (N, C, L) view
    X = X.permute(0, 2, 1)                                                 # (N, L, C) view
    Y = scaled[first + L: first + L + (N - 1) * S + H, 0].unfold(0, H, S)  # (N, H) view
    starts = first + S * np.arange(N, dtype=np.int64)                      # (N,)
    return Windows(X=X, Y=Y, starts=starts)


def make_dataset(series, window: WindowConfig, split: SplitConfig | None = None,
                 scaler: "str | Scaler" = "standard",
                 transform: "str | FittedTransform" = "none", season: int | None = None) -> Dataset:
    """Scale a series and cut it into train / validation / test windows.

    Parameters
    ----------
    series : gru_core.data.Series
        Anything with ``.values`` (T, C), column 0 the target (1-D is taken as C = 1).
    window : WindowConfig
        lookback L, horizon H, stride S.
    split : SplitConfig, optional
        Chronological fractions (default 0.7 / 0.15 / 0.15).
    scaler : {"standard", "minmax", "none"} or Scaler
        A kind: a new scaler fitted on values[:train_end] only. An already fitted
        :class:`Scaler` (e.g. from a model bundle) is used as it is, never refitted.
    transform : str or FittedTransform
        A key of ``gru_core.transforms.TRANSFORMS`` (fitted on values[:train_end] only), or an
        already fitted transform (e.g. from a bundle). Per-window normalisation keys need the
        matching ``ModelConfig.window_norm``; here they only apply their log, if any.
    season : int, optional
        Season m of a ``"seasonal_diff"`` transform.

    Returns
    -------
    Dataset
        ``scaled`` (T, C) float32 and three :class:`Windows` viewing it.

    Raises
    ------
    DataError
        Bad window/split/scaler settings, non-finite values, or a series too short to give every
        split at least one window (the message states ``min_length``).
    """
    split = SplitConfig() if split is None else split
    window.validate()
    split.validate()
    fitted = isinstance(scaler, Scaler)
    sc = scaler if fitted else Scaler(scaler)
    if fitted and not sc.fitted:
        raise DataError("The scaler passed to make_dataset was never fitted: pass a kind such as "
                        "'standard' instead, or a scaler restored from a model bundle.")
    values = _finite_2d(series.values, np.float32,
                        "Build the series with prepare_series or series_from_array.")  # (T, C)
    T, C = values.shape
    L, H = window.lookback, window.horizon
    train_end, val_end = split_bounds(T, split)
    ft = transform if isinstance(transform, FittedTransform) else \
        fit_transform(transform, values, train_end, season)             # training part only
    skip = ft.lag

    counts = _split_counts(T, window, split, skip)
    if min(counts) == 0:
        need = min_length(window, split) + int(math.ceil(skip / split.train))
        empty = [name for name, n in zip(("train", "validation", "test"), counts) if n == 0]
        raise DataError(
            f"The series has {T} points, but lookback={L}, horizon={H} with a "
            f"{split.train:g}/{split.val:g}/{split.test:g} train/val/test split needs at least {need} "
            f"points (no complete window fits in the {' and '.join(empty)} "
            f"split{'s' if len(empty) > 1 else ''}). Shorten the lookback or horizon, give the "
            "short split a larger share, or use a longer series.")

    if fitted and len(sc.center) != C:
        raise DataError(f"The saved scaler covers {len(sc.center)} column(s) but the series has {C}. "
                        "Pick the same target and input columns the model was trained with.")
    if ft.key != "none":
        values = ft.apply(values).astype(np.float32)             # (T, C); rows < skip are 0
    if not fitted:
        sc.fit(values[skip:train_end])                           # training part only
    scaled = torch.from_numpy(sc.transform(values))               # (T, C) float32
    parts = [_windows(scaled, *_start_range(a, b, L, H, skip), window)
             for a, b in ((0, train_end), (train_end, val_end), (val_end, T))]
    return Dataset(series=series, window=window, split=split, scaler=sc, scaled=scaled,
                   bounds=(train_end, val_end), train=parts[0], val=parts[1], test=parts[2],
                   transform=ft)
