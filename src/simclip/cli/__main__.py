import sys

from simclip.cli import main

sys.exit(main())
