"""Reading a ``pairs:`` table: CSV (a header row) or JSONL (one object per line).

Every row must have the same columns as the first (a CSV row with more or fewer fields than the
header, or a JSONL object with other keys, is an error naming the row). Values are strings; file
columns hold paths relative to the table. Row numbers in messages are the file's line numbers.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from simclip.data.paired.errors import PairFileError


@dataclass
class PairTable:
    """``columns``: the header; ``rows``: one dict per sample; ``lines``: the file line of each row."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]]
    lines: list[int]

    def require(self, columns: list[str] | tuple[str, ...]) -> None:
        """A :class:`PairFileError` naming the first of ``columns`` the table lacks."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise PairFileError(f"{self.path}: no column {', '.join(repr(c) for c in missing)} "
                                f"(columns: {', '.join(self.columns)})")


def read_pair_table(path: str | Path) -> PairTable:
    """Read ``path`` (``.csv`` or ``.jsonl``); :class:`PairFileError` for a malformed table."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise PairFileError(f"cannot read {path}: {err}") from None
    table = _read_jsonl(path, text) if path.suffix.lower() == ".jsonl" else _read_csv(path, text)
    if not table.rows:
        raise PairFileError(f"{path} lists no samples")
    return table


def _read_csv(path: Path, text: str) -> PairTable:
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise PairFileError(f"{path} is empty (no header row)") from None
    _check_header(path, header)
    rows, lines = [], []
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise PairFileError(f"{path}, row at line {line}: {len(fields)} fields, the header has "
                                f"{len(header)} ({', '.join(header)})")
        rows.append({h: f.strip() for h, f in zip(header, fields)})
        lines.append(line)
    return PairTable(path, header, rows, lines)


def _read_jsonl(path: Path, text: str) -> PairTable:
    rows, lines, header = [], [], None
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise PairFileError(f"{path}, line {line}: not JSON ({err})") from None
        if not isinstance(obj, dict):
            raise PairFileError(f"{path}, line {line}: expected a JSON object, got {type(obj).__name__}")
        if header is None:
            header = list(obj)
            _check_header(path, header)
        elif set(obj) != set(header):
            raise PairFileError(f"{path}, line {line}: keys {sorted(obj)} differ from the first "
                                f"row's {sorted(header)}")
        rows.append({k: "" if v is None else str(v) for k, v in obj.items()})
        lines.append(line)
    return PairTable(path, header or [], rows, lines)


def _check_header(path: Path, header: list[str]) -> None:
    if len(set(header)) != len(header) or any(not h for h in header):
        raise PairFileError(f"{path}: column names must be unique and non-empty, got {header}")
