"""``python -m simclip``: the command line."""

import sys

from simclip.cli import main

sys.exit(main())
