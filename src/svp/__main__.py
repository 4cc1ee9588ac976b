"""``python -m svp``: the svp command line."""
import sys

from svp.cli import main

sys.exit(main())
