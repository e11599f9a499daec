"""What autograders read: Gradescope's results.json and JUnit XML, from a check's Report.

Each function is split into two tests by its cases: the edge cases (some size is 1: batch 1, hidden 1,
one step, ...) and the others, so a learner whose code works only for batch 1, or only for larger
batches, gets half the credit of that function and a test name that says which half. Every test is
worth 1 point; its output holds the report's lines for that function.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

from ..data.files import atomic_output
from .report import FunctionResult, Report, fmt_case, function_lines
from .runner import cases
from .spec import COURSES

SUBGROUPS = (("edge cases", True), ("other cases", False))


def is_edge(case: dict) -> bool:
    """A case with a size of 1 (bools and names do not count)."""
    return any(type(v) is int and v == 1 for v in case.values())


def tests(report: Report) -> list[dict]:
    """One dict per (function, case group): name, passed, output, and whether it is an error."""
    found = {f.name: f for f in report.functions}
    out = []
    for group in COURSES[report.course].groups():
        for check in group.checks:
            f = found.get(check.name)
            if f is None and report.import_error is None:
                continue  # not run: another API of the same name, a part the file does not do, or --only
            planned = cases(group, check)
            for label, edge in SUBGROUPS:
                mine = [c for c, _ in planned if is_edge(c) == edge]
                if not mine:
                    continue
                out.append(_test(report, f, check.name, label, mine))
    return out


def _test(report: Report, f: FunctionResult | None, name: str, label: str, mine: list) -> dict:
    if f is None:  # nothing was run: the import failed
        return {"name": f"{name} ({label})", "passed": False, "error": True,
                "output": f"not run: {report.import_error}"}
    ran = {fmt_case(c): ok for c, ok in f.cases}
    failing = [c for c in mine if not ran.get(fmt_case(c), False)]  # failed, or not run after an error
    passed = not failing
    lines = function_lines(f)
    if failing and not passed:
        lines.append(f"    failing {label}: " + "; ".join(fmt_case(c) for c in failing))
    return {"name": f"{name} ({label})", "passed": passed, "error": f.error is not None and not passed,
            "output": "\n".join(lines)}


def gradescope(report: Report) -> str:
    """Gradescope's autograder results.json."""
    items = tests(report)
    body = [{"name": t["name"], "score": 1.0 if t["passed"] else 0.0, "max_score": 1.0,
             "status": "passed" if t["passed"] else "failed", "output": t["output"], "visibility": "visible"}
            for t in items]
    summary = [report.header()] + [f"skipped {g}: {r}" for g, r in report.skipped]
    if report.import_error is not None:
        summary.append(f"ERROR {report.import_error}")
    data = {"score": sum(t["score"] for t in body), "output": "\n".join(summary), "tests": body,
            "visibility": "visible", "stdout_visibility": "visible"}
    return json.dumps(data, indent=2) + "\n"


def junit(report: Report) -> str:
    """JUnit XML: one testsuite, one testcase per test; failures and errors carry the report's lines."""
    items = tests(report)
    suite = ET.Element("testsuite", name=f"deeprnn check {report.course}", tests=str(len(items) + len(report.skipped)),
                       failures=str(sum(not t["passed"] and not t["error"] for t in items)),
                       errors=str(sum(t["error"] for t in items)), skipped=str(len(report.skipped)))
    for t in items:
        case = ET.SubElement(suite, "testcase", classname=f"deeprnn.check.{report.course}", name=t["name"])
        if not t["passed"]:
            first = next((ln.strip() for ln in t["output"].splitlines()[1:] if ln.strip()), t["output"])
            ET.SubElement(case, "error" if t["error"] else "failure", message=first).text = t["output"]
    for group, reason in report.skipped:
        case = ET.SubElement(suite, "testcase", classname=f"deeprnn.check.{report.course}", name=group)
        ET.SubElement(case, "skipped", message=reason)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (its folder is created if needed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_output(path, text=True) as f:
        f.write(text)
