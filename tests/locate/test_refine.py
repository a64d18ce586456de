"""Re-ranking after geometric verification, and when verification stops early."""

from __future__ import annotations

import numpy as np
import pytest

from ocgnet_geo.locate.refine import (
    MAX_LIKELIHOOD_RATIO,
    MIN_INLIERS,
    likelihood_ratio,
    rerank_arrays,
    worth_verifying,
)


def test_likelihood_ratio_grows_with_inliers_and_is_capped() -> None:
    ratios = likelihood_ratio(np.array([MIN_INLIERS, 2 * MIN_INLIERS, 1000]))
    assert ratios == pytest.approx([1.0, 4.0, MAX_LIKELIHOOD_RATIO])


def test_verification_stops_once_no_candidate_can_overtake() -> None:
    assert worth_verifying(0.01, 0.0)  # nothing verified yet: always worth it
    best = 0.5 * float(likelihood_ratio(np.array(1000)))  # p 0.5, capped ratio
    assert not worth_verifying(0.4, best)  # 0.4 x the cap stays below
    assert worth_verifying(0.6, best)


def test_a_verified_candidate_outranks_and_twins_merge() -> None:
    scores = np.array([0.5, 0.3, 0.1])
    boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [51, 51, 61, 61]], float)
    order, new = rerank_arrays(scores, boxes, np.array([False, True, False]), np.array([0, 60, 0]))
    assert list(order) == [1, 0]  # the verified one first, the third merged into it
    assert new.sum() <= 1 + 1e-12
    assert new[0] > new[1]
