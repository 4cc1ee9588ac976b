"""``python -m svp.amazon.coreset ...``: the original's stand-alone coreset script."""
import sys

from svp.amazon import DOMAIN
from svp.cli import main

if __name__ == "__main__":
    sys.exit(main(["coreset", *sys.argv[1:]], domain=DOMAIN))
