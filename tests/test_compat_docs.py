"""docs/learners.md: every line link points at the line it quotes, so the page stays right as code moves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "learners.md"
LINK = re.compile(r"\[`([^`]+)`\]\(\.\./([^)#]+)#L(\d+)\)")


def test_every_line_link_quotes_its_line():
    text = DOC.read_text()
    links = LINK.findall(text)
    assert len(links) >= 40 and text.count("#L") == len(links)  # every line link has the quoted-code form
    wrong = []
    for fragment, path, line in links:
        lines = (ROOT / path).read_text().splitlines()
        if not (0 < int(line) <= len(lines) and fragment in lines[int(line) - 1]):
            now = [i + 1 for i, s in enumerate(lines) if fragment in s]
            wrong.append(f"{path}#L{line} should quote `{fragment}` (now at lines {now})")
    assert not wrong, "\n".join(wrong) + "\n(python scripts/relink_docs.py updates moved lines)"


def test_the_page_covers_both_courses_and_the_engine_step_functions():
    text = DOC.read_text()
    for needle in ("deeprnn check mytorch", "deeprnn check coursera", "elman.py#L", "lstm.py#L", "weights.py#L",
                   "def rnn_step_forward", "def rnn_step_backward", "lstm_cell_backward", "Exit code"):
        assert needle in text, needle
