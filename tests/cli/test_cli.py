"""The command line: the original commands parse, bad input exits 2 before training."""
from __future__ import annotations

import pytest

import svp.cifar
from svp.cli import GENERIC, Domain, build_config, build_parser, main
from svp.config import ActiveConfig, CoresetConfig, DataConfig, TrainConfig
from svp.selection import METHODS

SEED_COMMAND = ("--dataset cifar10 --num-workers 4 --proxy-arch preact20 --arch preact164 "
                "--selection-method least_confidence --initial-subset 1000 --round 4000 --round 5000 "
                "--round 5000 --round 5000 --round 5000 --eval-target-at 25000").split()


def parse(argv, domain=svp.cifar.DOMAIN):
    return build_config(build_parser(domain).parse_args(argv), domain)


def test_seed_command_parses_to_the_original_defaults():
    config = parse(["active", *SEED_COMMAND])
    assert isinstance(config, ActiveConfig)
    assert config.data.dataset == "cifar10" and config.data.num_workers == 4
    assert config.proxy.arch == "preact20" and config.target.arch == "preact164"
    assert config.initial_subset == 1000 and config.rounds == (4000, 5000, 5000, 5000, 5000)
    assert config.eval_target_at == (25000,)
    assert config.budgets == [1000, 5000, 10000, 15000, 20000, 25000]
    for model in (config.target, config.proxy):
        assert model.epochs == (1, 90, 45, 45)
        assert model.learning_rates == (0.01, 0.1, 0.01, 0.001)
        assert (model.momentum, model.weight_decay, model.batch_size) == (0.9, 5e-4, 128)


def test_proxy_options_default_to_target_and_override_alone():
    config = parse(["active", "--arch", "resnet20", "--batch-size", "64", "--proxy-epochs", "1",
                    "--proxy-learning-rate", "0.1", "--proxy-epochs", "2", "--proxy-learning-rate", "0.01"])
    assert config.proxy.arch == "resnet20" and config.proxy.batch_size == 64
    assert config.proxy.epochs == (1, 2) and config.proxy.learning_rates == (0.1, 0.01)
    assert config.target.epochs == (1, 90, 45, 45)
    assert not config.proxy.trains_like(config.target)


def test_same_proxy_and_target_train_alike():
    config = parse(["active", "--arch", "resnet20", "--proxy-eval-batch-size", "512"])
    assert config.proxy.trains_like(config.target)


def _exit_message(capsys, argv, domain=svp.cifar.DOMAIN) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, domain=domain)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything gets as far as training."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr("svp.learners.torch.fit", refuse)


def test_unknown_dataset(capsys, tmp_path):
    err = _exit_message(capsys, ["active", "--dataset", "mnist", "--run-dir", str(tmp_path)])
    assert "invalid choice: 'mnist'" in err


def test_unknown_arch(capsys, tmp_path, cifar_dir, no_training):
    err = _exit_message(capsys, ["active", "--arch", "resnet7", "--datasets-dir", str(cifar_dir),
                                 "--run-dir", str(tmp_path)])
    assert "unknown --arch 'resnet7'" in err and "preact164" in err
    assert not any(tmp_path.iterdir()), "a run directory was created for a refused command"


def test_unknown_proxy_arch(capsys, tmp_path, cifar_dir, no_training):
    err = _exit_message(capsys, ["active", "--proxy-arch", "tiny", "--datasets-dir", str(cifar_dir),
                                 "--run-dir", str(tmp_path)])
    assert "unknown --proxy-arch 'tiny'" in err


def test_unknown_method(capsys, tmp_path):
    # refused before the (missing) data is looked for, and before any run directory exists
    err = _exit_message(capsys, ["active", "--selection-method", "oracle", "--run-dir", str(tmp_path / "runs"),
                                 "--datasets-dir", str(tmp_path / "missing")])
    assert "unknown --selection-method 'oracle'; choose one of: least_confidence, entropy, margin" in err
    err = _exit_message(capsys, ["active", "--selection-method", "forgetting_events", "--run-dir",
                                 str(tmp_path / "runs"), "--datasets-dir", str(tmp_path / "missing")])
    assert "unknown --selection-method 'forgetting_events'" in err  # a core-set method only
    assert not (tmp_path / "runs").exists()


def test_budget_larger_than_pool(capsys, tmp_path, cifar_dir, no_training):
    err = _exit_message(capsys, ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path),
                                 "--validation", "50", "--initial-subset", "300", "--round", "60"])
    assert "360 exceeds the 350 examples of the pool" in err
    assert not any(tmp_path.iterdir())


def test_mismatched_epochs_and_learning_rates(capsys, tmp_path):
    err = _exit_message(capsys, ["active", "--epochs", "1", "--epochs", "2", "--learning-rate", "0.1",
                                 "--run-dir", str(tmp_path)])
    assert "2 --epochs but 1 --learning-rate" in err


def test_mismatched_proxy_schedule(capsys, tmp_path):
    err = _exit_message(capsys, ["active", "--proxy-epochs", "1", "--run-dir", str(tmp_path)])
    assert "1 --proxy-epochs but 4 --proxy-learning-rate" in err


def test_missing_dataset_directory(capsys, tmp_path, no_training):
    missing = tmp_path / "nowhere"
    err = _exit_message(capsys, ["active", "--datasets-dir", str(missing), "--run-dir", str(tmp_path)])
    assert f"--datasets-dir {str(missing)!r} does not exist" in err


@pytest.mark.parametrize("rounds, bad", [(["0"], "0"), (["10", "-5"], "-5")])
def test_non_positive_rounds(capsys, tmp_path, cifar_dir, no_training, rounds, bad):
    argv = ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path), "--initial-subset", "10"]
    for size in rounds:
        argv += ["--round", size]
    err = _exit_message(capsys, argv)
    assert f"--round {bad} is out of range ; give an integer >= 1" in err


def test_eval_target_at_must_be_a_labeled_size(capsys, tmp_path, cifar_dir, no_training):
    err = _exit_message(capsys, ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(tmp_path),
                                 "--initial-subset", "10", "--round", "10", "--eval-target-at", "15"])
    assert "--eval-target-at 15 is not a labeled-set size (10, 20)" in err


@pytest.mark.parametrize("command, cls", [("train", TrainConfig), ("active", ActiveConfig),
                                          ("coreset", CoresetConfig)])
def test_defaults_come_from_the_config_classes(command, cls):
    # the generic `svp` overrides nothing: every default on the command line is config.py's
    assert parse([command], GENERIC) == cls()


def test_a_domain_overrides_defaults_as_data():
    config = parse(["active"])  # svp.cifar: dataset cifar10, the rest from config.py
    assert config == ActiveConfig(data=DataConfig(dataset="cifar10"))
    with pytest.raises(ValueError, match="unknown config fields learning_rate"):
        Domain("x", defaults={"learning_rate": 0.1})  # the field is learning_rates


def test_importing_a_domain_changes_no_other_module():
    import svp.amazon  # noqa: F401  (declares a `fasttext` command of its own)

    commands = build_parser(GENERIC)._subparsers._group_actions[0].choices
    assert "fasttext" not in commands and {"train", "active", "coreset", "report", "list"} <= set(commands)
    assert "fasttext" in build_parser(svp.amazon.DOMAIN)._subparsers._group_actions[0].choices


def test_list_names_what_each_registry_holds(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["architectures", "datasets", "selection methods"]
    assert "preact20" in lines[0] and "(and fasttext as a proxy)" in lines[0]
    assert lines[2] == "selection methods: " + ", ".join(METHODS)
    assert main(["list", "datasets"]) == 0
    assert capsys.readouterr().out.startswith("datasets: amazon_review_full, amazon_review_polarity, cifar10")
    assert main(["models"]) == 0
    assert capsys.readouterr().out.startswith("architectures: ")


@pytest.mark.parametrize("command", ["active", "coreset"])
def test_short_flags_set_the_proxy_as_in_the_original(command, caplog):
    # the original declared -a/-o for the target, then again for the proxy: the later one wins
    config = parse([command, "-a", "resnet20", "-o", "adam", "--arch", "preact56"])
    assert (config.proxy.arch, config.proxy.optimizer) == ("resnet20", "adam")
    assert (config.target.arch, config.target.optimizer) == ("preact56", "sgd")
    train = parse(["train", "-a", "resnet20", "-o", "adam"])
    assert (train.model.arch, train.model.optimizer) == ("resnet20", "adam")  # no proxy there: the model's


def test_short_flags_are_announced(caplog, tmp_path, capsys):
    with pytest.raises(SystemExit):  # the warning comes before anything runs
        main(["active", "-a", "mlp", "--run-dir", str(tmp_path / "afile"), "--round", "0"], domain=svp.cifar.DOMAIN)
    assert "-a sets --proxy-arch here, as in the original implementation's active command" in caplog.text
    assert "-a sets it, as in the original's commands" in " ".join(
        build_parser(svp.cifar.DOMAIN)._subparsers._group_actions[0].choices["active"].format_help().split())


def test_the_originals_entry_points_keep_its_defaults():
    coreset = parse(["coreset"])  # python -m svp.cifar coreset: 10,000 by least confidence, as the original
    assert (coreset.subset, coreset.selection.method) == (10_000, "least_confidence")
    generic = parse(["coreset"], GENERIC)  # svp's own: 25,000 by forgetting events
    assert (generic.subset, generic.selection.method) == (25_000, "forgetting_events")
    config = parse(["active", "-b", "64", "--proxy-batch-size", "32"])
    # the evaluation batch size follows --batch-size, and the proxy's the target's (the original's override_option)
    assert (config.target.eval_batch_size, config.proxy.eval_batch_size) == (64, 64)
    assert (config.initial_subset, config.rounds, config.eval_target_at) == (1000, (4000, 5000, 5000, 5000, 5000), ())


def test_the_proxy_takes_the_targets_starting_weights_only_where_they_fit_and_says_so(caplog):
    argv = ["active", "--arch", "preact20", "--weights", "w.pt"]
    with caplog.at_level("INFO", logger="svp.cli.parse"):
        same = build_config(build_parser(GENERIC).parse_args(argv), GENERIC)
        other = build_config(build_parser(GENERIC).parse_args([*argv, "--proxy-arch", "small-cnn"]), GENERIC)
        pretrained = build_config(build_parser(GENERIC).parse_args(
            ["active", "--arch", "imagenet-resnet50", "--pretrained", "--proxy-arch", "imagenet-resnet18"]), GENERIC)
        mixed = build_config(build_parser(GENERIC).parse_args(
            ["active", "--arch", "imagenet-resnet50", "--pretrained", "--proxy-weights", "p.pt"]), GENERIC)
    assert same.proxy.weights == "w.pt"  # the same architecture: the same start
    assert (other.proxy.weights, other.proxy.pretrained) == (None, False)  # preact20's weights cannot start it
    assert pretrained.proxy.pretrained  # published weights exist for it too
    assert (mixed.proxy.weights, mixed.proxy.pretrained) == ("p.pt", False)  # its own start, not half of each
    said = [record.getMessage() for record in caplog.records]
    assert said[0] == ("the proxy preact20 starts from --weights w.pt too, as the target does ; give "
                       "--proxy-weights PATH (or --no-proxy-pretrained) to start it otherwise")
    assert said[1] == ("the proxy small-cnn starts from random weights: --weights w.pt is for the target's "
                       "preact20 ; give --proxy-weights PATH to start the proxy from weights of its own")
    assert said[2].startswith("the proxy imagenet-resnet18 starts from --pretrained too")
    assert len(said) == 3
