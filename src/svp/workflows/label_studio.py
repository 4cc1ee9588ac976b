"""Label Studio's formats: a question as tasks to import, and the project's JSON export read back.

Following Label Studio's documented task format: each task's ``data`` holds
what the person sees (``$text``, or ``$image`` as a local-files URL) and
``svp_index``, the example's index, by which the export maps back; the
proxy's guess is a pre-annotation (``predictions``, with its confidence as
``score``). The labeling interface (a single-choice classification over the
dataset's classes) is written beside the tasks as ``label-studio.xml``.

The export is read in Label Studio's JSON format (tasks with their
``annotations``: the last one not cancelled counts) or in JSON-MIN (one flat
object per task, the choice under the control's name).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from svp import rundir
from svp.data import Data
from svp.data.labels import class_names
from svp.errors import UsageError

CONTROL, OBJECT = "label", "item"  # the names of the interface's choices and of what they label
INDEX_KEY = "svp_index"
LOCAL_FILES = "/data/local-files/?d="  # Label Studio's URL of a file under LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT


def write_tasks(run: Path, round_: int, rows: Sequence[dict], data: Data) -> None:
    """``query_<round>.label-studio.json`` (one task per example asked) and the labeling interface."""
    shows = _shows(data)
    tasks = [_task(row, value, shows, round_) for row, value in zip(rows, _values(rows, data, shows))]
    rundir.atomic_write(rundir.query_file(run, round_, "tasks"), json.dumps(tasks, indent=1) + "\n")
    rundir.atomic_write(run / rundir.LABEL_CONFIG, label_config(class_names(data), shows))


def _shows(data: Data) -> str:
    """What a task shows: an image file, else text (the example's text, or its id)."""
    return "image" if data.modality == "image" and getattr(data, "ids", None) is not None else "text"


def _values(rows: Sequence[dict], data: Data, shows: str) -> list[str]:
    """What each task shows: the image's URL, the whole text (read in one call), or the id."""
    if shows == "image":
        return [LOCAL_FILES + quote(row["id"]) for row in rows]
    texts = getattr(data, "texts", None)
    if texts is None:
        return [row["id"] for row in rows]
    return list(texts("train", [int(row["index"]) for row in rows]))


def _task(row: dict, value: str, shows: str, round_: int) -> dict:
    task: dict[str, Any] = {"data": {shows: value, INDEX_KEY: int(row["index"]), "svp_id": row["id"],
                                     "svp_rank": row["rank"]}}
    if row["predicted"] != "":
        task["predictions"] = [{
            "model_version": f"svp proxy, question {round_}",
            "score": row["confidence"],
            "result": [{"from_name": CONTROL, "to_name": OBJECT, "type": "choices",
                        "value": {"choices": [row["predicted"]]}}],
        }]
    return task


def label_config(names: Sequence[str], shows: str) -> str:
    """The labeling interface: what the task shows, and one choice per class."""
    tag = "Image" if shows == "image" else "Text"
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in names)
    return (f'<View>\n  <{tag} name="{OBJECT}" value="${shows}"/>\n'
            f'  <Choices name="{CONTROL}" toName="{OBJECT}" choice="single-radio" showInline="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def read_export(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(where, "index", the example's index, the label chosen) of each annotated task of an export."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"--labels {path} is not JSON ({error}) ; give Label Studio's JSON export") from None
    if not isinstance(tasks, list):
        raise UsageError(f"--labels {path} holds a {type(tasks).__name__}, not a list of tasks ; give Label "
                         "Studio's JSON (or JSON-MIN) export of the project")
    for number, task in enumerate(tasks, start=1):
        where = f"{path} task {number}"
        if not isinstance(task, dict):
            raise UsageError(f"{where} is not an object ; give Label Studio's JSON export")
        fields = task.get("data", task)  # JSON keeps the task's data apart; JSON-MIN flattens it
        if not isinstance(fields, dict) or INDEX_KEY not in fields:
            raise UsageError(f"{where} has no {INDEX_KEY} ; export the project the tasks svp wrote were "
                             "imported into")
        label = _choice(task, where)
        if label is not None:
            yield where, "index", str(fields[INDEX_KEY]), label


def _choice(task: dict, where: str) -> str | None:
    """The class chosen for a task (None: not annotated yet, or every annotation cancelled)."""
    if "annotations" not in task:  # JSON-MIN: the control's choice under its name
        value = task.get(CONTROL)
        return value if isinstance(value, str) and value else None
    annotations = [a for a in task["annotations"] or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not annotations:
        return None
    for result in annotations[-1].get("result") or []:
        if not isinstance(result, dict):
            continue
        value = result.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if result.get("from_name") == CONTROL and isinstance(choices, list) and choices:
            return str(choices[0])
    raise UsageError(f"{where}: its annotation chooses no class ({CONTROL!r} choices) ; label it with the "
                     f"interface svp wrote ({rundir.LABEL_CONFIG})")
