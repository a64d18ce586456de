"""``python -m ocgnet_geo.cli``: the ``ocgnet-geo`` command line."""

import sys

from ocgnet_geo.cli.main import main

sys.exit(main())
