"""What every demo does at the command line: exit with main's status, quietly when the reader closes the pipe."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def run(main: Callable[[], int]) -> None:
    """``sys.exit(main())``; a closed pipe (``python -m demos.moons | head``) ends the demo without a traceback."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush of stdout must not fail again
        status = 1
    except KeyboardInterrupt:
        print()
        status = 130
    sys.exit(status)
