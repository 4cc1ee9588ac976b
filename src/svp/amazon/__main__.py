"""``python -m svp.amazon COMMAND ...``"""
import sys

from svp.amazon import DOMAIN
from svp.cli import main

sys.exit(main(domain=DOMAIN))
