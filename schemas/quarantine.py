"""Quarantine rows: which hard check a record failed, and what a data steward should do about it."""

from __future__ import annotations

import pandas as pd

QUARANTINE_COLUMNS = ["source", "record_id", "field", "check", "value", "reason"]

# check code -> reason shown to the steward (Chinese: stewards and department staff read it).
REASONS: dict[str, str] = {
    "record_id_empty": "记录编号为空：请在源系统补录记录编号后重新推送",
    "too_long": "内容超长：{field}最多 {limit} 个字符，请核对是否误粘贴了其他内容，删减后重新提交",
    "name_empty": "姓名为空：请补录姓名后重新提交",
    "identity_insufficient": (
        "身份信息不足：身份证号、出生日期、联系电话、详细地址（门牌号/楼栋/房号）均为空或无法识别，"
        "请至少补录其中一项后重新提交"
    ),
    "birth_impossible": "出生日期不存在（如2月30日）：请核对证件后更正",
    "birth_unparsed": "出生日期无法识别：请按“1990-01-31”的格式填写",
    "birth_out_of_range": "出生日期不合理（晚于今天或早于1880年）：请核对证件后更正",
    "reported_at_missing": "上报时间为空：请补录事件发生或上报时间",
    "reported_at_invalid": "上报时间无法识别或不存在：请按“2026-01-31 14:05”的格式填写",
    "event_empty": "事发地点和事件描述均为空：请至少补录其中一项",
    "schema": "不符合共享数据标准：请核对该字段的取值后重新提交",
}


EXCERPT_CHARS = 60


def reason_for(check: str, **detail: object) -> str:
    """The steward's reason for a check code (schema checks share one generic reason)."""
    return REASONS.get(check, REASONS["schema"]).format(**detail)


def excerpt(value: object) -> object:
    """A quarantined value as the steward sees it: long text cut to its start and its length, at most
    EXCERPT_CHARS characters in all (so an excerpt is its own excerpt)."""
    if isinstance(value, str) and len(value) > EXCERPT_CHARS:
        tail = f"……（共{len(value)}字）"
        return value[: EXCERPT_CHARS - len(tail)] + tail
    return value


def quarantine_rows(
    source: str,
    record_ids: pd.Series,
    mask: pd.Series,
    field: str,
    check: str,
    values: pd.Series,
    reason: str | None = None,
) -> pd.DataFrame:
    """One quarantine row per record where `mask` holds, keeping the input row index."""
    hit = mask[mask].index
    return pd.DataFrame(
        {
            "source": source,
            "record_id": record_ids.loc[hit],
            "field": field,
            "check": check,
            "value": values.loc[hit].astype(object).map(excerpt),
            "reason": reason or reason_for(check),
        },
        index=hit,
        columns=QUARANTINE_COLUMNS,
    )


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in QUARANTINE_COLUMNS})
