"""``python -m svp.amazon.train ...``: the original's stand-alone train script."""
import sys

from svp.amazon import DOMAIN
from svp.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], domain=DOMAIN))
