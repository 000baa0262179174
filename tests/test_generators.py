"""Tests for gru_core.generators: every registered generator, its parameters and its errors."""
import math

import numpy as np
import pytest

from gru_core.errors import DataError
from gru_core.generators import GENERATORS, MG_BURN, MG_DT, Generator, Param, generate

KEYS = list(GENERATORS)


def fft_period(y: np.ndarray) -> float:
    """Period (in steps) of the strongest non-zero frequency."""
    spec = np.abs(np.fft.rfft(y - y.mean()))
    k = int(np.argmax(spec[1:])) + 1
    return len(y) / k


# --- registry ---------------------------------------------------------------------------------

def test_registry_has_the_contract_keys():
    assert KEYS == ["sine", "sum_of_sines", "trend_seasonal", "random_walk", "ar", "square",
                    "sawtooth", "chirp", "mackey_glass", "regime_switch", "echo"]


@pytest.mark.parametrize("key", KEYS)
def test_generator_metadata_is_complete(key):
    g = GENERATORS[key]
    assert isinstance(g, Generator) and g.key == key and g.label
    assert g.description.endswith(".") and g.description.count(". ") == 0   # one sentence
    names = [p.name for p in g.params]
    assert len(names) == len(set(names)) and not {"length", "seed", "key"} & set(names)
    for p in g.params:
        assert isinstance(p, Param) and p.label and p.help and p.kind in ("float", "int")
        assert p.min <= p.default <= p.max and p.step > 0
        if p.kind == "int":
            assert all(isinstance(v, int) for v in (p.default, p.min, p.max, p.step))
    assert g.defaults() == {p.name: p.default for p in g.params}


# --- every generator: shape, determinism, seeds, extremes ---------------------------------------

@pytest.mark.parametrize("key", KEYS)
def test_length_dtype_finite_and_deterministic(key):
    y = generate(key, length=300, seed=7)
    assert y.shape == (300,) and y.dtype == np.float64 and np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, generate(key, length=300, seed=7))
    assert not np.array_equal(y, generate(key, length=300, seed=8))
    assert y.std() > 0


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("length", [10, 11, 1234])
def test_exact_length(key, length):
    assert generate(key, length=length).shape == (length,)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("end", ["min", "max"])
def test_parameter_extremes_stay_finite(key, end):
    """Every parameter at its min (or max) at once still gives a finite series (or a DataError for AR)."""
    g = GENERATORS[key]
    params = {p.name: getattr(p, end) for p in g.params}
    if key == "ar":                     # all phi at an extreme is non-stationary: must be rejected
        with pytest.raises(DataError, match="not stationary"):
            generate(key, length=200, **params)
        return
    y = generate(key, length=200, **params)
    assert y.shape == (200,) and np.all(np.isfinite(y))


# --- parameters are respected ------------------------------------------------------------------

@pytest.mark.parametrize("period", [10, 25, 64])
def test_sine_period_from_fft(period):
    y = generate("sine", length=period * 40, period=period, noise=0.3)
    assert fft_period(y) == pytest.approx(period, rel=1e-6)


def test_sine_amplitude_and_phase():
    y = generate("sine", length=400, amplitude=3.0, phase=90.0, noise=0.0)
    assert y[0] == pytest.approx(3.0) and np.abs(y).max() == pytest.approx(3.0)


def test_sum_of_sines_has_all_three_periods():
    y = generate("sum_of_sines", length=4200, period_1=60, period_2=20, period_3=7, noise=0.0)
    spec = np.abs(np.fft.rfft(y))
    top3 = sorted(4200 / k for k in np.argsort(spec)[-3:])
    assert top3 == pytest.approx([7, 20, 60], rel=1e-6)


def test_trend_seasonal_slope_and_level():
    y = generate("trend_seasonal", length=2400, level=5.0, slope=0.05, period=24, noise=0.1)
    slope, intercept = np.polyfit(np.arange(2400), y, 1)
    assert slope == pytest.approx(0.05, abs=2e-4) and intercept == pytest.approx(5.0, abs=0.1)


def test_random_walk_steps():
    y = generate("random_walk", length=20_000, start=3.0, drift=0.5, step_std=2.0)
    steps = np.diff(y)
    assert steps.mean() == pytest.approx(0.5, abs=0.05) and steps.std() == pytest.approx(2.0, rel=0.03)
    assert abs(y[0] - 3.5) < 10             # start + one step


def test_ar_recovers_coefficients():
    y = generate("ar", length=20_000, phi1=0.5, phi2=0.2, phi3=-0.1, noise_std=1.0)
    lags = np.column_stack([y[2:-1], y[1:-2], y[:-3]])         # y_{t-1}, y_{t-2}, y_{t-3}
    phi, *_ = np.linalg.lstsq(lags, y[3:], rcond=None)
    np.testing.assert_allclose(phi, [0.5, 0.2, -0.1], atol=0.03)


@pytest.mark.parametrize("phis", [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.0, -1.5), (2.0, -0.5, 0.0)])
def test_ar_rejects_non_stationary(phis):
    with pytest.raises(DataError, match=r"not stationary.*phi1=0.6"):
        generate("ar", phi1=phis[0], phi2=phis[1], phi3=phis[2])


def test_square_levels_and_duty():
    y = generate("square", length=1000, period=20, amplitude=2.0, duty=0.25, noise=0.0)
    assert set(np.unique(y)) == {-2.0, 2.0}
    assert (y > 0).mean() == pytest.approx(0.25)
    assert fft_period(y) == pytest.approx(20)


def test_sawtooth_shape():
    y = generate("sawtooth", length=1000, period=50, amplitude=1.5, noise=0.0)
    assert y.min() == pytest.approx(-1.5) and y.max() < 1.5
    assert (np.diff(y) < 0).sum() == 1000 // 50 - 1          # one drop per cycle
    assert fft_period(y) == pytest.approx(50)


def test_chirp_period_changes_from_start_to_end():
    n, f0, f1 = 5000, 1 / 100, 1 / 10
    y = generate("chirp", length=n, period_start=100, period_end=10, noise=0.0)

    def cycles(t):                        # integral of f(t) = f0 + (f1 - f0) t / (n - 1)
        return f0 * t + (f1 - f0) * t**2 / (2 * (n - 1))

    for lo, hi in [(1, 600), (n - 600, n)]:                   # 2 zero crossings per cycle
        crossings = np.count_nonzero(np.diff(np.sign(y[lo:hi])) != 0)
        assert abs(crossings - 2 * (cycles(hi - 1) - cycles(lo))) <= 1.5
    head, tail = np.diff(np.sign(y[1:600])) != 0, np.diff(np.sign(y[-600:])) != 0
    assert tail.sum() > 5 * head.sum()                        # it really speeds up


def _mackey_glass_reference(n, seed, tau=17, beta=0.2, gamma=0.1, exponent=10.0, sample_every=1):
    """The same scheme as a plain loop: x_{k+1} = a x_k + b g(x_{k-d})."""
    rng = np.random.default_rng(seed)
    d = round(tau / MG_DT)
    x = list(0.5 + 0.8 * rng.random(d + 1))                   # x_{-d} .. x_0
    a = math.exp(-gamma * MG_DT)
    b = (1 - a) / gamma
    q, first = round(sample_every / MG_DT), round(MG_BURN / MG_DT)
    for k in range(first + (n - 1) * q):
        lagged = x[k]                                         # x_{k-d} (list is offset by d)
        x.append(a * x[-1] + b * beta * lagged / (1 + lagged**exponent))
    return np.array(x[d:])[first::q][:n]


@pytest.mark.parametrize("kw", [{}, {"tau": 5, "sample_every": 3}, {"tau": 30, "gamma": 0.5, "exponent": 7.5}])
def test_mackey_glass_matches_plain_loop(kw):
    y = generate("mackey_glass", length=100, seed=3, **kw)
    np.testing.assert_allclose(y, _mackey_glass_reference(100, 3, **kw), rtol=1e-10, atol=1e-12)


def test_mackey_glass_is_chaotic_range_and_long():
    y = generate("mackey_glass", length=2000)
    assert 0.2 < y.min() < 0.6 and 1.1 < y.max() < 1.5       # the classic tau=17 attractor
    assert not np.allclose(y, generate("mackey_glass", length=2000, tau=30))
    long = generate("mackey_glass", length=100_000)           # the Data page's longest series
    assert long.shape == (100_000,) and np.isfinite(long).all()


def test_regime_switch_is_piecewise():
    y = generate("regime_switch", length=2000, regime_length=100, amplitude=0.0, noise=0.0, level_spread=3.0)
    n_regimes = 1 + np.count_nonzero(np.diff(y))
    assert 12 <= n_regimes <= 45                              # ~2000 / 100, lengths in [50, 150]
    lengths = np.diff(np.flatnonzero(np.r_[1, np.diff(y), 1]))[1:-1]
    assert lengths.min() >= 50 and lengths.max() <= 150


def test_regime_switch_amplitude_differs_between_regimes():
    y = generate("regime_switch", length=4000, regime_length=400, level_spread=0.0, period=20, noise=0.0)
    amps = [np.abs(y[i:i + 100]).max() for i in range(0, 4000, 400)]
    assert max(amps) / min(amps) > 1.3


def test_echo_matches_a_plain_delay_loop():
    """y_t = gain * y_{t-k} + e_t, rebuilt with a naive loop over the same random draws."""
    k, gain, rate, noise, n = 7, 0.8, 0.3, 0.05, 200
    y = generate("echo", length=n, seed=4, delay=k, gain=gain, pulse_rate=rate, noise=noise)
    rng = np.random.default_rng(4)
    blocks = math.ceil(math.log(1e-3) / math.log(gain))
    m = n + k * blocks
    e = rng.standard_normal(m) * (rng.random(m) < rate) + noise * rng.standard_normal(m)
    ref = [0.0] * m
    for t in range(m):
        ref[t] = e[t] + (gain * ref[t - k] if t >= k else 0.0)
    np.testing.assert_allclose(y, ref[m - n:], atol=1e-12)


def test_echo_is_predictable_exactly_k_steps_back():
    y = generate("echo", length=5000, seed=0, delay=25, gain=0.9, pulse_rate=1.0, noise=0.0)
    corr = lambda lag: np.corrcoef(y[lag:], y[:-lag])[0, 1]   # noqa: E731
    assert corr(25) == pytest.approx(0.9, abs=0.03)
    assert abs(corr(1)) < 0.05 and abs(corr(24)) < 0.05


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: generate("sinus"), "Unknown generator 'sinus'.*sine"),
    (lambda: generate("sine", length=9), r"length = 9 .*\[10, 1,000,000\]"),
    (lambda: generate("sine", length=1_000_001), "length = 1000001"),
    (lambda: generate("sine", length=100.5), "whole number"),
    (lambda: generate("sine", seed=-1), "seed = -1"),
    (lambda: generate("sine", frequency=3), "no parameter.*frequency.*period"),
    (lambda: generate("sine", period=1), r"'period' = 1 is outside.*between 2 and"),
    (lambda: generate("sine", period=12.5), "'period' must be a whole number"),
    (lambda: generate("sine", amplitude=float("nan")), "finite number"),
    (lambda: generate("sine", amplitude="big"), "finite number"),
    (lambda: generate("sine", noise=-0.1), "'noise' = -0.1 is outside"),
    (lambda: generate("mackey_glass", tau=0), "'tau' = 0 is outside"),
])
def test_bad_inputs_raise_data_error(call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_data_error_is_a_value_error_and_ints_accept_whole_floats():
    assert issubclass(DataError, ValueError)
    np.testing.assert_array_equal(generate("sine", length=100.0, period=20.0), generate("sine", length=100, period=20))
