"""The ``ocgnet-geo`` command line (:mod:`.main`), its dataset/training/evaluation commands
(:mod:`.train`), the JSON-lines worker the QGIS plugin talks to (:mod:`.worker`) and the
bundled demo (:mod:`.demo`). ``python -m ocgnet_geo.cli`` runs the command line."""

from ocgnet_geo.cli.main import main

__all__ = ["main"]
