"""Give the memory a finished step freed back to the system, so the next step starts from it.

A step of a city-sized run builds and frees frames of hundreds of megabytes; the C allocator keeps
the freed pages for the process, so the run's resident memory would only ever grow, step after step,
and one process running every step (the embedded demo) would hold the sum of their leftovers. After
each step a hook asks glibc to return its free pages (``malloc_trim``); where there is no glibc
(macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any

import dagster as dg


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Return the allocator's free pages to the system; False where it cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@dg.success_hook(name="release_freed_memory")
def release_memory_after_step(_context: dg.HookContext) -> None:
    """After every step that succeeded (a failed one ends the run's work anyway)."""
    release_freed_memory()
