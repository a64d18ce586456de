"""Absolute confidence: the probability that a candidate is the clicked object.

Two sources, one scale (0..1, comparable across searches, not a share among candidates):

* a **registered** candidate (the whole photo registered to the raster, :mod:`.register`):
  a logistic model of the registration's evidence,
  ``p = sigmoid(b0 + b1 ln(inliers) + b2 inlier_ratio + b3 spread + b4 ln(1 + reprojection_px))``,
  fitted on synthetic views of training places (right registrations against wrong ones and
  against rasters of other places; ``examples/fit_registration_calibration.py``). The
  coefficients and their provenance live in ``assets/registration-calibration.json``;
* a **template-only** candidate (nothing registered): its template probability times
  :data:`TEMPLATE_CAP`, because on real photos the template's top-1 is right far less often
  than its softmax says (``docs/real-photos.md``). It can therefore never reach
  :data:`CONFIDENT`.

A result whose best candidate is below :data:`CONFIDENT` is "no confident match".
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

from ocgnet_geo.locate.bundled import ASSETS

#: A candidate at or above this probability is a confident answer.
CONFIDENT = 0.5
#: Upper bound of a template-only candidate's probability (never confident on its own).
TEMPLATE_CAP = 0.25
CALIBRATION_FILE = ASSETS / "registration-calibration.json"


@lru_cache(maxsize=1)
def calibration() -> dict:
    """The registration calibration: ``{"coefficients": [b0..b4], "fitted_on": ..., ...}``."""
    data = json.loads(CALIBRATION_FILE.read_text())
    coefficients = data.get("coefficients")
    if (
        not isinstance(coefficients, list)
        or len(coefficients) != 5
        or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in coefficients)
    ):
        raise ValueError(f"{CALIBRATION_FILE.name}: 'coefficients' must be 5 finite numbers")
    return data


def registration_probability(
    inliers: int, matches: int, spread: float, reprojection_px: float
) -> float:
    """Probability that a plausible registration is right (module docstring)."""
    b0, b1, b2, b3, b4 = calibration()["coefficients"]
    ratio = inliers / max(matches, 1)
    z = (
        b0
        + b1 * math.log(max(inliers, 1))
        + b2 * ratio
        + b3 * spread
        + b4 * math.log1p(max(0.0, reprojection_px))
    )
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def template_probability(softmax_score: float) -> float:
    """A template-only candidate's probability from its softmax score among candidates."""
    return TEMPLATE_CAP * max(0.0, min(1.0, float(softmax_score)))
