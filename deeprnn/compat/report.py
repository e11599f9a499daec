"""Comparing a learner's tensors with deeprnn's, and the report: per function, per tensor.

A tensor passes when every element satisfies |yours - expected| <= atol + rtol·|expected|
(numpy.allclose's rule; NaN never passes). For a failing tensor the report keeps the smallest failing
case of the grid and, in it, the first failing element in the order the code computes it: forward
tensors from t = 0 and the bottom layer up, gradients from the last step and the top layer down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..checks import fmt_shape
from .learner import LearnerError, Missing

ORDER = ("t", "layer")  # axes that locate a failure first, in this priority

# hints shared by the courses: each is shown when the learner's value equals that mistake's value
ACCUMULATE = "equals the last call's gradient only: accumulate with += instead of ="
AVERAGED = "equals the gradient divided by the batch size: sum over the batch, do not average"
SUMMED = "equals the gradient summed over the batch: this handout averages, so divide by the batch size"
NO_TANH_GRAD = "equals the gradient without tanh's derivative: multiply by 1 - h², tanh' written with its output h"


class CannotBorrow(Exception):
    """A composite cannot be re-run with deeprnn's part in place of the learner's (nothing to swap)."""


@dataclass
class Expect:
    """deeprnn's value of one output. axes label each dimension ('t', 'layer', 'batch', 'unit', ...);
    alts are (explanation, value) pairs recognised as typical mistakes."""

    name: str
    value: np.ndarray
    axes: tuple = ()
    backward: bool = False
    alts: list = field(default_factory=list)
    shapes: tuple = ()  # other accepted shapes (a bias as (H,) or (1, H))
    shape_only: bool = False


@dataclass
class TensorResult:
    name: str
    passed: bool = True
    max_abs: float = 0.0
    max_rel: float = 0.0
    problem: str | None = None  # the first failure: location and values, or what is wrong with it
    case: dict | None = None  # the smallest failing case
    hint: str | None = None
    shape_only: bool = False  # only the shape is checked (weights the learner initialises at random)
    compared: int = 0  # how many times values were compared
    exact: bool = False  # a text or a sequence of ids, compared for equality

    def add(self, exp: Expect, got, case: dict, rtol: float, atol: float) -> bool:
        """Compare one value; False if it fails (the first failure is kept)."""
        self.shape_only = exp.shape_only
        problem, hint = _compare(self, exp, got, rtol, atol)
        if problem and self.passed:
            self.passed, self.problem, self.hint, self.case = False, problem, hint, dict(case)
        return problem is None


@dataclass
class FunctionResult:
    name: str
    tensors: dict = field(default_factory=dict)
    error: LearnerError | None = None
    error_case: dict | None = None
    group: str = ""
    cases: list = field(default_factory=list)  # (case, passed) for every case run, smallest first
    note: str | None = None  # e.g. that it fails only because a function it calls does

    @property
    def status(self) -> str:
        if self.error is not None:
            return self.error.kind.upper() if self.error.kind in ("missing", "signature") else "ERROR"
        return "PASS" if self.tensors and all(t.passed for t in self.tensors.values()) else "FAIL"

    def tensor(self, name: str) -> TensorResult:
        return self.tensors.setdefault(name, TensorResult(name))


@dataclass
class Report:
    course: str
    path: str
    seed: int
    rtol: float
    atol: float
    functions: list = field(default_factory=list)
    import_error: LearnerError | None = None  # the learner's file could not be imported: nothing was run
    skipped: list = field(default_factory=list)  # (group, reason): parts of the course the file does not do
    dtype: str = "float64"

    @property
    def passed(self) -> bool:
        return self.import_error is None and bool(self.functions) and all(f.status == "PASS" for f in self.functions)

    def to_dict(self) -> dict:
        return {
            "course": self.course, "path": self.path, "seed": self.seed, "rtol": self.rtol, "atol": self.atol,
            "passed": self.passed,
            "import_error": None if self.import_error is None else {"message": self.import_error.message,
                                                                    "where": self.import_error.where},
            "skipped": [{"group": g, "reason": r} for g, r in self.skipped],
            "functions": [{
                "name": f.name, "group": f.group, "status": f.status, "note": f.note,
                "error": None if f.error is None else {"kind": f.error.kind, "message": f.error.message,
                                                       "where": f.error.where, "case": f.error_case},
                "tensors": [vars(t) for t in f.tensors.values()],
                "cases": [{"case": c, "passed": ok} for c, ok in f.cases],
            } for f in self.functions],
        }

    def header(self) -> str:
        return (f"deeprnn check {self.course} {self.path}   ({self.dtype}, seed {self.seed}, rtol {self.rtol:g}, "
                f"atol {self.atol:g})")

    def format(self) -> str:
        lines = [self.header(), ""]
        if self.import_error is not None:
            lines += [f"ERROR     {self.import_error}", "", "nothing was checked: MISMATCH"]
            return "\n".join(lines)
        width = max([len(t.name) for f in self.functions for t in f.tensors.values()] + [8]) + 2
        for f in self.functions:
            lines += function_lines(f, width)
        lines += [f"SKIPPED   {group}: {reason}" for group, reason in self.skipped]
        ok = sum(f.status == "PASS" for f in self.functions)
        verdict = "all match" if self.passed else "MISMATCH"
        lines += ["", f"{ok} of {len(self.functions)} functions match deeprnn: {verdict}"]
        return "\n".join(lines)


def function_lines(f: FunctionResult, width: int = 10) -> list[str]:
    """The report's lines for one function: its status, each tensor, its error and note."""
    lines = [f"{f.status:<9} {f.name}"]
    for t in f.tensors.values():
        diffs = ("shape only" if t.shape_only else "no values compared" if not t.compared
                 else "compared for equality" if t.exact else f"max abs {t.max_abs:.1e}   max rel {t.max_rel:.1e}")
        lines.append(f"    {t.name:<{width}}{'pass' if t.passed else 'FAIL'}   {diffs}")
        if not t.passed:
            lines.append(f"        first failure: {t.problem}")
            lines.append(f"        smallest failing case: {fmt_case(t.case)}")
            if t.hint:
                lines.append(f"        hint: {t.hint}")
    if f.error is not None:
        lines.append(f"    {f.error}")
        if f.error_case is not None and f.error.kind != "missing":
            lines.append(f"        case: {fmt_case(f.error_case)}")
    if f.note:
        lines.append(f"    note: {f.note}")
    return lines


def fmt_case(case: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in case.items())


def _compare(res: TensorResult, exp: Expect, got, rtol: float, atol: float):
    """Update res's maxima; return (problem, hint) for a failure, else (None, None)."""
    want = exp.value
    if isinstance(got, Missing):
        return got.reason, None
    if isinstance(want, (str, tuple)):  # text (what predict() returns) or a sequence of ids (sample())
        res.compared, res.exact = res.compared + 1, True
        if got == want:
            return None, None
        kind, unit = ("the text", "character") if isinstance(want, str) else ("the sequence", "position")
        if type(got) is not type(want):
            return f"expected {exp.name} to be {kind} {want!r}, got {type(got).__name__} {got!r}", None
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        return f"{exp.name} differs from {unit} {at} on: yours {got!r}, expected {want!r}", None
    try:
        arr = np.asarray(got)
    except Exception:  # noqa: BLE001 - anything the learner returned
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        return f"expected an array of shape {fmt_shape(want.shape)}, got {type(got).__name__}", None
    if arr.shape != want.shape and arr.shape not in exp.shapes:
        hint = "transposed?" if arr.shape == want.shape[::-1] and arr.ndim > 1 else None
        return f"wrong shape: expected {exp.name} of shape {fmt_shape(want.shape)}, got {fmt_shape(arr.shape)}", hint
    if exp.shape_only:
        return None, None
    arr = arr.astype(np.float64).reshape(want.shape)
    res.compared += 1
    diff = np.abs(arr - want)
    bad = ~(diff <= atol + rtol * np.abs(want))  # NaN fails
    nz = want != 0
    max_abs = float(np.max(diff)) if diff.size else 0.0
    max_rel = float(np.max(diff[nz] / np.abs(want[nz]))) if nz.any() else 0.0
    res.max_abs, res.max_rel = _nanmax(res.max_abs, max_abs), _nanmax(res.max_rel, max_rel)
    if not bad.any():
        return None, None
    idx = _first(bad, exp.axes, exp.backward)
    return (f"{exp.name}{_where(idx, exp.axes)}: yours {arr[idx]:.6g}, expected {want[idx]:.6g}",
            _hint(arr, exp, rtol, atol))


def _nanmax(a: float, b: float) -> float:
    return float("nan") if np.isnan(a) or np.isnan(b) else max(a, b)


def _first(bad: np.ndarray, axes: tuple, backward: bool) -> tuple:
    """Index of the first True of ``bad``: by 't' then 'layer' (reversed for gradients), then row-major."""
    if bad.ndim == 0:
        return ()
    axes = axes if len(axes) == bad.ndim else (None,) * bad.ndim
    lead = [k for name in ORDER for k, a in enumerate(axes) if a == name]
    perm = lead + [k for k in range(bad.ndim) if k not in lead]
    moved = np.transpose(bad, perm)
    if backward:
        moved = np.flip(moved, axis=tuple(range(len(lead))))
    pos = list(np.unravel_index(int(np.argmax(moved)), moved.shape))
    if backward:
        for k in range(len(lead)):
            pos[k] = moved.shape[k] - 1 - pos[k]
    idx = [0] * bad.ndim
    for k, p in zip(perm, pos):
        idx[k] = int(p)
    return tuple(idx)


def _where(idx: tuple, axes: tuple) -> str:
    """(0, 3, 1) with ('batch', 't', 'unit') -> ' at t=3 (batch 0, unit 1)'."""
    if not idx:
        return ""
    if len(axes) != len(idx):
        return f"[{', '.join(map(str, idx))}]"
    lead = [f"t={i}" if a == "t" else f"{a} {i}" for name in ORDER for a, i in zip(axes, idx) if a == name]
    rest = ", ".join(f"{a} {i}" for a, i in zip(axes, idx) if a not in ORDER)
    if lead:
        return f" at {', '.join(lead)} ({rest})" if rest else f" at {', '.join(lead)}"
    return f"[{', '.join(map(str, idx))}] ({rest})"


def _hint(arr: np.ndarray, exp: Expect, rtol: float, atol: float) -> str | None:
    """Name a typical mistake when the learner's value equals a known wrong value."""
    want = exp.value
    alts = list(exp.alts)
    if want.ndim == 2 and want.shape[0] == want.shape[1] > 1:
        alts.append(("equals the transpose of the expected value (a transposed weight?)", want.T))
    alts.append(("has the opposite sign", -want))
    for text, alt in alts:
        if np.allclose(arr, alt, rtol=rtol, atol=atol) and not np.allclose(want, alt, rtol=rtol, atol=atol):
            return text
    return None
