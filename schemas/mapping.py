"""Load per-source mapping files (schemas/mappings/<dataset>_<source>.yaml; format in residents_grid.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hub_errors import ConfigError

MAPPINGS_DIR = Path(__file__).with_name("mappings")
LIMITS_FILE = MAPPINGS_DIR / "limits.yaml"
DATASETS = ("residents", "events")
RESIDENT_FIELDS = frozenset({"name", "id_no", "gender", "birth", "phone", "address", "grid"})
EVENT_FIELDS = frozenset({"category", "reported_at", "location", "grid", "description", "status", "contact"})
DEFAULT_LIMIT = 500
DATE_FORMATS = frozenset({"iso", "compact", "slash", "cjk", "day_first", "month_first", "excel_serial"})


@dataclass(frozen=True)
class SourceMapping:
    """How one department system's columns become the shared schema."""

    dataset: str
    source: str
    record_id: str
    columns: dict[str, str]
    attributes: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str | None]] = field(default_factory=dict)
    formats: dict[str, list[str]] = field(default_factory=dict)
    channel: str | None = None
    description: str = ""
    path: Path | None = None
    limits: dict[str, int] = field(default_factory=dict)
    updated_at: str | None = None
    optional: frozenset[str] = frozenset()
    send_back: frozenset[str] = frozenset()

    def limit(self, name: str) -> int:
        """The longest value (characters) a field or attribute key may hold (limits.yaml, `limits:`)."""
        return self.limits.get(name, self.limits.get("default", DEFAULT_LIMIT))

    def column_for(self, shared_field: str) -> str | None:
        """The source column mapped to a shared field, None when this source does not carry it."""
        for source_column, target in self.columns.items():
            if target == shared_field:
                return source_column
        return None

    @property
    def required_columns(self) -> list[str]:
        """Every source column the mapping names and does not list as optional; each must be present."""
        named = [self.record_id, *self.columns, *self.attributes, *([self.updated_at] if self.updated_at else [])]
        return [column for column in named if column not in self.optional]


def _text_table(raw: Any, path: Path, key: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"映射文件 {path}：{key} 应为“源列名: 字段名”的表")
    return {str(k): str(v) for k, v in raw.items()}


def _limit_table(raw: Any, path: Path, key: str) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, int) and v > 0 for v in raw.values()):
        raise ConfigError(f"{path}：{key} 应为“字段名: 最大字符数（正整数）”的表")
    return {str(k): int(v) for k, v in raw.items()}


def _optional_columns(raw: Any, path: Path, attributes: set[str]) -> frozenset[str]:
    """Attribute columns a source may lack (absent in most exports, e.g. a death date)."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ConfigError(f"映射文件 {path}：optional 应为源列名的列表")
    unknown = sorted({str(column) for column in raw} - attributes)
    if unknown:
        raise ConfigError(f"映射文件 {path}：optional 只能列出 attributes 中的源列，{unknown} 不在其中")
    return frozenset(str(column) for column in raw)


SEND_BACK_FIELDS = frozenset({"id_no", "phone"})


def _send_back_fields(raw: Any, path: Path) -> frozenset[str]:
    """Fields whose unusable values send the record back instead of being left out (hand-typed
    sources whose senders can fix them: the community intake workbook)."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not set(map(str, raw)) <= SEND_BACK_FIELDS:
        raise ConfigError(f"映射文件 {path}：send_back 应为以下字段的列表：{sorted(SEND_BACK_FIELDS)}")
    return frozenset(map(str, raw))


@lru_cache(maxsize=4)
def default_limits(dataset: str, path: Path = LIMITS_FILE) -> dict[str, int]:
    """The shared length limits of a dataset's fields (limits.yaml): default, record_id and fields."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取长度上限文件 {path}：{exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"长度上限文件 {path} 不是 YAML 映射表")
    shared = _limit_table({k: v for k, v in data.items() if k in ("default", "record_id")}, path, "default")
    return {**shared, **_limit_table(data.get(dataset), path, dataset)}


def parse_mapping(data: Any, path: Path) -> SourceMapping:
    """Check a loaded mapping document and build a SourceMapping; errors name the file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"映射文件 {path} 不是 YAML 映射表")
    for key in ("dataset", "source", "record_id", "columns"):
        if not data.get(key):
            raise ConfigError(f"映射文件 {path} 缺少必填项 {key}")
    dataset = str(data["dataset"])
    if dataset not in DATASETS:
        raise ConfigError(f"映射文件 {path}：dataset 应为 {'/'.join(DATASETS)}，实为 {dataset}")
    columns = _text_table(data["columns"], path, "columns")
    allowed = RESIDENT_FIELDS if dataset == "residents" else EVENT_FIELDS
    unknown = sorted(set(columns.values()) - allowed)
    if unknown:
        raise ConfigError(f"映射文件 {path}：未知字段 {unknown}，可用字段 {sorted(allowed)}")
    codes_raw = data.get("codes") or {}
    codes = {
        str(target): {str(k): (None if v is None else str(v)) for k, v in (table or {}).items()}
        for target, table in codes_raw.items()
    }
    formats = {str(k): [str(f) for f in v] for k, v in (data.get("formats") or {}).items()}
    bad_formats = sorted({f for fs in formats.values() for f in fs} - DATE_FORMATS)
    if bad_formats:
        raise ConfigError(f"映射文件 {path}：未知日期格式 {bad_formats}，可用 {sorted(DATE_FORMATS)}")
    attributes = _text_table(data.get("attributes"), path, "attributes")
    return SourceMapping(
        dataset=dataset,
        source=str(data["source"]),
        record_id=str(data["record_id"]),
        columns=columns,
        attributes=attributes,
        codes=codes,
        formats=formats,
        channel=None if data.get("channel") is None else str(data["channel"]),
        description=str(data.get("description") or ""),
        path=path,
        limits={**default_limits(dataset), **_limit_table(data.get("limits"), path, "limits")},
        updated_at=None if not data.get("updated_at") else str(data["updated_at"]),
        optional=_optional_columns(data.get("optional"), path, set(attributes)),
        send_back=_send_back_fields(data.get("send_back"), path),
    )


def load_mapping_file(path: Path) -> SourceMapping:
    """Read one mapping file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取映射文件 {path}：{exc}") from exc
    return parse_mapping(data, Path(path))


@lru_cache(maxsize=64)
def load_mapping(dataset: str, source: str, directory: Path | None = None) -> SourceMapping:
    """The mapping of one source: `<directory>/<dataset>_<source>.yaml` (default schemas/mappings)."""
    path = (directory or MAPPINGS_DIR) / f"{dataset}_{source}.yaml"
    if not path.exists():
        raise ConfigError(f"没有数据源 {source} 的 {dataset} 映射文件：{path}（新增部门请添加该文件）")
    mapping = load_mapping_file(path)
    if mapping.dataset != dataset or mapping.source != source:
        raise ConfigError(
            f"映射文件 {path} 声明的是 {mapping.dataset}/{mapping.source}，应为 {dataset}/{source}"
        )
    return mapping
