"""User-facing errors and the wrapper that turns them into one clear line."""

from __future__ import annotations

import errno
import logging
import signal
import sys
from collections.abc import Callable


class PipelineError(Exception):
    """An error the user can cause and fix (bad input, bad param); printed without traceback."""


class ParamsError(PipelineError):
    """A params.yaml key that is unknown, wrongly typed or impossible."""


class DataError(PipelineError):
    """An input file or folder that is missing, unpaired, unreadable or of the wrong size."""


class TrainingDiverged(PipelineError):
    """A training loss that became NaN or infinite."""


def _terminate(signum: int, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: temporary files are removed and checkpoints stay whole."""
    raise SystemExit(128 + signum)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a PipelineError or a full disk exits with status 2 and one clear
    message, SIGTERM unwinds as Ctrl-C does (exit status 143)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(
            f"error: no space left on the device{where}: free some and run the stage again"
            " (the outputs and checkpoints written before are unchanged)",
            file=sys.stderr,
        )
        sys.exit(2)
