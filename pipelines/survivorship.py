"""Survivorship rules (which source to trust for which field) are data: pipelines/config/survivorship.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from hub_errors import ConfigError

RULES_FILE = Path(__file__).with_name("config") / "survivorship.yaml"


def load_survivorship_rules(path: Path = RULES_FILE) -> dict[str, dict[str, list[str]]]:
    """{"authority": field -> sources in order of trust}, as dedup.build_golden takes them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = data.get("authoritative")
    if not isinstance(rules, dict) or not all(isinstance(v, list) for v in rules.values()):
        raise ConfigError(f"{path}: 'authoritative' must map each field to a list of source names")
    return {"authority": {str(field): [str(s) for s in sources] for field, sources in rules.items()}}
