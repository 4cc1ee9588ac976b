"""Matching the data as it is now to a run's rows: by id, by content, copies by label, edits in place."""
from __future__ import annotations

import numpy as np

from svp.data.identity import Identity, compare, content_ids, grown

UNKNOWN = -1


def by_content(texts: list[str], labels: list[int]) -> Identity:
    """Data known by its content (a table without an id column): the "digest" of a text is the text here."""
    digests = [f"{t:0>16}" for t in texts]
    return Identity(content_ids(digests), digests, np.array(labels), ("a", "b"), by_content=True)


def by_id(ids: list[str], contents: list[str], labels: list[int]) -> Identity:
    return Identity(ids, [f"{c:0>16}" for c in contents], np.array(labels), ("a", "b"))


def test_rows_inserted_and_deleted_around_each_other():
    run = by_content(["A", "B", "C", "D"], [0, UNKNOWN, UNKNOWN, 1])
    changes = compare(run, by_content(["Y", "A", "D"], [UNKNOWN, 0, 1]))  # Y on top, B and C deleted
    assert changes.rows.tolist() == [1, -1, -1, 2, 0]  # Y is added, not C changed into it
    assert (changes.removed, changes.changed, changes.gained) == ([1, 2], [], 1)


def test_an_edited_text_in_its_place_is_changed():
    run = by_content(["A", "B", "C"], [0, UNKNOWN, 1])
    changes = compare(run, by_content(["A", "B2", "C"], [0, UNKNOWN, 1]))
    assert changes.rows.tolist() == [0, 1, 2] and changes.changed == [1] and not changes.removed


def test_copies_of_one_text_are_told_apart_by_their_labels():
    run = by_content(["A", "B"], [UNKNOWN, 0])
    changes = compare(run, by_content(["B", "A", "B"], [UNKNOWN, UNKNOWN, 0]))  # an unlabeled copy of B on top
    assert changes.rows.tolist() == [1, 2, 0]  # the labeled B keeps its row and label; the copy is new
    assert not changes.relabeled


def test_the_copy_the_run_relies_on_keeps_its_row():
    run = by_content(["A", "A"], [UNKNOWN, UNKNOWN])  # row 1 was answered by a person
    now = by_content(["A"], [UNKNOWN])  # one copy deleted
    assert compare(run, now).removed == [1]
    assert compare(run, now, first=[1]).removed == [0]  # the unused one is the one gone


def test_a_file_moved_and_a_new_one_under_its_old_name():
    run = by_id(["u/x.png", "u/y.png"], ["X", "Y"], [UNKNOWN, UNKNOWN])
    now = by_id(["t/cat/x.png", "u/x.png", "u/y.png"], ["X", "N", "Y"], [0, UNKNOWN, UNKNOWN])
    changes = compare(run, now)
    assert changes.rows.tolist() == [0, 2, 1] and changes.moved == [0] and not changes.changed
    assert changes.relabeled == [0]  # filed under cat: the data labels it now
    rows = grown(run, now, changes)
    assert rows.ids == ["t/cat/x.png", "u/y.png", "u/x.png"]
    assert rows.labels.tolist() == [UNKNOWN] * 3  # the run's labels; cat is recorded as the person's answer


def test_a_file_edited_under_its_name_is_changed():
    run = by_id(["u/x.png", "u/y.png"], ["X", "Y"], [UNKNOWN, UNKNOWN])
    changes = compare(run, by_id(["u/x.png", "u/y.png"], ["X2", "Y"], [UNKNOWN, UNKNOWN]))
    assert changes.changed == [0] and changes.rows.tolist() == [0, 1] and not changes.moved
