"""``python -m svp.imagenet COMMAND ...``"""
import sys

from svp.imagenet import DOMAIN
from svp.cli import main

sys.exit(main(domain=DOMAIN))
