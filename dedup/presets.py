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

INCIDENT_FIELDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "reported_at": "datetime",
        "category": "category",
        "location": "place",
        "description": "text",
        "grid": "exact",
    }
)
