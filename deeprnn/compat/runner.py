"""Running a course's checks on the learner's code; this runs inside the child process (supervise.py).

Each step is reported through ``emit(message)`` as soon as it happens, so that the parent knows, when
the learner's code hangs or ends the process, which function and which case it was in:

    ("imported", LearnerError | None)      ("skipped", group, reason)
    ("start", name)    ("case", case)      ("case done", case, passed)      ("result", FunctionResult)
    ("borrow", name)   ("note", name, text)                               ("end",)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .learner import Learner, LearnerError
from .report import CannotBorrow, FunctionResult
from .spec import COURSES, Check, Group


@dataclass(frozen=True)
class Job:
    """Everything the child process needs (it is pickled across)."""

    course: str
    path: str
    seed: int
    rtol: float
    atol: float
    only: tuple | None  # function names, or None for all
    timeout: float  # seconds per call of the learner's code; 0: no limit
    package_root: str | None = None  # needle: the folder that holds the learner's needle package


def run(job: Job, emit, done: dict, watch=None, on_load=None) -> None:
    """Every check of ``job.course`` not in ``done`` (name -> status of the checks already run, by an
    earlier child), then the re-runs that tell whether a composite fails only because of a part."""
    course = COURSES[job.course]
    learner = Learner(job.path, course.files, job.package_root)
    learner.watch = watch
    if on_load is not None:
        on_load(learner)
    with learner:
        emit(("imported", learner.import_error))
        if learner.import_error is not None:
            return
        statuses = dict(done)
        groups = selected(learner, job)
        for group, checks, present in groups:
            if not present and (job.only is None or any(c.name in job.only for c in group.checks)):
                emit(("skipped", group.name, f"{learner.name} defines none of {', '.join(group.markers)}"))
            for check in checks:
                if check.name not in statuses:
                    emit(("start", check.name))
                    res = run_check(learner, check, group, job, emit)
                    statuses[check.name] = res.status
                    emit(("result", res))
        for group, checks, _ in groups:
            for check in checks:
                failed = statuses.get(check.name) in ("FAIL", "ERROR") and statuses.get(check.needs) != "PASS"
                if check.needs and failed and f"borrow:{check.name}" not in statuses:
                    emit(("borrow", check.name))
                    emit(("note", check.name, borrow_note(learner, check, group, job)))  # None: no note


def selected(learner: Learner, job: Job) -> list[tuple[Group, list[Check], bool]]:
    """(group, its checks to run, whether the learner's code does this group) for every group."""
    out = []
    for group in COURSES[job.course].groups():
        present = any(learner.has(m) for m in group.markers)
        checks = [c for c in group.checks if present and (job.only is None or c.name in job.only)
                  and (c.applies is None or c.applies(learner))]
        out.append((group, checks, present))
    return out


def cases(group: Group, check: Check) -> list[tuple[dict, int]]:
    """The distinct cases of a check (its keys' values), smallest first, each with its grid row."""
    rows = {}
    for i, cfg in enumerate(group.grid):
        rows.setdefault(tuple(cfg[k] for k in check.keys), i)
    def size(item):
        numbers = [v for v in item[0] if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return math.prod(numbers), sum(numbers), str(item[0])

    order = sorted(rows.items(), key=size)
    return [(dict(zip(check.keys, values)), i) for values, i in order]


def run_check(learner, check: Check, group: Group, job: Job, emit=None, borrow: bool = False) -> FunctionResult:
    """One function over its cases, smallest first; stops at the learner's first error."""
    res = FunctionResult(check.name, group=group.name)
    for case, row in cases(group, check):
        if emit is not None:
            emit(("case", case))
        rng = np.random.default_rng([job.seed, row])  # the same inputs for every function at a given grid row
        try:
            pairs = check.fn(learner, case, rng, borrow=True) if borrow else check.fn(learner, case, rng)
        except CannotBorrow as e:
            res.error = LearnerError("cannot borrow", str(e))
            break
        except LearnerError as e:
            res.error, res.error_case = e, case
            res.cases.append((case, False))
            break
        except Exception as e:  # noqa: BLE001 - a bug of the checker must not crash the command
            res.error = LearnerError("internal", f"internal error in deeprnn check ({type(e).__name__}: {e}); "
                                                 "please report it with your file")
            res.error_case = case
            res.cases.append((case, False))
            break
        ok = all([res.tensor(exp.name).add(exp, got, case, job.rtol, job.atol) for exp, got in pairs])
        res.cases.append((case, ok))
        if emit is not None:
            emit(("case done", case, ok))
    return res


def borrow_note(learner, check: Check, group: Group, job: Job) -> str:
    """Run ``check`` again with deeprnn's ``check.needs`` in place of the learner's, and say what that shows."""
    again = run_check(learner, check, group, job, borrow=True)
    if again.error is not None and again.error.kind == "cannot borrow":
        return None
    if again.status == "PASS":
        return (f"{check.name} fails only because your {check.needs} does: with deeprnn's {check.needs} in its "
                f"place, your {check.name} matches. Fix {check.needs} first.")
    return (f"your {check.needs} fails too, but {check.name} has a mistake of its own: with deeprnn's "
            f"{check.needs} in its place, it still fails.")
