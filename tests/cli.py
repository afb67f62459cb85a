"""`tongket …` run in the test's own process, through the same entry point as the installed command.

A child process costs a second of imports per command; tests of what a command prints and changes do not
need one. tests/processes.py keeps the real process for the tests where the process is the point, and for
the commands that queue work: the Celery app is configured once per process, from the settings of the
first test that imported it, so in here they would queue work where the command does not look.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from unittest import mock

from tongket.cli.console import console
from tongket.cli.main import main
from tongket.worker.settings import get_settings

QUEUEING = ("demo", "run", "resend")


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """The command's TONGKET_* settings exactly as in env, as a child would see them; the rest untouched."""
    patched = {k: v for k, v in os.environ.items() if not k.startswith("TONGKET_")}
    patched.update({k: v for k, v in env.items() if k.startswith("TONGKET_")})
    with mock.patch.dict(os.environ, patched, clear=True):
        get_settings.cache_clear()  # settings are read once per process: read them again, and again after
        try:
            yield
        finally:
            get_settings.cache_clear()


def tongket(*args: str, env: dict[str, str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command; its exit status and what it printed, as subprocess.run would give them.

    COLUMNS in env sets the console's width, as it would in a new process. The timeout is pytest-timeout's.
    """
    if args[0] in QUEUEING:
        raise ValueError(f"`tongket {args[0]}` queues work: run it with tests.processes.tongket")
    out, err = io.StringIO(), io.StringIO()
    code = 0
    width = env.get("COLUMNS")
    with (
        _environment(env),
        mock.patch.object(console, "_width", int(width) if width else console._width),  # noqa: SLF001 (no public way to set it back)
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main_args = ["tongket", *args]
            with mock.patch("sys.argv", main_args):
                main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return subprocess.CompletedProcess(["tongket", *args], code, out.getvalue(), err.getvalue())
