"""Progress: bars on every loop a person waits on, none with --quiet; a log line per phase."""
from __future__ import annotations

import logging
import re
import sys

import svp.cifar
from svp.cli import main


def argv(cifar_dir, run_root) -> list[str]:
    return ["active", "--datasets-dir", str(cifar_dir), "--run-dir", str(run_root), "--arch", "logistic",
            "--proxy-arch", "mlp", "--selection-method", "kcenters", "--initial-subset", "20", "--round", "10",
            "--validation", "20", "--no-cuda", "--seed", "1", "--epochs", "1", "--learning-rate", "0.01",
            "--eval-target-at", "20", "--eval-target-at", "30"]


def pretend_terminal(monkeypatch) -> None:
    """Make the captured stderr say it is a terminal, so tqdm draws its bars there.

    Called in the test body: pytest swaps the captured stream after fixtures run.
    """
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def test_quiet_shows_no_bars_and_no_info_lines(cifar_dir, tmp_path, capsys, caplog, monkeypatch):
    pretend_terminal(monkeypatch)
    assert main([*argv(cifar_dir, tmp_path), "--quiet"], domain=svp.cifar.DOMAIN) == 0
    # --quiet: warnings only (this tiny run's models are no better than chance, and say so)
    assert capsys.readouterr().err == ""  # no bar (the log goes to pytest's handler here)
    logged = [r for r in caplog.records if r.name.startswith("svp")]
    assert logged and all(r.levelname == "WARNING" for r in logged)  # this tiny run's models are no better than chance


def test_bars_and_phase_lines(cifar_dir, tmp_path, capsys, caplog, monkeypatch):
    pretend_terminal(monkeypatch)
    caplog.set_level(logging.INFO, logger="svp")
    assert main(argv(cifar_dir, tmp_path), domain=svp.cifar.DOMAIN) == 0
    err = capsys.readouterr().err
    for desc in ("proxy mlp on 20", "target logistic on 20", "proxy mlp on 30", "target logistic on 30",
                 "epoch 1", "dev", "test", "scoring pool", "k-centers"):
        assert f"{desc}: " in err, desc
    phases = [re.sub(r"\d+\.\d+", "#", r.getMessage()) for r in caplog.records if r.levelname == "INFO"
              and r.name in ("svp.workflows.steps", "svp.workflows.context")]  # the steps, and the log sink's lines
    assert phases == [
        "proxy training on 20 examples", "proxy on 20 examples: test accuracy #, # s training",
        "target training on 20 examples", "target on 20 examples: test accuracy #, # s training",
        "selecting 10 of 360 examples by kcenters", "selected 10 by kcenters in # s (# inference + # ranking)",
        "proxy training on 30 examples", "proxy on 30 examples: test accuracy #, # s training",
        "target training on 30 examples", "target on 30 examples: test accuracy #, # s training",
    ]
