"""Write one ``## Heading`` section of docs/performance.md, leaving the other sections alone."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def replace_section(heading: str, text: str, path: Path = DOC) -> None:
    """Replace the section that starts with the line ``heading`` (up to the next ``## `` or
    ``# `` heading) by ``text``, or append it; create the file if it does not exist."""
    text = text.rstrip("\n") + "\n"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Performance\n\n" + text)
        return
    lines = path.read_text().splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == heading), None)
    if start is None:
        old = "".join(lines)
        sep = "" if old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
        path.write_text(old + sep + text)
        return
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ") or lines[i].startswith("# ")), len(lines))
    tail = lines[end:]
    path.write_text("".join(lines[:start]) + text + ("\n" if tail else "") + "".join(tail))
