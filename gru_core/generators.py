"""Synthetic time series for GRU Lab: a registry of generators with typed, bounded parameters.

Each entry of ``GENERATORS`` is a :class:`Generator` -- a key, a label, one plain sentence for the
student, a tuple of :class:`Param` (default, min, max, step and help text, which the UI turns into
sliders) and a function ``fn(n, rng, **params) -> (n,) float64``. Call them through
:func:`generate`, which checks every input and raises :class:`~gru_core.errors.DataError` with a
fix-it message:

>>> y = generate("sine", length=500, seed=1, period=25)   # (500,) float64

The same ``seed`` always gives the identical series; a different seed gives different noise (and, for
Mackey-Glass, a different random starting history). Time is the integer step ``t = 0, 1, ..., n-1``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from gru_core.errors import DataError

MIN_LENGTH = 10
MAX_LENGTH = 1_000_000


@dataclass(frozen=True)
class Param:
    """One named, bounded parameter of a generator (the UI shows it as a slider)."""

    name: str                   # keyword passed to the generator function
    label: str                  # short label for the UI
    default: float | int
    min: float | int
    max: float | int
    step: float | int           # slider step
    help: str                   # one-line explanation shown as a tooltip
    kind: str = "float"         # "float" or "int"


@dataclass(frozen=True)
class Generator:
    """A synthetic series family: ``fn(n, rng, **params) -> np.ndarray (n,)``."""

    key: str
    label: str
    description: str            # one plain sentence a student understands
    params: tuple[Param, ...]
    fn: Callable

    def defaults(self) -> dict[str, float | int]:
        """Default value of every parameter, by name."""
        return {p.name: p.default for p in self.params}


# ---------------------------------------------------------------------------------------------
# Shared parameter builders (keep the registry below short and uniform)

def _period(name="period", default=50, label="Period (steps)") -> Param:
    return Param(name, label, default, 2, 10_000, 1, "Number of time steps in one full cycle.", "int")


def _amplitude(name="amplitude", default=1.0, label="Amplitude") -> Param:
    return Param(name, label, default, 0.0, 100.0, 0.1, "Height of a peak above the midline.")


def _noise(default=0.1) -> Param:
    return Param("noise", "Noise (std)", default, 0.0, 10.0, 0.01,
                 "Standard deviation of Gaussian noise added to every point (0 = clean).")


def _add_noise(y: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """y + noise * eps, eps ~ N(0, 1); always draws, so the seed alone decides the noise."""
    return y + noise * rng.standard_normal(y.shape[0])


# ---------------------------------------------------------------------------------------------
# Generator functions: fn(n, rng, **params) -> (n,) float64

def _sine(n, rng, period, amplitude, phase, noise):
    """y_t = A sin(2 pi t / P + phase * pi / 180) + noise * eps_t."""
    t = np.arange(n)
    return _add_noise(amplitude * np.sin(2 * np.pi * t / period + np.deg2rad(phase)), rng, noise)


def _sum_of_sines(n, rng, period_1, amplitude_1, period_2, amplitude_2, period_3, amplitude_3, noise):
    """y_t = sum_k A_k sin(2 pi t / P_k) + noise * eps_t, k = 1, 2, 3."""
    t = np.arange(n)
    y = sum(a * np.sin(2 * np.pi * t / p)
            for p, a in ((period_1, amplitude_1), (period_2, amplitude_2), (period_3, amplitude_3)))
    return _add_noise(y, rng, noise)


def _trend_seasonal(n, rng, level, slope, period, amplitude, noise):
    """y_t = level + slope * t + A sin(2 pi t / P) + noise * eps_t."""
    t = np.arange(n)
    return _add_noise(level + slope * t + amplitude * np.sin(2 * np.pi * t / period), rng, noise)


def _random_walk(n, rng, start, drift, step_std):
    """y_0 = start + e_0,  y_t = y_{t-1} + drift + step_std * eps_t  (a cumulative sum)."""
    return start + np.cumsum(drift + step_std * rng.standard_normal(n))


def ar_spectral_radius(phi: np.ndarray) -> float:
    """Largest |lambda| over the eigenvalues of the AR companion matrix.

    The AR(p) process y_t = sum_k phi_k y_{t-k} + e_t is stationary iff every root of
    lambda^p - phi_1 lambda^{p-1} - ... - phi_p = 0 has |lambda| < 1.
    """
    p = len(phi)
    companion = np.zeros((p, p))
    companion[0] = phi                   # first row: phi_1 ... phi_p
    companion[1:, :-1] = np.eye(p - 1)   # sub-diagonal shifts the lags
    return float(np.max(np.abs(np.linalg.eigvals(companion))))


def _ar(n, rng, phi1, phi2, phi3, noise_std):
    """y_t = phi1 y_{t-1} + phi2 y_{t-2} + phi3 y_{t-3} + noise_std * eps_t.

    Non-stationary coefficients (spectral radius >= 1, the series would explode or wander off)
    raise DataError. The recursion starts at zero and a burn-in long enough for the start to be
    forgotten (rho^burn < 1e-3) is discarded.
    """
    rho = ar_spectral_radius(np.array([phi1, phi2, phi3], dtype=float))
    if rho >= 1 - 1e-9:
        raise DataError(
            f"AR coefficients phi1={phi1}, phi2={phi2}, phi3={phi3} are not stationary (largest root "
            f"|lambda| = {rho:.3f} >= 1): the series would explode or drift away. Pick smaller "
            "coefficients -- |phi1| + |phi2| + |phi3| < 1 is always stationary, e.g. phi1=0.6, phi2=0.2, phi3=0.")
    burn = 100 + min(50_000, math.ceil(math.log(1e-3) / math.log(max(rho, 1e-3))))
    eps = (noise_std * rng.standard_normal(n + burn)).tolist()
    y1 = y2 = y3 = 0.0                                   # y_{t-1}, y_{t-2}, y_{t-3}
    out = [0.0] * (n + burn)
    for t, e in enumerate(eps):                          # plain floats: ~0.3 s per million points
        y1, y2, y3 = phi1 * y1 + phi2 * y2 + phi3 * y3 + e, y1, y2
        out[t] = y1
    return np.asarray(out[burn:], dtype=np.float64)


def _square(n, rng, period, amplitude, duty, noise):
    """y_t = +A while frac(t / P) < duty, else -A; plus noise."""
    frac = np.mod(np.arange(n) / period, 1.0)
    return _add_noise(np.where(frac < duty, amplitude, -amplitude), rng, noise)


def _sawtooth(n, rng, period, amplitude, noise):
    """y_t = A (2 frac(t / P) - 1): rises linearly from -A to +A, then drops back; plus noise."""
    frac = np.mod(np.arange(n) / period, 1.0)
    return _add_noise(amplitude * (2 * frac - 1), rng, noise)


def _chirp(n, rng, period_start, period_end, amplitude, noise):
    """Linear chirp: frequency f(t) = f0 + (f1 - f0) t / (n - 1), f0 = 1/P_start, f1 = 1/P_end.

    y_t = A sin(phi_t),  phi_t = 2 pi (f0 t + (f1 - f0) t^2 / (2 (n - 1)))  (the integral of f).
    """
    t = np.arange(n, dtype=np.float64)
    f0, f1 = 1.0 / period_start, 1.0 / period_end
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * (n - 1)))
    return _add_noise(amplitude * np.sin(phase), rng, noise)


MG_DT = 0.1          # integration step of Mackey-Glass (time units)
MG_BURN = 500.0      # time units integrated and thrown away before the first sample


def _mackey_glass(n, rng, tau, beta, gamma, exponent, sample_every, noise):
    """Mackey-Glass delay-differential equation, chaotic for tau >= 17:

        dx/dt = beta x(t - tau) / (1 + x(t - tau)^exponent) - gamma x(t)

    Fixed step dt = 0.1, exponential Euler with the delayed term held over each step:

        x_{k+1} = a x_k + b g(x_{k-d}),   a = exp(-gamma dt),  b = (1 - a) / gamma,  d = tau / dt,
        g(x) = beta x / (1 + x^exponent).

    Speed: the next d steps only need g of the *previous* d values, which are all known, so a
    block of d steps is a linear recurrence with known input, solved at once:

        x_{k0+m} = a^m (x_{k0} + b sum_{i<m} a^{-(i+1)} g_i),   m = 1..d   (a cumulative sum).

    The history x(t <= 0) is random (from the seed), MG_BURN time units are discarded, then one
    point is kept every ``sample_every`` time units.
    """
    d = int(round(tau / MG_DT))                          # delay in steps (tau is an int -> exact)
    a = math.exp(-gamma * MG_DT)
    b = (1.0 - a) / gamma
    m = np.arange(1, d + 1)
    a_pow, a_inv = a ** m, a ** -m                       # (d,), (d,); a^-d = e^(gamma tau) is finite
    q = int(round(sample_every / MG_DT))                 # fine steps between kept samples
    first = int(round(MG_BURN / MG_DT))                  # fine index of the first kept sample

    window = 0.5 + 0.8 * rng.random(d + 1)               # x_{k0-d} .. x_{k0}, random history
    kept, n_kept, k0 = [], 0, 0
    while n_kept < n:
        lagged = window[:-1]                             # (d,) x_{k0-d} .. x_{k0-1}
        g = beta * lagged / (1.0 + lagged**exponent)     # (d,)
        new = a_pow * (window[-1] + b * np.cumsum(a_inv * g))   # (d,) x_{k0+1} .. x_{k0+d}
        lo = k0 + 1                                      # fine index of new[0]
        nxt = first if lo <= first else first + -(-(lo - first) // q) * q   # first kept index >= lo
        if nxt <= k0 + d:
            take = new[nxt - lo::q][: n - n_kept]
            kept.append(take)
            n_kept += take.shape[0]
        window = np.concatenate((window[-1:], new))      # (d+1,) shift by d steps
        k0 += d
    return _add_noise(np.concatenate(kept), rng, noise)


def _regime_switch(n, rng, regime_length, level_spread, amplitude, period, noise):
    """Piecewise regimes: y_t = mu_r + A_r sin(2 pi t / P) + noise * eps_t for t in regime r.

    Regime lengths are uniform in [L/2, 3L/2]; each regime draws its own level
    mu_r ~ N(0, level_spread^2) and amplitude A_r = amplitude * U(0.25, 1.75).
    """
    lengths = rng.integers(max(1, regime_length // 2), regime_length * 3 // 2 + 1,
                           size=n // max(1, regime_length // 2) + 2)
    ends = np.cumsum(lengths)                            # regime r covers [ends[r-1], ends[r])
    regime = np.searchsorted(ends, np.arange(n), side="right")          # (n,) regime id per step
    levels = level_spread * rng.standard_normal(lengths.shape[0])
    amps = amplitude * rng.uniform(0.25, 1.75, size=lengths.shape[0])
    y = levels[regime] + amps[regime] * np.sin(2 * np.pi * np.arange(n) / period)
    return _add_noise(y, rng, noise)


def _echo(n, rng, delay, gain, pulse_rate, noise):
    """Delayed echo, the long-range task: y_t = gain * y_{t-k} + e_t, k = delay.

    e_t = b_t s_t + noise * eps_t with b_t ~ Bernoulli(pulse_rate), s_t ~ N(0, 1): sparse pulses
    that come back k steps later, scaled by the gain (|gain| < 1: stationary). The best forecast of
    y_{t+h} (h <= k) is gain * y_{t+h-k}: a value k - h steps before the last input, so a model must
    remember that far back. Starts at zero; a burn-in of k * ceil(log(1e-3) / log(gain)) steps
    (gain^blocks < 1e-3) is discarded. Computed a block of k steps at a time.
    """
    blocks = 1 if gain <= 0 else math.ceil(math.log(1e-3) / math.log(gain))
    m = n + delay * blocks                               # steps incl. burn-in
    e = rng.standard_normal(m) * (rng.random(m) < pulse_rate) + noise * rng.standard_normal(m)
    y = np.zeros(m + (-m) % delay)                        # padded to whole blocks of k
    y[:m] = e
    y = y.reshape(-1, delay)                              # (blocks, k): row j = steps jk .. jk+k-1
    for j in range(1, y.shape[0]):
        y[j] += gain * y[j - 1]                           # y_t += gain * y_{t-k}
    return y.reshape(-1)[m - n:m]


# ---------------------------------------------------------------------------------------------
# Registry

def _phi(i: int, default: float) -> Param:
    return Param(f"phi{i}", f"phi{i} (lag {i})", default, -3.0, 3.0, 0.05,
                 f"Weight of the value {i} step(s) back. Combinations whose roots reach the unit "
                 "circle are non-stationary and are rejected; |phi1|+|phi2|+|phi3| < 1 is always safe.")


GENERATORS: dict[str, Generator] = {g.key: g for g in (
    Generator(
        "sine", "Sine wave",
        "A smooth wave that repeats itself every 'period' steps, plus a little noise.",
        (_period(), _amplitude(),
         Param("phase", "Phase (degrees)", 0.0, 0.0, 360.0, 5.0, "Where in its cycle the wave starts."),
         _noise()),
        _sine),
    Generator(
        "sum_of_sines", "Sum of sines",
        "Three waves with different periods added together, so the pattern repeats in a more "
        "complex way.",
        (_period("period_1", 50, "Period 1"), _amplitude("amplitude_1", 1.0, "Amplitude 1"),
         _period("period_2", 12, "Period 2"), _amplitude("amplitude_2", 0.5, "Amplitude 2"),
         _period("period_3", 7, "Period 3"), _amplitude("amplitude_3", 0.25, "Amplitude 3"),
         _noise()),
        _sum_of_sines),
    Generator(
        "trend_seasonal", "Trend + seasonality + noise",
        "A straight-line trend with a repeating seasonal wave and random noise on top, like many "
        "real business series.",
        (Param("level", "Starting level", 0.0, -1000.0, 1000.0, 1.0, "Value of the trend line at t = 0."),
         Param("slope", "Slope per step", 0.01, -1.0, 1.0, 0.001,
               "How much the trend rises (or falls) each step."),
         _period(default=24), _amplitude(), _noise(0.2)),
        _trend_seasonal),
    Generator(
        "random_walk", "Random walk",
        "Each value is the previous one plus a random step, so the series wanders with no pattern "
        "to learn.",
        (Param("start", "Start value", 0.0, -1000.0, 1000.0, 1.0, "Where the walk begins."),
         Param("drift", "Drift per step", 0.0, -1.0, 1.0, 0.01,
               "Average step; non-zero makes the walk trend up or down."),
         Param("step_std", "Step size (std)", 1.0, 0.0, 10.0, 0.1, "Standard deviation of each random step.")),
        _random_walk),
    Generator(
        "ar", "Autoregressive AR(3)",
        "Each value is a weighted sum of the last three values plus random noise, giving irregular "
        "but partly predictable swings.",
        (_phi(1, 1.2), _phi(2, -0.5), _phi(3, 0.0),
         Param("noise_std", "Noise (std)", 1.0, 0.0, 10.0, 0.1,
               "Standard deviation of the random shock at each step.")),
        _ar),
    Generator(
        "square", "Square wave",
        "A signal that jumps between a high and a low level at regular intervals.",
        (_period(), _amplitude(),
         Param("duty", "Duty cycle", 0.5, 0.05, 0.95, 0.05, "Fraction of each period spent at the high level."),
         _noise(0.05)),
        _square),
    Generator(
        "sawtooth", "Sawtooth wave",
        "A signal that rises in a straight line and then drops back sharply, over and over.",
        (_period(), _amplitude(), _noise(0.05)),
        _sawtooth),
    Generator(
        "chirp", "Chirp",
        "A wave whose cycles get steadily faster (or slower) from the start of the series to the end.",
        (_period("period_start", 100, "Period at start"), _period("period_end", 10, "Period at end"),
         _amplitude(), _noise(0.05)),
        _chirp),
    Generator(
        "mackey_glass", "Mackey-Glass (chaotic)",
        "A chaotic signal from a model of blood-cell production: it looks almost periodic but never "
        "exactly repeats.",
        (Param("tau", "Delay tau", 17, 1, 100, 1, "Time delay of the feedback; 17 or more gives chaos.", "int"),
         Param("beta", "beta (production)", 0.2, 0.01, 2.0, 0.01, "Strength of the delayed feedback."),
         Param("gamma", "gamma (decay)", 0.1, 0.01, 1.0, 0.01, "Rate at which x decays on its own."),
         Param("exponent", "Exponent n", 10.0, 1.0, 20.0, 0.5, "Steepness of the feedback curve."),
         Param("sample_every", "Sample every (time units)", 1, 1, 10, 1,
               "Time units between two kept points; larger values make the series look rougher.", "int"),
         _noise(0.0)),
        _mackey_glass),
    Generator(
        "regime_switch", "Regime switches",
        "A wave whose average level and swing size jump to new values every so often, like a market "
        "changing mood.",
        (Param("regime_length", "Regime length (steps)", 200, 2, 100_000, 1,
               "Average number of steps before the level and amplitude change.", "int"),
         Param("level_spread", "Level spread", 2.0, 0.0, 100.0, 0.1, "Standard deviation of the regime levels."),
         _amplitude(), _period(default=25), _noise()),
        _regime_switch),
    Generator(
        "echo", "Delayed echo (long-range task)",
        "Random pulses that come back, a little weaker, exactly k steps later, so a forecaster must "
        "remember what it saw k steps ago.",
        (Param("delay", "Delay k (steps)", 30, 2, 1000, 1,
               "How many steps later each value echoes; the model must remember this far back.", "int"),
         Param("gain", "Echo gain", 0.9, 0.0, 0.99, 0.01,
               "Share of the value k steps ago that comes back (below 1, so echoes fade)."),
         Param("pulse_rate", "Pulse rate", 0.2, 0.01, 1.0, 0.01,
               "Chance of a new random pulse at each step (1 = a fresh random value every step)."),
         _noise(0.05)),
        _echo),
)}


# ---------------------------------------------------------------------------------------------
# Public entry point

def _as_int(value, what: str, fix: str) -> int:
    """value as int if it is a whole number (not bool), else DataError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value != int(value):
        raise DataError(f"{what} must be a whole number, got {value!r}. {fix}")
    return int(value)


def _check_param(p: Param, value) -> float | int:
    """Validate one parameter value against its Param (type, integrality, range)."""
    fix = f"Choose a value between {p.min} and {p.max}."
    if p.kind == "int":
        v = _as_int(value, f"Parameter '{p.name}'", fix)
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise DataError(f"Parameter '{p.name}' must be a finite number, got {value!r}. {fix}")
    else:
        v = float(value)
    if not p.min <= v <= p.max:
        raise DataError(f"Parameter '{p.name}' = {v} is outside its range [{p.min}, {p.max}]. {fix}")
    return v


def generate(key: str, length: int = 1000, seed: int = 0, **params) -> np.ndarray:
    """Generate a synthetic series.

    Parameters
    ----------
    key : str
        A key of ``GENERATORS`` (e.g. ``"sine"``, ``"mackey_glass"``).
    length : int
        Number of points, 10 <= length <= 1_000_000.
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the identical series.
    **params
        Generator parameters by name; missing ones take their defaults.

    Returns
    -------
    np.ndarray
        (length,) float64, finite.

    Raises
    ------
    DataError
        Unknown key or parameter name, a value out of range or not a whole number where one is
        needed, a length outside [10, 1_000_000], a negative seed, or non-stationary AR coefficients.
    """
    if key not in GENERATORS:
        raise DataError(f"Unknown generator '{key}'. Use one of: {', '.join(GENERATORS)}.")
    gen = GENERATORS[key]
    n = _as_int(length, "length", f"Use a length between {MIN_LENGTH} and {MAX_LENGTH:,}.")
    if not MIN_LENGTH <= n <= MAX_LENGTH:
        raise DataError(f"length = {n} is outside [{MIN_LENGTH}, {MAX_LENGTH:,}]. "
                        f"Use a length between {MIN_LENGTH} and {MAX_LENGTH:,}.")
    s = _as_int(seed, "seed", "Use a whole number >= 0, e.g. seed=0.")
    if s < 0:
        raise DataError(f"seed = {s} is negative. Use a whole number >= 0, e.g. seed=0.")
    unknown = sorted(set(params) - {p.name for p in gen.params})
    if unknown:
        raise DataError(f"Generator '{key}' has no parameter(s) {', '.join(unknown)}. "
                        f"Its parameters are: {', '.join(p.name for p in gen.params)}.")
    values = {p.name: _check_param(p, params.get(p.name, p.default)) for p in gen.params}

    y = np.asarray(gen.fn(n, np.random.default_rng(s), **values), dtype=np.float64)   # (n,)
    if y.shape != (n,) or not np.all(np.isfinite(y)):
        raise DataError(f"Generator '{key}' produced an invalid series with these settings; "
                        "try values closer to the defaults.")
    return y
