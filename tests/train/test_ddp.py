"""A 2-process torchrun run on CPU (gloo) for a few steps, then resume."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_cpu(tiny_set, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    cli = Path(sys.executable).with_name("ocgnet-geo")
    if not torchrun.exists() or not cli.exists():
        pytest.skip("torchrun / ocgnet-geo entry point not installed in this environment")
    out = tmp_path / "run"
    args = [
        str(torchrun),
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        str(cli),
        "train",
        "lite-cpu",
        "--data",
        str(tiny_set),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--max-steps",
        "2",
        "--workers",
        "0",
        "--no-progress",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "lite-cpu"\ntile_size = 128\neval_batch_size = 4\n')
    args[5] = str(cfg)
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["steps"] == 2 and "train_loss" in rows[0]
    assert (out / "checkpoint.pt").is_file()
    # resume for one more epoch on a single process
    from ocgnet_geo.cli import main

    assert (
        main(
            [
                "train",
                str(cfg),
                "--data",
                str(tiny_set),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--batch-size",
                "2",
                "--max-steps",
                "1",
                "--workers",
                "0",
                "--no-progress",
                "--device",
                "cpu",
                "--resume",
            ]
        )
        == 0
    )
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
