"""The README's "Your own data" examples run exactly as written, on files the test makes."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str, language: str) -> list[str]:
    """The ``language`` code blocks of the README section titled ``section``."""
    text = README.read_text().split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    x = (rng.integers(0, 60, (400, 12, 12, 3)) + 80 * y[:, None, None, None]).astype(np.uint8)
    np.savez(tmp_path / "images.npz", x=x[:300], y=y[:300], x_test=x[300:], y_test=y[300:])
    embed = x.reshape(400, -1, 3).mean(1).astype(np.float32)
    np.savez(tmp_path / "embeddings.npz", x=embed[:300], x_test=embed[300:])
    for split, rows in (("train", range(0, 80)), ("test", range(300, 320))):  # images of three sizes
        for i in rows:
            folder = tmp_path / "pets" / split / f"class{y[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).resize((24 + i % 3 * 8, 24)).save(folder / f"{i}.png")
    words = ["bad", "fine", "great"]
    reviews = ['"review","sentiment"'] + [f'"a {words[y[i]]} thing, #{i}","{y[i]}"' for i in range(60)]
    (tmp_path / "reviews.csv").write_text("\n".join(reviews) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVP_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_command_line_examples(workdir):
    svp = Path(sys.executable).parent / "svp"
    if not svp.exists() and shutil.which("svp") is None:
        pytest.skip("the svp command is not installed (pip install -e .)")
    env = {**os.environ, "PATH": f"{svp.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    (block,) = _blocks("Your own data", "bash")
    result = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((workdir / "runs").iterdir())) == 4


def test_the_python_example(workdir, capsys):
    from svp.data import DATASETS, MODALITIES
    from run_helpers import restored

    (block,) = _blocks("Your own data", "python")
    with restored(DATASETS, MODALITIES):
        exec(compile(block, "README.md", "exec"), {})
    run = Path(capsys.readouterr().out.strip())
    assert (workdir / run / "target.csv").is_file() and run.parent == Path("runs")
