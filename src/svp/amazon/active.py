"""``python -m svp.amazon.active ...``: the original's stand-alone active script."""
import sys

from svp.amazon import DOMAIN
from svp.cli import main

if __name__ == "__main__":
    sys.exit(main(["active", *sys.argv[1:]], domain=DOMAIN))
