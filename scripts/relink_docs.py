#!/usr/bin/env python3
"""Update the line numbers of quoted-code links in docs/*.md after code moved.

A link looks like [`fragment`](../path/to/file.py#L42). When the fragment occurs on exactly one line of
the file, the link is pointed at that line; otherwise it is listed for a human to fix.
tests/test_compat_docs.py fails when a link no longer quotes its line.

    python scripts/relink_docs.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[`([^`]+)`\]\(\.\./([^)#]+)#L(\d+)\)")


def relink(doc: Path) -> list[str]:
    problems = []

    def fix(m: re.Match) -> str:
        fragment, path, line = m.group(1), m.group(2), int(m.group(3))
        lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
        if 0 < line <= len(lines) and fragment in lines[line - 1]:
            return m.group(0)
        hits = [i + 1 for i, s in enumerate(lines) if fragment in s]
        if len(hits) != 1:
            problems.append(f"{doc.name}: `{fragment}` in {path}: found on lines {hits}")
            return m.group(0)
        return f"[`{fragment}`](../{path}#L{hits[0]})"

    text = doc.read_text(encoding="utf-8")
    new = LINK.sub(fix, text)
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return problems


if __name__ == "__main__":
    issues = [p for doc in sorted((ROOT / "docs").glob("*.md")) for p in relink(doc)]
    print("\n".join(issues) or "all links quote their lines")
    raise SystemExit(1 if issues else 0)
