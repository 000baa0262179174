"""Tests for gru_core.intervals: order statistics computed here, and coverage on known noise."""
import math

import numpy as np
import pytest

from gru_core.errors import DataError
from gru_core.intervals import conformal_bands, conformal_quantiles, coverage, coverage_note


def test_quantile_is_the_kth_smallest_residual():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(19, 3)), rng.normal(size=(19, 3))
    q = conformal_quantiles(y, p, 0.8)
    k = math.ceil(20 * 0.8)                                           # 16th smallest of 19
    for j in range(3):
        assert q[j] == sorted(abs(a - b) for a, b in zip(y[:, j], p[:, j]))[k - 1]
    assert np.all(np.isinf(conformal_quantiles(y[:5], p[:5], 0.95)))   # k = 6 > n = 5


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_coverage_on_known_noise_is_close_to_nominal(level):
    """Truth = signal + N(0, sigma_j) with sigma growing per step; the forecast is the signal."""
    rng = np.random.default_rng(1)
    H, sigma = 4, np.array([1.0, 1.5, 2.0, 3.0])
    signal_val, signal_test = rng.normal(size=(3000, H)), rng.normal(size=(3000, H))
    y_val = signal_val + rng.normal(size=(3000, H)) * sigma
    y_test = signal_test + rng.normal(size=(3000, H)) * sigma
    (band,) = conformal_bands(y_val, signal_val, signal_test, y_test, levels=(level,))
    assert abs(band.coverage - level) < 0.02
    assert np.all(np.abs(band.coverage_per_step - level) < 0.03)
    z = {0.8: 1.2816, 0.95: 1.96}[level]                               # normal quantile of (1+level)/2
    np.testing.assert_allclose(band.q, z * sigma, rtol=0.08)


def test_coverage_counts_by_hand():
    y = np.array([[0.0, 1.0], [2.0, 5.0]])
    cov, per = coverage(y, y - 1, np.array([[1.0, 0.5], [3.0, 6.0]]))
    assert cov == 0.75 and list(per) == [1.0, 0.5]


def test_bad_input():
    with pytest.raises(DataError, match="same"):
        conformal_quantiles(np.zeros((3, 2)), np.zeros((3, 1)), 0.8)
    with pytest.raises(DataError, match="between 0 and 1"):
        conformal_quantiles(np.zeros((3, 2)), np.zeros((3, 2)), 80)


def _bands_on(scale_test: float, n: int = 400, seed: int = 0):
    """Bands from N(0, 1) validation errors, checked on test errors N(0, scale_test^2)."""
    rng = np.random.default_rng(seed)
    p_val, p_test = np.zeros((n, 3)), np.zeros((n, 3))
    y_val, y_test = rng.normal(size=(n, 3)), rng.normal(scale=scale_test, size=(n, 3))
    return conformal_bands(y_val, p_val, p_test, y_test)


def test_coverage_note_is_silent_when_the_bands_cover_as_stated():
    bands = _bands_on(1.0)
    assert all(abs(b.coverage - b.level) < 0.05 for b in bands)
    assert coverage_note(bands, 400) is None


def test_coverage_note_says_too_narrow_when_test_errors_are_larger():
    bands = _bands_on(2.5)                      # 80 % band q ~ 1.28 covers P(|N(0, 2.5)| < 1.28) ~ 39 %
    expected = 2 * 0.5 * math.erf(1.2816 / (2.5 * math.sqrt(2)))
    assert bands[0].coverage == pytest.approx(expected, abs=0.05)
    note = coverage_note(bands, 400)
    assert note.startswith("The bands are too narrow") and f"held {bands[0].coverage:.0%}" in note


def test_coverage_note_says_wider_than_needed_when_test_errors_are_smaller():
    bands = _bands_on(0.3)
    note = coverage_note(bands, 400)
    assert note.startswith("The bands are wider than needed") and "80% band held" in note


def test_coverage_note_allows_sampling_noise_on_few_windows():
    bands = _bands_on(1.0, n=400)
    bands[0].coverage = 0.68                    # 12 points short: a miss on 400 windows ...
    assert coverage_note(bands, 400) is not None
    assert coverage_note(bands, 10) is None     # ... but within 5 + 2*sqrt(.16/10) = 30 points on 10
