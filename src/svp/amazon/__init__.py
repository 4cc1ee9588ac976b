"""Amazon Review Polarity and Full with the original implementation's defaults.

``python -m svp.amazon {train,active,coreset,fasttext} ...`` and
``python -m svp.amazon.active ...`` parse the original commands. The
defaults are the original's: VDCNN9 with max-pooling, SGD (momentum 0.9,
weight decay 1e-4) on batches of 128 for 15 epochs, the learning rate
halved every 3 epochs from 0.01; active learning from 72,000 random
reviews in rounds of 288,000 then 360,000; core-sets of 1,800,000.
``--proxy-arch fasttext`` (options ``--dim``, ``--ngrams``, ``--min-count``,
``--bucket``, ``--threads``) selects with fastText, and the ``fasttext``
command is the original's stand-alone fastText selection (see
:mod:`svp.amazon.fasttext_cli`).
"""
from svp.amazon import fasttext_cli
from svp.cli import Command, Domain, OptionGroup
from svp.learners.fasttext import FASTTEXT_ARCH, FastTextOptions

AMAZON_DEFAULTS = {
    "dataset": "amazon_review_polarity", "arch": "vdcnn9-maxpool",
    "epochs": (3, 3, 3, 3, 3), "learning_rates": (0.01, 0.005, 0.0025, 0.00125, 0.000625),
    "weight_decay": 1e-4,
    "method": "least_confidence",  # for active learning and core-sets alike
    "initial_subset": 72_000, "rounds": (288_000, 360_000, 360_000, 360_000, 360_000),
    "subset": 1_800_000,
}

DOMAIN = Domain(
    prog="python -m svp.amazon",
    defaults=AMAZON_DEFAULTS,
    datasets=None,  # Amazon's reviews by default; any other dataset or table of texts of one's own too
    commands=("train", "active", "coreset", fasttext_cli.COMMAND, "report", "list"),
    extra_commands={fasttext_cli.COMMAND: Command(fasttext_cli.add_parser, fasttext_cli.build_config)},
    proxy_options=OptionGroup("fastText proxy (with --proxy-arch fasttext; --proxy-epochs and "
                              "--proxy-learning-rate given once set its epochs and learning rate)",
                              fasttext_cli.FASTTEXT_OPTIONS, FastTextOptions),
    proxy_builders={FASTTEXT_ARCH: fasttext_cli.fasttext_proxy},
)
