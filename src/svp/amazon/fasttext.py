"""``python -m svp.amazon.fasttext ...``: the `fasttext` command (stand-alone fastText selection) as a script."""
import sys

from svp.amazon import DOMAIN
from svp.cli import main

if __name__ == "__main__":
    sys.exit(main(["fasttext", *sys.argv[1:]], domain=DOMAIN))
