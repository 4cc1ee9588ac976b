"""TensorBoard: a run's figures as scalars in event files, one folder per run."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

from svp import events
from svp.errors import UsageError
from svp.tracking import missing, scalars

log = logging.getLogger(__name__)

#: the TensorBoard text tag holding the run's config
CONFIG_TAG = "config"


class TensorBoardSink(events.Sink):
    """Writes each run's scalars under ``<directory>/<run directory's name>``.

    One folder per run, so that ``tensorboard --logdir <directory>`` lists
    the runs side by side. The config is a text entry (tag ``"config"``);
    the scalars are those of :func:`svp.tracking.scalars`. A run resumed in
    the same run directory adds an event file to the same folder.

    Parameters
    ----------
    directory : str or os.PathLike
        Where the run folders go (made when a run first writes).

    Raises
    ------
    UsageError
        When the ``tensorboard`` package is not installed.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        try:
            # torch's writer is the maintained one; it needs the tensorboard package for its protobufs
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise missing("--tensorboard", "tensorboard") from error
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise UsageError(f"--tensorboard {directory} is a file, not a folder ; give a folder for the event "
                             "files (it is made when missing)")
        self._writer_class = SummaryWriter
        self._writer: Optional[Any] = None
        self._run: Optional[Path] = None

    def handle(self, event: events.Event) -> None:
        """Record ``event``'s scalars (and the config, when the run starts)."""
        writer = self._writer_for(event.run)
        if event.name == events.RUN_STARTED:
            config = event.values.get("config", {})
            text = json.dumps(config, indent=2, sort_keys=True, default=str)
            # four spaces make a Markdown code block, which TensorBoard's text tab shows as written
            writer.add_text(CONFIG_TAG, "\n".join("    " + line for line in text.splitlines()), 0)
        for name, value, step in scalars(event):
            writer.add_scalar(name, value, step)
        if event.name == events.RUN_ENDED:
            self.close()

    def close(self) -> None:
        """Flush the run's event file and close it."""
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer, self._run = None, None

    def folder(self, run: Optional[Path]) -> Path:
        """The folder of ``run``'s event files (``"run"`` for events without a run directory)."""
        return self.directory / (Path(run).name if run is not None else "run")

    def _writer_for(self, run: Optional[Path]) -> Any:
        # a sink given to svp.events.add_sink sees run after run: each gets its own folder
        if self._writer is None or run != self._run:
            self.close()
            self._writer = self._writer_class(log_dir=str(self.folder(run)))
            self._run = run
            log.info("TensorBoard: writing to %s", self.folder(run))
        return self._writer
