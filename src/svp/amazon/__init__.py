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
from svp import cli
from svp.amazon import fasttext_cli

AMAZON_DEFAULTS = {
    "dataset": "amazon_review_polarity", "datasets_dir": "./data", "arch": "vdcnn9-maxpool",
    "optimizer": "sgd", "epochs": [3, 3, 3, 3, 3], "learning_rate": [0.01, 0.005, 0.0025, 0.00125, 0.000625],
    "momentum": 0.9, "weight_decay": 1e-4,
    "batch_size": 128,  # the evaluation batch size follows it unless given
    "selection_method": "least_confidence",  # for active learning and core-sets alike
    "initial_subset": 72_000, "rounds": [288_000, 360_000, 360_000, 360_000, 360_000],
    "subset": 1_800_000,
}

DOMAIN = cli.Domain(
    prog="python -m svp.amazon",
    defaults=AMAZON_DEFAULTS,
    datasets=("amazon_review_polarity", "amazon_review_full"),
    commands=("train", "active", "coreset", "fasttext", "report"),
    fasttext=True,
)

cli.EXTRA_COMMANDS[fasttext_cli.COMMAND] = fasttext_cli.add_parser
cli.CONFIG_BUILDERS[fasttext_cli.COMMAND] = fasttext_cli.build_config
