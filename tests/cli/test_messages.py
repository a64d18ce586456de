"""The small things: one-line messages for argparse errors, refused pickles, folders given
as files, CSV encodings, sidecar configs, and the progress bar never glued to an error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ocgnet_geo.cli import main
from tests.cli.conftest import locate_args

_locate = locate_args


def test_argparse_errors_are_one_line_and_a_hint(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["locate", "--query", "x.jpg"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert caught.value.code == 2
    assert lines == [
        "ocgnet-geo locate: error: the following arguments are required: --raster, --click",
        "(see 'ocgnet-geo locate --help')",
    ]


def test_pickle_refusal_names_the_global_and_runs_nothing(
    photo: Path, utm_spot_raster: Path, tmp_path: Path, capsys
) -> None:
    import os

    import torch

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    weights = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "x": Evil()}, weights)
    code = main(_locate(photo, utm_spot_raster, weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and not marker.exists()
    assert err.endswith(f"it references the global {os.system.__module__}.system"), err


@pytest.mark.parametrize("what", ["--weights", "csv"])
def test_a_folder_where_a_file_is_expected_says_so(
    what: str, photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    if what == "csv":
        args = [
            "locate-batch",
            str(folder),
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--out",
            str(tmp_path / "r.gpkg"),
        ]
    else:
        args = _locate(photo, utm_spot_raster, folder)
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a folder" in err and "not found" not in err, err


def _csv(path: Path, photo: Path, encoding: str) -> Path:
    text = f"query,click_x,click_y,id\n{photo},120,80,café\n"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_latin1_csv_is_a_one_line_error_naming_the_byte(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    queries = _csv(tmp_path / "q.csv", photo, "latin-1")
    code = main(
        [
            "locate-batch",
            str(queries),
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--out",
            str(tmp_path / "r.gpkg"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "not UTF-8 text (byte 0xe9 on line 2)" in err, err


def test_a_utf16_csv_with_bom_is_decoded(
    photo: Path, utm_spot_raster: Path, light_weights: Path, tmp_path: Path, capsys
) -> None:
    queries = _csv(tmp_path / "q.csv", photo, "utf-16")
    out = tmp_path / "r.gpkg"
    code = main(
        [
            "locate-batch",
            str(queries),
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0 and out.is_file(), capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["located"] == 1


def test_a_sidecar_config_with_wrong_types_is_one_line(
    light_weights: Path, photo: Path, utm_spot_raster: Path, tmp_path: Path, capsys
) -> None:
    import shutil

    weights = Path(shutil.copy(light_weights, tmp_path / "w.safetensors"))
    side = json.loads(light_weights.with_suffix(".json").read_text())
    (tmp_path / "w.json").write_text(json.dumps({**side, "anchors": 5}))
    code = main(_locate(photo, utm_spot_raster, weights))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "w.json: anchors 5: expected 9 [w, h] pairs" in err, (
        err
    )


def test_the_progress_bar_is_closed_before_any_message(
    photo: Path,
    utm_spot_raster: Path,
    light_weights: Path,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    import tqdm

    class EagerTqdm(tqdm.tqdm):  # shows at once (the real bar waits 1 s)
        def __init__(self, *args, **kwargs):
            kwargs.update(delay=0, mininterval=0)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", EagerTqdm)
    queries = tmp_path / "q.csv"
    with queries.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["query", "click_x", "click_y"])
        writer.writerows([["missing1.jpg", 1, 1], ["missing2.jpg", 1, 1]])
    code = main(
        [
            "locate-batch",
            str(queries),
            "--raster",
            str(utm_spot_raster),
            "--weights",
            str(light_weights),
            "--out",
            str(tmp_path / "r.gpkg"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    visible = [line.split("\r")[-1] for line in err.split("\n")]  # what a terminal shows
    messages = [v for v in visible if "ocgnet-geo" in v]
    assert len(messages) == 3 and all(v.startswith("ocgnet-geo") for v in messages), visible
    assert visible[-2].startswith("ocgnet-geo: error:"), visible
