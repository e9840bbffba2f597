"""``python -m havterm.sim``: the same as ``havterm sim``."""

import sys

from havterm.sim.cli import main

sys.exit(main())
