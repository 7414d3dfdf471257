"""Field specs for the hub's own datasets: which standardized column is compared as which kind."""

from __future__ import annotations

from types import MappingProxyType

RESIDENT_FIELDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "name_key": "name",
        "id_no": "cn_id",
        "birth": "date",
        "gender": "exact",
        "phone": "phone",
        "address_canonical": "address",
    }
)

# Upstream verdicts the engine honours: a resident ID that standardize marks as not valid (for
# example a number a spreadsheet turned into a float) is no identity, even if it passes the check digit.
RESIDENT_VALIDITY: MappingProxyType[str, str] = MappingProxyType({"id_no": "id_valid"})
