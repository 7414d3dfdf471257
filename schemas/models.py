"""The shared schema every source is standardized into (docs/ARCHITECTURE.md fixes the columns).

The models are the last gate of `standardize`: a row that still breaks them is quarantined, so the
accepted frames handed to dedup always satisfy these contracts.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing.pandas import Series

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
EVENT_STATUSES = ["上报", "受理", "分派", "处置中", "办结", "评价"]


class ResidentRecord(pa.DataFrameModel):
    """One resident record from one source, cleaned; None where the contract allows it."""

    source: Series[str] = pa.Field(str_length={"min_value": 1})
    record_id: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    name: Series[str] = pa.Field(str_length={"min_value": 1})
    name_key: Series[str] = pa.Field(str_length={"min_value": 1})
    id_no: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{17}[\dX]$")
    id_valid: Series[bool]
    gender: Series[str] = pa.Field(nullable=True, isin=["1", "2"])
    birth: Series[str] = pa.Field(nullable=True, str_matches=ISO_DATE)
    phone: Series[str] = pa.Field(nullable=True)
    address: Series[str] = pa.Field(nullable=True)
    address_canonical: Series[str] = pa.Field(nullable=True)
    addr_district: Series[str] = pa.Field(nullable=True)
    addr_street: Series[str] = pa.Field(nullable=True)
    addr_community: Series[str] = pa.Field(nullable=True)
    addr_road: Series[str] = pa.Field(nullable=True)
    addr_door_no: Series[str] = pa.Field(nullable=True)
    addr_building: Series[str] = pa.Field(nullable=True)
    addr_unit: Series[str] = pa.Field(nullable=True)
    addr_room: Series[str] = pa.Field(nullable=True)
    grid: Series[str] = pa.Field(nullable=True)
    quality_flags: Series[str]
    attributes: Series[str]

    class Config:
        strict = True
        ordered = True


class IncidentReport(pa.DataFrameModel):
    """One incident report from one source, cleaned."""

    source: Series[str] = pa.Field(str_length={"min_value": 1})
    record_id: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    category: Series[str] = pa.Field(nullable=True)
    category_raw: Series[str] = pa.Field(nullable=True)
    category_known: Series[bool]
    reported_at: Series[str] = pa.Field(str_matches=ISO_DATETIME)
    location: Series[str] = pa.Field(nullable=True)
    location_canonical: Series[str] = pa.Field(nullable=True)
    loc_district: Series[str] = pa.Field(nullable=True)
    loc_street: Series[str] = pa.Field(nullable=True)
    loc_community: Series[str] = pa.Field(nullable=True)
    loc_road: Series[str] = pa.Field(nullable=True)
    loc_door_no: Series[str] = pa.Field(nullable=True)
    loc_building: Series[str] = pa.Field(nullable=True)
    loc_unit: Series[str] = pa.Field(nullable=True)
    loc_room: Series[str] = pa.Field(nullable=True)
    grid: Series[str] = pa.Field(nullable=True)
    description: Series[str] = pa.Field(nullable=True)
    channel: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(nullable=True, isin=EVENT_STATUSES)
    contact: Series[str] = pa.Field(nullable=True)
    quality_flags: Series[str]

    class Config:
        strict = True
        ordered = True


RESIDENT_COLUMNS: list[str] = list(ResidentRecord.to_schema().columns)
EVENT_COLUMNS: list[str] = list(IncidentReport.to_schema().columns)
