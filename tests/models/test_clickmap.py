from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ocgnet_geo.errors import InputError
from ocgnet_geo.models.errors import ClickOutsideQueryError
from ocgnet_geo.models.ocgnet.clickmap import ClickMapEncoder, detgeo_clickmap, gaussian_clickmap
from tests.models import oracle


@pytest.mark.parametrize(
    ("hw", "click", "sigma"),
    [
        ((256, 256), (191.7, 190.2), 0.10),
        ((256, 512), (300.9, 140.5), 0.15),
        ((64, 32), (0, 63.9), 0.075),
    ],
)
def test_gaussian_is_bit_identical_to_the_reference_loop(hw, click, sigma) -> None:
    got = gaussian_clickmap([click], hw, sigma)[0].numpy()
    want = oracle.gaussian_map_loop(*hw, *click, sigma)
    assert got.dtype == np.float32
    assert np.array_equal(got, want)
    assert got[int(click[1]), int(click[0])] == 1.0  # x first, truncated


@pytest.mark.parametrize(("hw", "click"), [((256, 256), (191, 190)), ((256, 512), (300, 140))])
def test_detgeo_map_is_bit_identical_to_the_reference_loop(hw, click) -> None:
    got = detgeo_clickmap([click], hw)[0].numpy()
    assert np.array_equal(got, oracle.detgeo_map_loop(*hw, *click))


def test_spec_example_minima() -> None:
    assert detgeo_clickmap([(190, 191)], (256, 256)).min() == pytest.approx(0.065, abs=1e-3)
    assert detgeo_clickmap([(300, 140)], (256, 512)).min() == pytest.approx(0.178, abs=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    fx=st.floats(0, 0.999),
    fy=st.floats(0, 0.999),
    sigma=st.floats(0.01, 1.0),
)
def test_batched_maps_equal_single_loops(h, w, fx, fy, sigma) -> None:
    clicks = [(fx * w, fy * h), (0.0, 0.0)]
    maps = gaussian_clickmap(clicks, (h, w), sigma)
    for m, (x, y) in zip(maps, clicks, strict=True):
        assert np.array_equal(m.numpy(), oracle.gaussian_map_loop(h, w, x, y, sigma))


@pytest.mark.parametrize("click", [(256, 10), (-0.5, 10), (10, 256), (float("nan"), 3)])
def test_click_outside_the_query_raises(click) -> None:
    with pytest.raises(ClickOutsideQueryError, match="outside the 256x256") as info:
        gaussian_clickmap([click], (256, 256), 0.1)
    assert isinstance(info.value, InputError)
    with pytest.raises(ClickOutsideQueryError):
        detgeo_clickmap([(5, 5), click], (256, 256))


def test_bad_click_shape_raises() -> None:
    with pytest.raises(ClickOutsideQueryError, match=r"\[B, 2\]"):
        gaussian_clickmap([[1, 2, 3]], (8, 8), 0.1)


def test_learnable_sigma_gets_a_gradient_and_fixed_sigma_is_no_key() -> None:
    enc = ClickMapEncoder("gaussian", (32, 32), 0.1, learnable=True)
    maps = enc([(5, 7), (20, 3)])
    maps.sum().backward()
    assert enc.sigma.grad is not None and enc.sigma.grad.item() > 0  # wider map → larger sum
    assert torch.equal(maps.detach(), gaussian_clickmap([(5, 7), (20, 3)], (32, 32), 0.1))
    assert "sigma" in enc.state_dict()
    fixed = ClickMapEncoder("gaussian", (32, 32), 0.1, learnable=False)
    assert dict(fixed.state_dict()) == {}
    assert torch.equal(fixed([(5, 7)]), gaussian_clickmap([(5, 7)], (32, 32), 0.1))
