"""Inbox folders where departments and community staff drop workbooks: what in them can be read.

A folder people share collects more than clean exports: Excel's lock files, a second copy of the
same export, a .xls saved by an older program, a folder or a shortcut carrying a workbook's name, a
damaged or empty file, a name with invisible characters. Each entry is sorted into a workbook to read
or a rejected entry with a reason in Chinese that the sender can act on, so one bad entry never stops
the others from being read. Rejected entries move to a ``rejected/`` folder beside a note of why.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
OTHER_SPREADSHEET_SUFFIXES = frozenset({".xls", ".xlsb", ".et", ".ods", ".csv"})
SERVICE_FOLDERS = frozenset({"processed", "rejected"})
REJECTED_DIR_NAME = "rejected"
PROCESSED_DIR_NAME = "processed"
REASON_NOTE_SUFFIX = ".退回原因.txt"
NAME_MAX_BYTES = 255  # the longest file name Linux, macOS and Windows file systems all accept
DEFAULT_MAX_FILE_MB = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

REASONS: dict[str, str] = {
    "symlink": "这是一个快捷方式（符号链接），不是文件本身：请把工作簿文件本身放入收件箱",
    "folder": "这是一个文件夹，只是名字像工作簿：请把其中的工作簿文件直接放入收件箱",
    "not_a_file": "这不是普通文件，无法读取：请把工作簿文件本身放入收件箱",
    "name_control_chars": "文件名含有不可见的控制字符：请重命名（只用文字、数字和常用标点）后重新放入",
    "legacy_format": "不是 .xlsx 格式的工作簿（如旧版 .xls）：请用 Excel 或 WPS 打开，另存为 .xlsx 后重新放入",
    "empty": "文件是空的（0 字节）：请重新导出或保存后放入",
    "too_large": "文件超过 {limit} MB 的上限：请按月份或社区拆分成几个文件后分别放入",
    "unreadable": "文件已损坏或不是 Excel 工作簿，无法打开：请重新导出、另存为 .xlsx 后放入",
    "layout": "表头与约定的格式不符（{detail}）：请按标准模板或约定的列名导出后重新放入",
    "no_sheet": "工作簿里没有约定的工作表（{detail}）：请使用标准模板填写后重新放入",
}


def rejection_reason(check: str, **detail: object) -> str:
    """The sender's reason for a rejected entry (check codes as in REASONS)."""
    return REASONS[check].format(**detail)


@dataclass(frozen=True)
class RejectedFile:
    """An inbox entry that was not read: which one, the check it failed and the reason for its sender."""

    path: Path
    check: str
    reason: str


@dataclass(frozen=True)
class DuplicateFile:
    """A workbook whose bytes equal an earlier one's; it is not read, so its rows count once."""

    path: Path
    same_as: Path


@dataclass
class InboxScan:
    """Workbooks to read (oldest first: a later export replaces an earlier one's records), the rest."""

    workbooks: list[Path] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)


@dataclass
class SourcePull:
    """What a file source gave one run: (row_ref, row) pairs, and the entries it did not read."""

    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    duplicates: list[DuplicateFile] = field(default_factory=list)


def has_control_chars(text: str) -> bool:
    return not text.isprintable() and _CONTROL.search(text) is not None


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: the same file dropped twice is recognised whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _classify(entry: os.DirEntry[str], suffix: str, max_bytes: int) -> str | None:
    """The failed check of an entry with a spreadsheet's name, None when it is a workbook to read."""
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if not entry.is_file(follow_symlinks=False):
        return "not_a_file"
    if has_control_chars(entry.name):
        return "name_control_chars"
    if suffix not in WORKBOOK_SUFFIXES:
        return "legacy_format"
    size = entry.stat(follow_symlinks=False).st_size
    if size == 0:
        return "empty"
    if size > max_bytes:
        return "too_large"
    return None


def scan_inbox(folder: Path, *, max_file_mb: int = DEFAULT_MAX_FILE_MB) -> InboxScan:
    """Sort the entries of an inbox folder; names are compared case-insensitively (.XLSX is .xlsx).

    Entries that do not look like spreadsheets (notes, pictures), hidden files, Excel's ``~$`` lock
    files and the inbox's own processed/ and rejected/ folders are left alone.
    """
    scan = InboxScan()
    if not folder.is_dir():
        return scan
    candidates: list[tuple[int, str, Path]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            suffix = Path(name).suffix.lower()
            if name.startswith(("~$", ".")) or name in SERVICE_FOLDERS:
                continue
            if suffix not in WORKBOOK_SUFFIXES | OTHER_SPREADSHEET_SUFFIXES:
                continue
            check = _classify(entry, suffix, max_file_mb * 1024 * 1024)
            path = Path(entry.path)
            if check is None:
                candidates.append((entry.stat().st_mtime_ns, name, path))
            else:
                scan.rejected.append(RejectedFile(path, check, rejection_reason(check, limit=max_file_mb)))
    seen: dict[str, Path] = {}
    for _, _, path in sorted(candidates):
        digest = file_hash(path)
        if digest in seen:
            scan.duplicates.append(DuplicateFile(path, seen[digest]))
        else:
            seen[digest] = path
            scan.workbooks.append(path)
    scan.rejected.sort(key=lambda rejected: rejected.path.name)
    return scan


def fit_name(name: str, reserve: int = 0, max_bytes: int = NAME_MAX_BYTES) -> str:
    """``name`` cut (before its suffix, keeping a short hash of the whole) so that it and ``reserve``
    more bytes fit in one file name."""
    budget = max_bytes - reserve
    if len(name.encode("utf-8")) <= budget:
        return name
    stem, suffix = os.path.splitext(name)
    tag = "~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    room = budget - len(suffix.encode("utf-8")) - len(tag)
    cut = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", errors="ignore")
    return f"{cut}{tag}{suffix}"


def short_label(name: str, max_chars: int = 60) -> str:
    """A file name short enough for record ids and row references, still unique per name."""
    clean = "".join("?" if unicodedata.category(char) == "Cc" else char for char in name)
    if len(clean) <= max_chars:
        return clean
    tag = "~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return clean[: max_chars - len(tag)] + tag


def move_into(path: Path, target_dir: Path) -> Path:
    """Move one inbox entry into ``target_dir`` (processed/, rejected/), a time stamp before its name
    when a file of that name is already there. Returns the new path."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / fit_name(path.name)
    if os.path.lexists(target):
        target = target_dir / fit_name(f"{datetime.now():%Y%m%d%H%M%S%f}_{path.name}")
    shutil.move(str(path), str(target))
    return target


def move_rejected(rejected: list[RejectedFile], target_dir: Path, *, note: bool = True) -> list[Path]:
    """Move each rejected entry (a link or folder itself, never what it points to) into ``target_dir``,
    with a ``<name>.退回原因.txt`` note beside it unless ``note`` is False. Returns the new paths."""
    moved: list[Path] = []
    if not rejected:
        return moved
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now():%Y%m%d%H%M%S}"
    for entry in rejected:
        if not os.path.lexists(entry.path):
            continue
        reserve = len(REASON_NOTE_SUFFIX.encode("utf-8")) if note else 0
        name = fit_name(entry.path.name, reserve)
        target = target_dir / name
        if os.path.lexists(target):
            target = target_dir / fit_name(f"{stamp}_{entry.path.name}", reserve)
        shutil.move(str(entry.path), str(target))
        if note:
            note_path = target.with_name(target.name + REASON_NOTE_SUFFIX)
            note_path.write_text(f"{entry.path.name}\n{entry.reason}\n", encoding="utf-8")
        moved.append(target)
    return moved
