"""Which district (区县) each resident record belongs to, from the partition list in config/districts.yaml.

The ID number's region code decides (it stays with a person wherever they live now); a record without
a usable number goes to the district its address names; a record with neither to the `unknown`
partition. The list is data: another city is another file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from hub_errors import ConfigError

DISTRICTS_FILE = Path(__file__).with_name("config") / "districts.yaml"
DISTRICT_COLUMN = "district"


@dataclass(frozen=True)
class DistrictList:
    """The partition list: district names in order, the region codes of each, and the unknown bucket."""

    city: str
    names: tuple[str, ...]
    codes: dict[str, str]
    unknown: str
    reconcile_on: tuple[str | tuple[str, ...], ...]

    @property
    def partition_keys(self) -> list[str]:
        return [*self.names, self.unknown]


@cache
def load_districts(path: Path = DISTRICTS_FILE) -> DistrictList:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("districts")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: `districts` must list the city's districts ({{name, codes}})")
    names: list[str] = []
    codes: dict[str, str] = {}
    for entry in entries:
        name, region_codes = str(entry.get("name", "")).strip(), entry.get("codes") or []
        if not name or not region_codes or any(not str(code).isdigit() or len(str(code)) != 6 for code in region_codes):
            raise ConfigError(f"{path}: district {entry!r} needs a name and six-digit region codes")
        if name in names:
            raise ConfigError(f"{path}: district {name} is listed twice")
        names.append(name)
        for code in region_codes:
            if str(code) in codes:
                raise ConfigError(f"{path}: region code {code} belongs to two districts")
            codes[str(code)] = name
    unknown = str(data.get("unknown") or "未识别区")
    return DistrictList(
        city=str(data.get("city", "")),
        names=tuple(names),
        codes=codes,
        unknown=unknown,
        reconcile_on=tuple(
            key if isinstance(key, str) else tuple(str(name) for name in key)
            for key in data.get("reconcile_on") or ("id_no", "phone")
        ),
    )


def assign_districts(id_numbers: pd.Series, places: pd.Series, districts: DistrictList | None = None) -> pd.Series:
    """District per record: the region code of the ID number, else a district named in ``places``
    (a parsed district or a whole address), else the unknown partition."""
    districts = districts or load_districts()
    ids = id_numbers.astype("string").fillna("").str.strip().str.upper()
    by_code = ids.str.slice(0, 6).map(districts.codes).where(ids.str.len() >= 15)
    text = places.astype("string").fillna("")
    by_place = pd.Series(pd.NA, index=text.index, dtype="string")
    for name in sorted(districts.names, key=len, reverse=True):
        by_place = by_place.where(by_place.notna() | ~text.str.contains(name, regex=False), name)
    return by_code.fillna(by_place).fillna(districts.unknown).astype(object).set_axis(id_numbers.index)
