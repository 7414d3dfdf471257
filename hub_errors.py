"""The one exception root of the hub.

Every error the hub raises on purpose derives from :class:`HubError`, so a steward-facing
entry point (the CLI, a Dagster asset) can catch it and show its message instead of a traceback.
Messages say what failed, where (source, file, row, column) and what to do about it.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of all errors the hub raises deliberately."""


class SourceError(HubError):
    """A department system could not be read (unreachable, bad answer, bad file)."""


class MappingError(HubError):
    """A source's data does not fit its mapping file (for example a missing column)."""


class ConfigError(HubError):
    """A configuration file (link config, report spec, mapping) is invalid."""


class DeliveryError(HubError):
    """A report could not be delivered to a department."""
