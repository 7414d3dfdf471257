"""The source shrink guard: a pull much smaller than the last good one holds back the reports fed by it.

A department system that suddenly returns half its rows (a truncated export, a failed query) would
otherwise make the hub tell that department its people are gone. The thresholds and which report
depends on which source are data (pipelines/config/source_guard.yaml).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from hub_errors import ConfigError

GUARD_FILE = Path(__file__).resolve().parent / "config" / "source_guard.yaml"
ACCEPT_ENV = "HUB_ACCEPT_SHRINK"


@dataclass(frozen=True)
class GuardConfig:
    max_shrink: float
    min_previous: int
    sources: tuple[str, ...]
    reports: Mapping[str, tuple[str, ...]]

    def sources_of(self, report: str) -> tuple[str, ...]:
        """The guarded sources a report depends on; a report not listed depends on all of them."""
        return self.reports.get(report, self.sources)


def load_guard_config(path: Path = GUARD_FILE, report_names: Collection[str] | None = None) -> GuardConfig:
    """Read and check the guard's data file (``report_names``: the report specifications that exist)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"source guard {path}: cannot read it ({exc}).") from exc
    try:
        max_shrink = float(raw.get("max_shrink", 0.2))
        min_previous = int(raw.get("min_previous", 0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"source guard {path}: max_shrink and min_previous must be numbers ({exc}).") from exc
    if not 0 < max_shrink < 1:
        raise ConfigError(f"source guard {path}: max_shrink must be a share between 0 and 1, got {max_shrink}.")
    sources = tuple(str(item) for item in raw.get("sources") or [])
    bad = [item for item in sources if item.count("/") != 1]
    if bad:
        raise ConfigError(f"source guard {path}: sources are dataset/source pairs; not {', '.join(bad)}.")
    listed = raw.get("reports") or {}
    reports = {str(name): tuple(str(item) for item in items or []) for name, items in listed.items()}
    for name, items in reports.items():
        unknown = [item for item in items if item not in sources]
        if unknown:
            raise ConfigError(f"source guard {path}: report {name} names unguarded sources {', '.join(unknown)}.")
        if report_names is not None and name not in report_names:
            raise ConfigError(f"source guard {path}: no report specification named {name}.")
    return GuardConfig(max_shrink, min_previous, sources, reports)


@dataclass(frozen=True)
class ShrinkVerdict:
    dataset: str
    source: str
    previous: int | None
    now: int
    passed: bool
    accepted_by_steward: bool = False

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.source}"

    @property
    def shrink(self) -> float:
        return 0.0 if not self.previous else max(0.0, 1 - self.now / self.previous)

    def describe(self, max_shrink: float, reports: Collection[str]) -> str:
        """The verdict in words for stewards (Chinese, as all user-facing text)."""
        if self.previous is None:
            return f"来源 {self.key} 首次拉取 {self.now} 条，作为以后比较的基准"
        change = f"来源 {self.key} 本次拉取 {self.now} 条，上次正常拉取 {self.previous} 条（减少 {self.shrink:.0%}）"
        if self.accepted_by_steward:
            return f"{change}，已由数据管理员确认放行（{ACCEPT_ENV}）"
        if self.passed:
            return f"{change}，未超过 {max_shrink:.0%} 阈值"
        held = "、".join(sorted(reports)) or "无"
        return (
            f"{change}，超过 {max_shrink:.0%} 阈值：依赖该来源的报表（{held}）本次不生成、不推送。"
            f"请核实来源系统；确属正常减少时，设置 {ACCEPT_ENV}={self.key} 后重新运行"
        )


def accepted_shrinks() -> set[str]:
    """dataset/source pairs a steward lets through this run (HUB_ACCEPT_SHRINK, comma separated)."""
    return {item.strip() for item in os.environ.get(ACCEPT_ENV, "").split(",") if item.strip()}


def judge_pull(
    dataset: str, source: str, previous: int | None, now: int, config: GuardConfig, accepted: Collection[str] = ()
) -> ShrinkVerdict:
    """Whether this pull may feed reports, against the last pull that passed."""
    if previous is None or previous < config.min_previous or now >= previous * (1 - config.max_shrink):
        return ShrinkVerdict(dataset, source, previous, now, passed=True)
    steward = f"{dataset}/{source}" in accepted
    return ShrinkVerdict(dataset, source, previous, now, passed=steward, accepted_by_steward=steward)
