"""Bounded resources: threads, devices, photo pixels, tiles (``ocgnet_geo.locate.limits``)."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from ocgnet_geo.cli import main
from ocgnet_geo.locate.limits import available_cpus
from tests.cli.conftest import locate_args

SCRIPT = str(Path(sys.executable).with_name("ocgnet-geo"))


_locate_args = partial(locate_args, as_json=False)


def test_huge_thread_count_is_capped_with_one_warning(
    photo: Path, utm_spot_raster: Path, light_weights: Path
) -> None:
    done = subprocess.run(
        [SCRIPT, *_locate_args(photo, utm_spot_raster, light_weights, "--threads", "99999")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warning = [line for line in done.stderr.splitlines() if "capped" in line]
    assert warning == [
        f"ocgnet-geo: warning: threads 99999: capped at {available_cpus()} "
        "(the CPUs available to this process)"
    ]


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("gpu9", "not a device name"),
        ("cuda", "cannot use CUDA"),
        ("cuda:7", "CUDA"),
        ("meta", "not supported"),
    ],
)
def test_unusable_devices_are_one_line_errors(
    device: str, words: str, photo: Path, utm_spot_raster: Path, light_weights: Path, capsys
) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(_locate_args(photo, utm_spot_raster, light_weights, "--device", device))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and words in err and repr(device) in err, err
    assert main(["worker", "--device", device]) == 2


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` px but holds one tiny compressed block
    (what a decompression bomb looks like to a header reader)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("size", [(20000, 20000), (12000, 10000)])
def test_decompression_bomb_photo_is_a_one_line_refusal(
    size: tuple[int, int], utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    bomb = _png_header_only(tmp_path / "bomb.png", *size)
    code = main(_locate_args(bomb, utm_spot_raster, light_weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "limit of 100 megapixels" in err, err


def test_a_folder_given_as_photo_says_so(
    utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    code = main(_locate_args(tmp_path, utm_spot_raster, light_weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a folder" in err, err


def _sparse_raster(path: Path, size: int) -> Path:
    """A ``size`` x ``size`` px UTM raster at 0.5 m/px with no pixels stored: a VRT without
    sources (a few hundred bytes, any size)."""
    from tests.geo.rasters import UTM_ORIGIN

    x0, y0 = UTM_ORIGIN
    bands = "".join(f'<VRTRasterBand dataType="Byte" band="{b}"/>' for b in (1, 2, 3))
    path = path.with_suffix(".vrt")
    path.write_text(
        f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}"><SRS>EPSG:32632</SRS>'
        f"<GeoTransform>{x0}, 0.5, 0, {y0}, 0, -0.5</GeoTransform>{bands}</VRTDataset>"
    )
    return path


def test_a_huge_raster_without_bbox_is_refused_at_once_with_the_count(
    photo: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    import time

    huge = _sparse_raster(tmp_path / "huge.tif", 1_000_000)
    start = time.monotonic()
    code = main(_locate_args(photo, huge, light_weights))
    err = capsys.readouterr().err.strip()
    assert time.monotonic() - start < 30
    assert code == 2 and "\n" not in err, err
    assert "tiles (5,208 x 5,208 of 256 px" in err
    assert "more than the limit of 4,096" in err and "bbox" in err and "--max-tiles" in err


def test_max_tiles_limits_and_a_bbox_lifts_the_default(
    photo: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    from ocgnet_geo.locate import Locator

    raster = _sparse_raster(tmp_path / "r.tif", 2000)  # 121 tiles of 256 px
    code = main(_locate_args(photo, raster, light_weights, "--max-tiles", "10"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "more than the limit of 10;" in err, err
    assert main(_locate_args(photo, raster, light_weights, "--max-tiles", "0")) == 2
    from ocgnet_geo.errors import TooManyTilesError
    from ocgnet_geo.locate.limits import DEFAULT_MAX_TILES, tile_limit

    locator = Locator.from_weights(light_weights)
    with pytest.raises(TooManyTilesError):
        locator.locate(photo, (5, 5), raster, max_tiles=3)
    assert tile_limit(None, None) == DEFAULT_MAX_TILES and tile_limit((0, 0, 1, 1), None) is None


def test_a_one_pixel_raster_is_refused_not_answered(
    photo: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    import numpy as np
    from affine import Affine

    from tests.geo.rasters import UTM_ORIGIN, write_raster

    raster = write_raster(
        tmp_path / "one.tif",
        "EPSG:32632",
        Affine(0.5, 0, UTM_ORIGIN[0], 0, -0.5, UTM_ORIGIN[1]),
        1,
        1,
        data=np.full((3, 1, 1), 100, np.uint8),
    )
    code = main(_locate_args(photo, raster, light_weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "too small to search" in err, err
