"""The options of the selecting workflows (active, coreset, query), beyond run, data and model.

Selection options set the config's ``selection`` section (see
:class:`svp.config.SelectionOptions`); the others fields of the workflow's
config itself. Each workflow record (:mod:`svp.workflows.registry`) names
the ones it takes.
"""
from __future__ import annotations

from svp import config as cfg
from svp.options import Option, flag_option

METHOD = Option("selection", "method", ("--selection-method",),
                "how the proxy chooses examples (see `svp list methods`)")
PRECOMPUTED = Option("workflow", "precomputed_selection", ("--precomputed-selection",),
                     "replay the index files of an earlier run (or a plain index file) into target training")
TRAIN_TARGET = flag_option("workflow", "train_target", ("--train-target",), "train the target on the selected data")
PROXY_DATASET = Option("workflow", "proxy_dataset", ("--proxy-dataset",), "the proxy's own view of the same "
                       "examples, row i for example i: a .npz of x (and x_test), such as embeddings for "
                       "--proxy-arch linear-head", {"metavar": "PATH"})
SAMPLING = (
    Option("selection", "sampling", ("--sampling",), "a scored method's top-k, or a seeded draw by score (Kirsch "
           "et al. 2023): power draws in proportion to score ** beta (scores >= 0), softmax to exp(beta score)",
           {"choices": list(cfg.SAMPLINGS)}),
    Option("selection", "sampling_beta", ("--sampling-beta",), "inverse temperature of --sampling power/softmax",
           {"type": float, "metavar": "BETA"}),
    Option("selection", "mc_samples", ("--mc-samples",), "bald: Monte-Carlo dropout samples per example",
           {"type": int, "metavar": "T"}),
    Option("selection", "mc_dropout", ("--mc-dropout",), "bald: dropout probability put on the classifier's input "
           "of a proxy without dropout layers, in training and scoring", {"type": float, "metavar": "P"}),
)
CANDIDATES = Option("selection", "candidates", ("--candidates",), "each round, score only a seeded random sample "
                    "of N unlabeled examples (default: all of them)", {"type": int, "metavar": "N"})
SELECTION = (METHOD, PRECOMPUTED, TRAIN_TARGET, PROXY_DATASET, *SAMPLING)

ACTIVE = SELECTION + (
    Option("workflow", "initial_subset", ("--initial-subset",), "size of the random first labeled set",
           {"type": int}),
    Option("workflow", "rounds", ("--round", "-r"), "examples labeled in one round; repeat for more rounds",
           {"type": int, "action": "append"}),
    Option("workflow", "eval_target_at", ("--eval-target-at",),
           "train the target only at these labeled-set sizes; repeatable (default: all)",
           {"type": int, "action": "append"}),
    CANDIDATES,
)

CORESET = SELECTION + (
    Option("workflow", "subset", ("--subset",), "examples to keep", {"type": int}),
    Option("selection", "keep", ("--keep",), "scored methods: keep the highest scores (hardest), the lowest "
           "(easiest), or by the size of what is kept (auto: easy when it is scarce, Sorscher et al. 2022) "
           "(default: auto for data of your own, hardest for the paper's datasets)", {"choices": list(cfg.KEEPS)}),
    flag_option("selection", "stratified", ("--stratified",), "scored methods: sample evenly across the scores' "
                "strata after a hard cutoff (CCS, Zheng et al. 2023) instead of the top scores (default: on for "
                "data of your own, off for the paper's datasets)"),
    Option("selection", "hard_cutoff", ("--hard-cutoff",), "with --stratified: the fraction of the pool dropped "
           "first from the end --keep does not favour (default: CCS's rule by the fraction pruned)",
           {"type": float, "metavar": "BETA"}),
    flag_option("selection", "class_balance", ("--class-balance",), "scored methods: each class keeps its share "
                "of --subset"),
    Option("selection", "score_epoch", ("--score-epoch",), "el2n, grand: epochs the scoring proxies train "
           "(default: 10% of the proxy's epochs)", {"type": int, "metavar": "E"}),
    Option("selection", "score_seeds", ("--score-seeds",), "el2n, grand: proxies (seeds) the scores are averaged "
           "over", {"type": int, "metavar": "K"}),
)

QUERY = (
    METHOD, PROXY_DATASET, *SAMPLING, CANDIDATES,
    Option("workflow", "budget", ("--budget",), "examples each question asks a person to label", {"type": int}),
    Option("workflow", "initial_subset", ("--initial-subset",), "the first question's size when nothing is "
           "labeled yet (default: --budget)", {"type": int}),
    Option("workflow", "cold_start", ("--cold-start",), "how the first question is chosen when nothing is labeled "
           "yet: at random, or by k-centers, typiclust or probcover on features (--proxy-dataset's, else an untrained "
           "proxy's)", {"choices": list(cfg.COLD_STARTS)}),
    Option("workflow", "labels", ("--labels",), "with --resume: a person's answers to the last question (a CSV "
           "of index or id, and label: a class name or number; or Label Studio's JSON export)", {"metavar": "FILE"}),
    Option("workflow", "format", ("--format",), "also write each question as Label Studio tasks (with the "
           "proxy's prediction as a pre-annotation) and its labeling interface", {"choices": list(cfg.QUERY_FORMATS)}),
    flag_option("workflow", "train_target", ("--train-target",), "also train the target on every label so far"),
)
