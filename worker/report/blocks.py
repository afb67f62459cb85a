"""The prose blocks of a report an owner may rewrite during review: their names (the narrative's keys), how
they read in Vietnamese, and the TOML an owner edits them in."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import asdict
from typing import Any

from tongket.models.errors import TongketError
from tongket.worker.report.figures import AREAS, Narrative

# In the order the report prints them; the labels are the report's own headings.
LABELS: dict[str, str] = {
    "situation": "Tình hình chung",
    "results": "Kết quả thực hiện (đoạn mở đầu)",
    **dict(AREAS),
    "strengths": "Ưu điểm",
    "weaknesses": "Hạn chế",
    "causes": "Nguyên nhân",
    "lessons": "Bài học kinh nghiệm",
    "tasks": "Nhiệm vụ, giải pháp",
    "proposals": "Kiến nghị, đề xuất",
}


def blocks_of(narrative: Narrative) -> dict[str, Any]:
    """The narrative as plain values, tasks as a list (JSON and TOML have no tuples)."""
    found = asdict(narrative)
    found["tasks"] = list(found["tasks"])
    return {name: found[name] for name in LABELS}


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the blocks that differ, in the report's order."""
    return [name for name in LABELS if before.get(name) != after.get(name)]


def parse(text: str) -> dict[str, Any]:
    """An owner's TOML: known block names only, text for each (a list of texts for tasks), NFC."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TongketError(f"the narrative file is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(LABELS))
    if unknown:
        raise TongketError(f"unknown block {', '.join(unknown)}; the blocks are: {', '.join(LABELS)}")
    for name, value in data.items():
        wanted_list = name == "tasks"
        ok = (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
            if wanted_list
            else isinstance(value, str)
        )
        if not ok:
            raise TongketError(f"block {name} must be {'a list of texts' if wanted_list else 'a text'}")
    return {name: _nfc(value) for name, value in data.items()}


def to_toml(blocks: dict[str, Any]) -> str:
    """The blocks as TOML an owner edits: each with its Vietnamese heading as a comment."""
    lines = ["# Sửa các phần lời văn của báo cáo; xóa phần nào thì giữ nguyên phần đó.", ""]
    for name, label in LABELS.items():
        value = blocks.get(name, [] if name == "tasks" else "")
        lines.append(f"# {label}")
        if name == "tasks":
            lines.append("tasks = [")
            lines += [f"  {_string(item)}," for item in value]
            lines.append("]")
        else:
            lines.append(f"{name} = {_string(value)}")
        lines.append("")
    return "\n".join(lines)


def _string(text: str) -> str:
    """A TOML string: multi-line when the text has lines, escaped so that it reads back the same."""
    escaped = text.replace("\\", "\\\\")
    if "\n" not in text:
        return '"' + escaped.replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r") + '"'
    return '"""\n' + escaped.replace('"""', '""\\"').replace("\r", "\\r") + '"""'


def _nfc(value: Any) -> Any:
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return unicodedata.normalize("NFC", value)
