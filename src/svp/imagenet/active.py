"""``python -m svp.imagenet.active ...``: the original's stand-alone active script."""
import sys

from svp.imagenet import DOMAIN
from svp.cli import main

if __name__ == "__main__":
    sys.exit(main(["active", *sys.argv[1:]], domain=DOMAIN))
