"""Pure normalizers shared by schemas and dedup: ID, phone, date, name, address."""

from schemas.normalize.address import AddressParts, canonical_address, parse_address
from schemas.normalize.dates import DateResult, normalize_date, normalize_datetime
from schemas.normalize.id_number import IdResult, normalize_cn_id
from schemas.normalize.names import name_key
from schemas.normalize.phone import normalize_phone

__all__ = [
    "AddressParts",
    "DateResult",
    "IdResult",
    "canonical_address",
    "name_key",
    "normalize_cn_id",
    "normalize_date",
    "normalize_datetime",
    "normalize_phone",
    "parse_address",
]
