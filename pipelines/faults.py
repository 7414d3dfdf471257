"""Crash points for the crash-consistency tests: ``HUB_CRASH_AT=<point>`` kills the process there.

The tests run the demo in a subprocess with a crash point set and rerun it, to prove that a SIGKILL
at that moment leaves nothing a rerun cannot repair. Unset (always, outside those tests), a crash
point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "HUB_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL (no cleanup, as a power cut or the OOM killer) if asked to here."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
