"""The absolute confidence: the shipped registration calibration and its guards."""

from __future__ import annotations

import json
import math

import pytest

from ocgnet_geo.locate import confidence


@pytest.fixture
def fresh_calibration():
    """Clear the cached calibration before and after a test that swaps its file."""
    confidence.calibration.cache_clear()
    yield
    confidence.calibration.cache_clear()


def test_shipped_calibration_has_five_finite_coefficients(fresh_calibration):
    data = confidence.calibration()
    coefficients = data["coefficients"]
    assert len(coefficients) == 5
    assert all(isinstance(c, (int, float)) and math.isfinite(c) for c in coefficients)
    assert len(data["features"]) == 5
    assert data["fitted_on"]


def test_probability_rises_with_inliers(fresh_calibration):
    for matches, spread, reprojection in ((400, 0.5, 1.0), (60, 0.1, 2.5), (1000, 0.9, 0.3)):
        probabilities = [
            confidence.registration_probability(n, max(matches, n), spread, reprojection)
            for n in (15, 20, 30, 50, 100, 200, 400)
        ]
        assert all(0.0 <= p <= 1.0 for p in probabilities)
        assert probabilities == sorted(probabilities)
        assert probabilities[-1] > probabilities[0]


@pytest.mark.parametrize(
    "coefficients",
    [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, float("nan")], ["a", 0, 0, 0, 0], None],
)
def test_bad_coefficients_are_refused(tmp_path, monkeypatch, fresh_calibration, coefficients):
    path = tmp_path / "registration-calibration.json"
    text = json.dumps({"coefficients": coefficients, "fitted_on": "test"}, allow_nan=True)
    path.write_text(text)
    monkeypatch.setattr(confidence, "CALIBRATION_FILE", path)
    with pytest.raises(ValueError, match="coefficients"):
        confidence.calibration()
    with pytest.raises(ValueError, match="coefficients"):
        confidence.registration_probability(100, 200, 0.5, 1.0)


def test_template_probability_is_never_confident():
    for softmax in (0.0, 0.3, 0.9, 1.0, 1.5, -1.0):
        p = confidence.template_probability(softmax)
        assert 0.0 <= p < confidence.CONFIDENT
