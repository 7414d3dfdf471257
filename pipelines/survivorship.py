"""Survivorship rules (which source to trust for which field) are data: pipelines/config/survivorship.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dedup.golden import PREFER_KINDS
from hub_errors import ConfigError

RULES_FILE = Path(__file__).with_name("config") / "survivorship.yaml"


def load_survivorship_rules(path: Path = RULES_FILE) -> dict[str, Any]:
    """{"authority": field -> sources in order of trust, "recency": update-time column, "prefer":
    field -> "latest", "verified": field -> sources that win it first}, as dedup.build_golden takes them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = data.get("authoritative")
    if not isinstance(rules, dict) or not all(isinstance(v, list) for v in rules.values()):
        raise ConfigError(f"{path}: 'authoritative' must map each field to a list of source names")
    result: dict[str, Any] = {"authority": {str(field): [str(s) for s in sources] for field, sources in rules.items()}}
    prefer = data.get("prefer") or {}
    if not isinstance(prefer, dict):
        raise ConfigError(f"{path}: 'prefer' must map a field to one of {list(PREFER_KINDS)}")
    for field, kind in prefer.items():
        if kind not in PREFER_KINDS:
            raise ConfigError(f"{path}: prefer.{field} is {kind!r}; write one of {list(PREFER_KINDS)}")
    if prefer and not data.get("recency"):
        raise ConfigError(f"{path}: 'prefer' needs 'recency', the column holding each record's update time")
    if data.get("recency"):
        result["recency"] = str(data["recency"])
    result["prefer"] = {str(field): str(kind) for field, kind in prefer.items()}
    verified = data.get("verified") or {}
    if not isinstance(verified, dict) or not all(isinstance(v, list) for v in verified.values()):
        raise ConfigError(f"{path}: 'verified' must map each field to a list of source names")
    result["verified"] = {str(field): [str(s) for s in sources] for field, sources in verified.items()}
    return result
