"""One command line for every workflow: ``svp {train,active,coreset,query,report,list}``.

Options are declared once (:mod:`svp.cli.options`) and turned into configs
by :mod:`svp.cli.parse`. Domain entry points (``python -m svp.cifar``,
``svp.imagenet``, ``svp.amazon``) call :func:`main` with their own
:class:`Domain`.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import gc
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from svp import progress
from svp.cli.domain import GENERIC, Command, Domain, OptionGroup
from svp import config as cfg
from svp.cli.options import (DATA, MODEL, RUNTIME, SHORT_FORMS, add_learner_options, add_method_options,
                             add_options, add_proxy_twins, without_proxy_short_flags)
from svp.cli.parse import build_config, flags_of, typed_fields
from svp.cli.plugins import import_plugins, plugins_in
from svp.data import DATASETS
from svp.engine.distributed import is_main
from svp.errors import Interrupted, UsageError
from svp.learners import archs_for
from svp.report import report, run_summary
from svp.rundir import PROXY, REPORT_CSV, REPORT_DIR, REPORT_MD, TARGET
from svp.selection import METHODS
from svp.workflows import WORKFLOWS, workflow_of
from svp.workflows.registry import commands as workflow_commands
from svp.workflows.resume import resumed_config

__all__ = ["Command", "Domain", "GENERIC", "OptionGroup", "build_config", "build_parser", "main"]

log = logging.getLogger("svp")

DESCRIPTION = ("Selection via Proxy: fast data selection for deep learning "
               "(active learning and core-set selection).")
LISTS = ("models", "datasets", "methods")


DEBUG_ENV = "SVP_DEBUG"
# OSErrors of the machine, not of svp: a run directory that cannot be written (full, read-only, ...)
WORKER_GRACE = 2.0  # seconds to wait for this process's own SIGTERM after a DataLoader worker died
USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an error too (or set {DEBUG_ENV}=1)")
    return common


def build_parser(domain: Domain = GENERIC) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=domain.prog, description=DESCRIPTION)
    commands = _Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for name in domain.commands or (*workflow_commands(), *PARSERS):
        if name in domain.extra_commands:
            domain.extra_commands[name].add_parser(commands, domain)
        elif name in workflow_commands():
            _workflow_parser(commands, name, domain)
        else:
            PARSERS[name](commands, domain)
    return parser


class _Commands:
    """The subparsers action, giving every command the common options."""

    def __init__(self, action) -> None:
        self.action = action
        self.common = _common_options()

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.action.add_parser(name, parents=[self.common], **kwargs)


def _workflow_parser(commands, name: str, domain: Domain) -> None:
    command = WORKFLOWS[name]
    parser = commands.add_parser(name, help=command.help, description=command.help)
    add_options(parser.add_argument_group("run"), RUNTIME, domain)
    # a domain offers its own datasets; svp also takes files of one's own, checked when the dataset opens
    add_options(parser.add_argument_group("data"), DATA, domain,
                choices={"dataset": domain.datasets} if domain.datasets else {})
    add_options(parser.add_argument_group("model"), without_proxy_short_flags(MODEL) if command.proxy else MODEL,
                domain)
    if command.proxy:
        add_proxy_twins(parser.add_argument_group("proxy (each defaults to its target twin)"))
        extra = domain.proxy_options
        if extra is not None:
            add_options(parser.add_argument_group(extra.title), extra.options, domain, extra.defaults)
    add_learner_options(parser, proxy=command.proxy)
    if command.options:
        group = parser.add_argument_group("selection" if command.methods else name)
        add_options(group, command.options, domain, command.config)
        if command.methods:
            add_method_options(group)


def _report_parser(commands, domain: Domain) -> None:
    parser = commands.add_parser("report", help="tables and plots from run directories")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="run directories (or folders of them); runs that differ only in their seed are "
                        "one group: mean ± sample std over them")
    parser.add_argument("--baseline", help="run (or folder of the seeds of one setup) to compare the others "
                        "against (speed-ups, accuracy gaps)")
    parser.add_argument("--out", help=f"where to write {REPORT_CSV}, {REPORT_MD} and the plots "
                        f"(default: RUN_DIR/{REPORT_DIR})")


def _list_parser(commands, domain: Domain) -> None:
    parser = commands.add_parser("list", help="list architectures, datasets and selection methods")
    parser.add_argument("what", nargs="?", choices=LISTS, help="list only these (default: all three)")
    _plugin_option(parser)


def _models_parser(commands, domain: Domain) -> None:
    _plugin_option(commands.add_parser("models", help="list architectures (same as `list models`)"))


def _plugin_option(parser: argparse.ArgumentParser) -> None:
    """--plugin on a command that is no workflow (imported before parsing, as for workflows)."""
    parser.add_argument("--plugin", action="append", metavar="MODULE", help="import this module first (what it "
                        "registers is listed too); repeat for several")


# commands that are not workflows: name -> add_parser(commands, domain)
PARSERS: dict[str, Callable] = {"report": _report_parser, "list": _list_parser, "models": _models_parser}


def _list(args: argparse.Namespace, domain: Domain) -> int:
    what = "models" if args.command == "models" else args.what
    if what in (None, "models"):
        both = archs_for(TARGET)
        proxy_only = [arch for arch in archs_for(PROXY) if arch not in both]
        print("architectures:", ", ".join(both), f"(and {', '.join(proxy_only)} as a proxy)" if proxy_only else "")
    if what in (None, "datasets"):
        print("datasets:", ", ".join(domain.datasets or sorted(DATASETS)))
    if what in (None, "methods"):
        print("selection methods:", ", ".join(METHODS))
    return 0


def _report(args: argparse.Namespace, domain: Domain) -> int:
    text, _ = report(args.runs, args.out, args.baseline)
    print(text)  # ends with the paths written
    return 0


# commands that are not workflows: name -> handler(args, domain) -> exit code
HANDLERS: dict[str, Callable[[argparse.Namespace, Domain], int]] = {
    "report": _report, "list": _list, "models": _list}


def setup_logging(quiet: bool) -> None:
    progress.set_quiet(quiet)
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    log.setLevel(level)  # also when logging was configured before (basicConfig then does nothing)


def main(argv: Optional[Sequence[str]] = None, domain: Domain = GENERIC) -> int:
    """Entry point of ``svp`` and of the domain shims; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:  # first, so that what plugins register has its options, choices and help
        import_plugins(plugins_in(argv))
    except UsageError as error:
        _fail(argparse.ArgumentParser(prog=domain.prog), domain, str(error), debug, error)
    parser = build_parser(domain)
    args = parser.parse_args(argv)
    debug = args.debug or debug
    try:
        if args.command in HANDLERS:
            return HANDLERS[args.command](args, domain)
        setup_logging(args.quiet)
        for short, long in getattr(args, SHORT_FORMS, None) or ():
            log.warning("%s sets %s here, as in the original implementation's %s command; write %s or %s to "
                        "say which model you mean", short, long, args.command, long, long.replace("proxy-", ""))
        with _signals_interrupt():
            record, run = _run(args, domain, argv)
    except KeyboardInterrupt as error:  # Interrupted among them
        _interrupted(domain, args, error, debug)
    except UsageError as error:
        _fail(parser, domain, _user_message(error), debug, error)
    except OSError as error:
        if error.errno not in USER_ERRNOS:
            raise  # not the user's doing: a bug to see whole
        _fail(parser, domain, f"cannot write {error.filename or 'a file'}: {error.strerror} ; free some space, "
              "or give a --run-dir you can write to (what is already written stays)", debug, error)
    if not is_main():  # under torchrun the summary shows once
        return 0
    print((record.summary or run_summary)(run))
    print(f"results: {run}")
    return 0


def _fail(parser: argparse.ArgumentParser, domain: Domain, message: str, debug: bool, error: BaseException) -> None:
    """Exit 2 with ``prog: error: message``; the traceback too with --debug."""
    if debug:
        traceback.print_exc()
    _release(error)
    parser.exit(2, f"{domain.prog}: error: {message}\n")


#: the signals that interrupt a workflow, by the name its message gives
STOPS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
_handling_stops = False  # while a workflow runs: a process forked then (a DataLoader worker) takes the defaults


@functools.cache
def _register_fork_hook() -> None:
    """Once a process runs a workflow (never on import: the hook is the process's)."""
    os.register_at_fork(after_in_child=_defaults_in_child)


def _defaults_in_child() -> None:
    """A forked worker inherits the handler below, which would raise in it (a traceback from every worker
    the group's signal reaches as it starts): it ends as the signal's default says, and the main process
    tells of it."""
    if _handling_stops:
        for signum in STOPS:
            signal.signal(signum, signal.SIG_DFL)



@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Ctrl-C and SIGTERM (a scheduler's stop, ``kill``) interrupt a workflow: its files stay resumable and the
    CLI says how to resume (SIGTERM's default would end the process without a word).

    Both go to the whole process group, DataLoader workers included, so a worker may die of it first: torch's
    word of that waits for this process's own signal. A raise swallowed where it landed (a finalizer, an
    after-fork hook) is raised again at the next step of a loop (see :mod:`svp.progress`).
    """
    def interrupt(signum: int, frame: object) -> None:
        stop = Interrupted(STOPS[signum], 128 + signum)
        progress.request_stop(stop)
        raise stop

    def unraisable(report: Any) -> None:
        error = report.exc_value
        if isinstance(error, Interrupted):
            return  # swallowed where it landed: raised again at the next step
        if not (isinstance(error, RuntimeError) and _worker_died(error)):  # a dead worker's iterator, closed
            previous_hook(report)

    try:
        previous = {signum: signal.signal(signum, interrupt) for signum in STOPS}
    except ValueError:  # not the main thread (svp called from a thread): leave the signals as they are
        yield
        return
    global _handling_stops
    if not _handling_stops:
        _register_fork_hook()
    previous_hook, sys.unraisablehook, _handling_stops = sys.unraisablehook, unraisable, True
    try:
        yield
    except RuntimeError as error:
        if _worker_died(error):  # of the signal sent to the whole group? Ours is on its way then:
            time.sleep(WORKER_GRACE)  # it interrupts this wait; another death is an error, raised as it is
            progress.check_stop()  # (or came before, and was swallowed where it landed)
        raise
    else:
        progress.check_stop()  # one swallowed where it landed, as the workflow ended
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook, _handling_stops = previous_hook, False


def _interrupted(domain: Domain, args: argparse.Namespace, error: BaseException, debug: bool) -> None:
    """One line: what stopped the command and how to go on; exit 128 + the signal's number."""
    if debug:
        traceback.print_exc()
    progress.request_stop(None)  # taken
    _quiet_teardown()
    _release(error)
    stop = error if isinstance(error, Interrupted) else Interrupted("Ctrl-C", 128 + signal.SIGINT)
    run = stop.run or getattr(args, "resume", None)  # stopped while a resumed run was being opened: still it
    if args.command in HANDLERS:
        how = "nothing it does is lost by running it again"
    elif run is None:
        how = "no run directory was made yet: start again"
    else:
        how = f"every finished step is kept: resume with {domain.prog} {args.command} --resume {run}"
        if args.command == "query":
            how += " (and --labels FILE again if this call was given answers: those recorded already are skipped)"
    if is_main():
        sys.stderr.write(f"{domain.prog}: interrupted ({stop.signal_name}) ; {how}\n")
    sys.exit(stop.exit_code)


def _worker_died(error: RuntimeError) -> bool:
    """Whether ``error`` is torch's word that a DataLoader worker died (it may die of a SIGTERM to the whole
    process group before this process hears of its own)."""
    text = str(error)
    return "DataLoader worker" in text and ("exited unexpectedly" in text or "killed by signal" in text)


def _release(error: BaseException) -> None:
    """Let go of the frames ``error`` (and what it happened during) was raised through, before the process
    exits: what they hold (DataLoader iterators) is closed now, in order (its workers stopped by their
    iterator, not terminated at exit as they were left)."""
    link: Optional[BaseException] = error
    while link is not None:
        link.__traceback__ = None
        link = link.__context__
    gc.collect()


def _quiet_teardown() -> None:
    """No tracebacks after the line that says how to go on: what the interruption cut short in background
    threads and finalizers (DataLoader workers' shutdown, their file-descriptor sharing) fails as the
    process ends, and none of it is the user's to act on."""
    threading.excepthook = lambda args: None
    sys.excepthook = lambda *exc_info: None  # multiprocessing's fd-sharing thread reports through this one
    sys.unraisablehook = lambda unraisable: None


def _user_message(error: UsageError) -> str:
    """The message of a UsageError, also of one raised in a DataLoader worker (which wraps it in a traceback)."""
    text = str(error)
    marker = f"{UsageError.__module__}.{UsageError.__name__}: "
    if "Original Traceback" in text and marker in text:
        return text.rsplit(marker, 1)[1].strip()
    return text


def _run(args: argparse.Namespace, domain: Domain, argv: Sequence[str]) -> tuple[Any, Path]:
    """Build the config (the saved one when resuming) and run its workflow; return its record and run directory.

    Errors name options by their flags here (Python's name config fields).
    """
    with cfg.named_by(flags_of(domain, args.command)):
        config = build_config(args, domain)
        if config.runtime.resume:
            typed = typed_fields(build_parser(domain), domain, argv, config.workflow)
            config = resumed_config(config, typed, WORKFLOWS[config.workflow].per_call)
        record = workflow_of(config)
        return record, Path(os.fspath(record.run(config)))


if __name__ == "__main__":
    sys.exit(main())
