"""Drives a running Label Studio through its SDK, as a labeling team would: run by the Python that has
``label-studio-sdk`` (see test_label_studio_server.py), since svp's own environment need not have it.

    python label_studio_client.py URL EMAIL PASSWORD CONFIG.xml TASKS.json TRUTH.json EXPORT.json

creates a project with the labeling interface, imports the tasks, annotates each with the class
TRUTH.json gives its ``svp_index`` (leaving the last task unannotated), and writes the project's JSON export.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import requests
from label_studio_sdk import LabelStudio


def legacy_token(url: str, email: str, password: str) -> str:
    """Log in as a person would, allow API tokens for the organization, and return the user's token."""
    session = requests.Session()
    page = session.get(f"{url}/user/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(f"{url}/user/login/", data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
                 headers={"Referer": f"{url}/user/login/"}).raise_for_status()
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "Referer": url}
    session.post(f"{url}/api/jwt/settings", json={"api_tokens_enabled": True, "legacy_api_tokens_enabled": True},
                 headers=headers).raise_for_status()
    return session.get(f"{url}/api/current-user/token", headers=headers).json()["token"]


def main(url: str, email: str, password: str, config: str, tasks: str, truth: str, export: str) -> None:
    client = LabelStudio(base_url=url, api_key=legacy_token(url, email, password))
    project = client.projects.create(title="svp question", label_config=Path(config).read_text())
    client.projects.import_tasks(id=project.id, request=json.loads(Path(tasks).read_text()))
    labels = json.loads(Path(truth).read_text())
    imported = sorted(client.tasks.list(project=project.id), key=lambda task: task.id)
    for task in imported[:-1]:  # the last stays unanswered: partial answers are the rule
        choice = labels[str(task.data["svp_index"])]
        client.annotations.create(id=task.id, result=[{"from_name": "label", "to_name": "item", "type": "choices",
                                                       "value": {"choices": [choice]}}])
    exported = client.projects.exports.download_sync(project.id, export_type="JSON", download_all_tasks=True)
    Path(export).write_bytes(b"".join(exported))


if __name__ == "__main__":
    main(*sys.argv[1:])
