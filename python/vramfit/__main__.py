"""``python -m vramfit ARGS``: the ``vramfit`` command line, the same Rust code."""

import sys

from . import main

sys.exit(main())
