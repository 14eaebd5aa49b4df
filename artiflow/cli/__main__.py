"""``python -m artiflow.cli``."""

import sys

from . import main

sys.exit(main())
