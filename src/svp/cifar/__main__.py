"""``python -m svp.cifar COMMAND ...``"""
import sys

from svp.cifar import DOMAIN
from svp.cli import main

sys.exit(main(domain=DOMAIN))
