"""Label Studio's formats: a question as tasks to import, and the project's JSON export read back.

Following Label Studio's documented task format: each task's ``data`` holds
what the person sees (``$text``, or ``$image`` as a local-files URL) and
``svp_index``, the example's index, by which the export maps back; the
proxy's guess is a pre-annotation (``predictions``, with its confidence as
``score``). The labeling interface (a single-choice classification over the
dataset's classes) is written beside the tasks as ``label-studio.xml``.

The export is read in Label Studio's JSON format (tasks with their
``annotations``) or in JSON-MIN (one flat object per annotation, the choice
under the control's name). Every annotation not cancelled counts: annotators
who agree give their class, annotators who disagree are refused by name (a
person resolves it in Label Studio; svp does not pick a winner); their
choices are compared as :func:`~svp.data.labels.class_name` writes them
(without surrounding blanks, in Unicode NFC), so ``"chat "`` and ``"chat"``
agree.
Each choice must be exactly one class name: the interface svp writes is
single-choice, so several (a multiple-choice interface), none or a
non-string is refused.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from svp import rundir
from svp.data import Data
from svp.data.labels import class_name, class_names
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
        # JSON-MIN has one object per annotation: its annotator named, two that disagree are told apart
        by = [_annotator(task["annotator"])] if "annotations" not in task and "annotator" in task else []
        label = _choice(task, f"{where} ({', '.join([f'{INDEX_KEY} {fields[INDEX_KEY]}', *by])})")
        if label is not None:
            yield f"{where} ({by[0]})" if by else where, "index", str(fields[INDEX_KEY]), label


def _choice(task: dict, where: str) -> str | None:
    """The class chosen for a task (None: not annotated yet, or every annotation cancelled).

    Several annotations must agree: the last one winning would drop a person's answer without a word
    (as a CSV naming one example twice with two labels is refused).
    """
    if "annotations" not in task:  # JSON-MIN: the control's choice under its name
        value = task.get(CONTROL)
        return None if value is None or value == "" else _one_class(value, where)
    annotations = [a for a in task["annotations"] or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    chosen = [(_annotator(a.get("completed_by")), _annotation_choice(a, where)) for a in annotations]
    # names compared as class_name writes them (as a folder's, a table's or --class's): "chat " and "chat",
    # NFD and NFC agree; shown as written (repr: a blank shows)
    if len({class_name(label) for _, label in chosen}) > 1:
        said = ", ".join(f"{who} chose {label!r}" for who, label in chosen)
        raise UsageError(f"{where}: its annotators disagree ({said}) ; resolve the disagreement in Label Studio "
                         "(or keep one annotation), then export again")
    return class_name(chosen[0][1]) if chosen else None


def _annotation_choice(annotation: dict, where: str) -> str:
    """The class one annotation (of Label Studio's JSON export) chooses with svp's control."""
    who = annotation.get("completed_by")
    by = "" if who is None else f" by {_annotator(who)}"
    for result in annotation.get("result") or []:
        value = result.get("value") if isinstance(result, dict) else None
        if isinstance(value, dict) and result.get("from_name") == CONTROL and "choices" in value:
            return _one_class(value["choices"], f"{where}, its annotation{by}")
    raise UsageError(f"{where}: its annotation{by} chooses no class ({CONTROL!r} choices) ; label it with the "
                     f"interface svp wrote ({rundir.LABEL_CONFIG})")


def _one_class(value: Any, where: str) -> str:
    """The one class name in a choice: a string, ``{"choices": [name]}`` or ``[name]`` (Label Studio writes the
    last two for several choices); several, none or anything but a name is refused."""
    choices = value.get("choices") if isinstance(value, dict) else value
    choices = [choices] if isinstance(choices, str) else choices
    if isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], str) and choices[0].strip():
        return choices[0]
    what = (f"{len(choices)} choices" if isinstance(choices, list) and len(choices) > 1 else
            "no choice" if choices in ([], None, [""]) else "something other than a class name")
    raise UsageError(f"{where}: {CONTROL!r} holds {what} ({json.dumps(value)[:80]}) ; choose exactly one class "
                     f"per task, with the single-choice interface svp wrote ({rundir.LABEL_CONFIG}), then export "
                     "again")


def _annotator(who: Any) -> str:
    """Who made an annotation, as the export records it: a user id, or a user object (its email)."""
    if isinstance(who, dict):
        named = who.get("email") or who.get("username") or who.get("id")
        return f"annotator {named}" if named is not None else "an annotator"
    return "an unnamed annotator" if who is None or who == "" else f"annotator {who}"
