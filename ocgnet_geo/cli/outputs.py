"""All-or-nothing outputs of one command.

A command that writes several files (``locate --out r.gpkg --overlay o.png``) writes each to
a temp file beside its final name, then renames them all at the end; if anything fails
before, no output appears, and a rename that fails removes the outputs already renamed.

Temp files are named ``.<stem>.<pid>.<n>.tmp<suffix>``; those of a command that was killed
(SIGKILL cannot be caught) are removed by the next command that writes the same output.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ocgnet_geo.stale_files import remove_stale


class StagedOutputs:
    """Temp paths for the outputs of one command (see module docstring)."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temp, final)

    def path(self, final: str | os.PathLike) -> Path:
        """The temp path to write ``final`` to (same folder, same extension, hidden)."""
        out = Path(final)
        pattern = f".{glob.escape(out.stem)}.*.tmp{glob.escape(out.suffix)}"
        remove_stale(out.parent, pattern, _writer_pid)
        tmp = out.with_name(f".{out.stem}.{os.getpid()}.{len(self._staged)}.tmp{out.suffix}")
        self._staged.append((tmp, out))
        return tmp

    def commit(self) -> None:
        """Rename every temp file to its final name; on a failure undo the renames done."""
        done: list[Path] = []
        try:
            for tmp, final in self._staged:
                os.replace(tmp, final)
                done.append(final)
        except BaseException:
            for final in done:
                final.unlink(missing_ok=True)
            raise
        finally:
            self.discard()

    def discard(self) -> None:
        """Delete the temp files that are still there."""
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged.clear()


@contextmanager
def staged_outputs() -> Iterator[StagedOutputs]:
    """``with staged_outputs() as staged: write(staged.path(out))``: committed on success,
    discarded on any exception (KeyboardInterrupt included)."""
    staged = StagedOutputs()
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise
    staged.commit()


def _writer_pid(name: str) -> str:
    """The process id in a temp name ``.<stem>.<pid>.<n>.tmp<suffix>`` (the stem may hold
    dots, so it is counted from the end)."""
    parts = name.split(".")
    return parts[-4] if len(parts) >= 5 else ""
