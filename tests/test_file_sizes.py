"""Every source file of the package stays under 400 lines: one concept per file, small enough to
read whole. A file that grows past it is split by concept, not trimmed."""

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "simclip"
LIMIT = 400


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_source_files_exist():
    assert len(list(SRC.rglob("*.py"))) > 50


def test_every_source_file_is_under_the_limit():
    too_long = {str(p.relative_to(SRC)): n for p in sorted(SRC.rglob("*.py")) if (n := line_count(p)) >= LIMIT}
    assert not too_long, f"files of {LIMIT} lines or more (split them by concept): {too_long}"


def test_line_count_counts_lines(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("a = 1\n" * LIMIT, encoding="utf-8")
    assert line_count(path) == LIMIT
