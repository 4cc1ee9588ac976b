"""One round trip through a real Label Studio server: svp asks, a team labels in Label Studio, svp goes on.

Needs the label-studio extra (``pip install -e ".[label-studio]"``), or
``SVP_LABEL_STUDIO=/path/to/bin/label-studio`` naming an installation in
another environment (its Python, beside it, runs the SDK client). Skipped
otherwise; run with ``pytest -m label_studio``.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from svp import rundir
from svp.cli import main
from run_helpers import only_run, rows

CLIENT = Path(__file__).with_name("label_studio_client.py")
EMAIL, PASSWORD = "svp@example.com", "svp-round-trip"
REVIEWS = [("great sound, would buy again", "positive"), ("broke in a week", "negative"),
           ("love it", "positive"), ("terrible support", "negative")]

pytestmark = pytest.mark.label_studio


def label_studio() -> tuple[str, str]:
    """The label-studio executable and the Python that has its SDK, or a skip."""
    binary = os.environ.get("SVP_LABEL_STUDIO") or shutil.which("label-studio")
    if not binary:
        pytest.skip("Label Studio is not installed (pip install -e '.[label-studio]', or set SVP_LABEL_STUDIO)")
    beside = Path(binary).with_name("python")
    return binary, str(beside) if beside.exists() else sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    binary, python = label_studio()
    port = free_port()
    data = tmp_path / "label-studio"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data)}
    process = subprocess.Popen([binary, "start", "--no-browser", "--port", str(port), "--data-dir", str(data),
                                "--username", EMAIL, "--password", PASSWORD], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # its first start migrates a database
        while True:
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=5).status == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Label Studio did not start") from None
                time.sleep(2)
        yield url, python
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_question_labeled_in_label_studio_comes_back(server, tmp_path):
    url, python = server
    table = tmp_path / "reviews.csv"
    table.write_text("text,label\n" + "".join(f'"{text} #{i}",{label if i < 8 else ""}\n'
                                               for i, (text, label) in enumerate(REVIEWS * 10)))
    model = ["--arch", "vdcnn9-maxpool-lite", "--epochs", "1", "--learning-rate", "0.01", "--batch-size", "8", "--no-cuda",
             "--quiet", "--seed", "2"]
    assert main(["query", "--dataset", str(table), "--run-dir", str(tmp_path / "runs"), *model, "--budget", "6",
                 "--format", "label-studio"]) == 0
    run = only_run(tmp_path / "runs")
    asked = rundir.load_index(run / "query_1.index").tolist()
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({str(i): REVIEWS[i % 4][1] for i in asked}))
    export = tmp_path / "export.json"
    subprocess.run([python, str(CLIENT), url, EMAIL, PASSWORD, str(run / rundir.LABEL_CONFIG),
                    str(rundir.query_file(run, 1, "tasks")), str(truth), str(export)],
                   check=True, timeout=300)
    assert main(["query", "--resume", str(run), "--labels", str(export), "--no-cuda", "--quiet"]) == 0
    labels = rows(run / "labels.csv")
    # the client annotates every task but the last: five answers, in the order asked
    assert [(int(r["index"]), r["label"], r["round"]) for r in labels] == \
           [(i, REVIEWS[i % 4][1], "1") for i in asked[:5]]
    assert rundir.query_rounds(run) == [1, 2]
