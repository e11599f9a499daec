"""What ``deeprnn check`` knows about each course: its groups of checks, and what a check is.

A course is one or more groups (grid modules): ``deeprnn.compat.grid_hw3p1_rnn`` is the RNN part of
HW3P1, ``grid_hw3p1_gru`` its GRU part. A group runs when the learner's code defines one of its
``markers``, so a file with only the RNN part is not failed for lacking the GRU part.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Check:
    """One function of the learner's, checked on every distinct case of its group's grid."""

    name: str  # as reported and as --only names it, e.g. 'RNNCell.backward'
    keys: tuple  # the grid keys that make a case of this check
    fn: Callable  # fn(learner, case, rng[, borrow=True]) -> [(Expect, the learner's value), ...]
    needs: str | None = None  # the learner's check this one calls: re-run with deeprnn's in its place
    applies: Callable | None = None  # applies(learner) -> bool, when a name has two APIs (rnn_forward)


@dataclass(frozen=True)
class Group:
    name: str  # e.g. 'Dinosaur Island'
    markers: tuple  # names in the learner's code that show the file does this part
    grid: list  # the cases, smallest first: the first failing case is the smallest one
    checks: list


@dataclass(frozen=True)
class Course:
    title: str
    modules: tuple  # grid modules, one Group each
    files: tuple = ()  # a handout's files, for PATH given as the handout's folder
    tolerance: tuple = (1e-6, 1e-8)  # default (rtol, atol)
    dtype: str = "float64"  # what the checks compute in
    package: str | None = None  # a package the learner provides and --{package}-path points at
    preload: tuple = ()  # modules the worker imports before forking children (torch takes seconds)

    def groups(self) -> list[Group]:
        return [importlib.import_module(m).GROUP for m in self.modules]


HW3P1_FILES = ("mytorch/rnn_cell.py", "mytorch/gru_cell.py", "models/rnn_classifier.py", "models/char_predictor.py",
               "hw3/rnn_classifier.py", "hw3/char_predictor.py")

COURSES = {
    "mytorch": Course("CMU 11-785 mytorch, the Tanh / RNNCell / RNN edition", ("deeprnn.compat.grid_mytorch",)),
    "hw3p1": Course("CMU 11-785 HW3P1: RNNCell, RNNPhonemeClassifier, GRUCell, CharacterPredictor",
                    ("deeprnn.compat.grid_hw3p1_rnn", "deeprnn.compat.grid_hw3p1_gru"), files=HW3P1_FILES),
    "coursera": Course("deeplearning.ai week 1: RNN step by step, Dinosaur Island",
                       ("deeprnn.compat.grid_coursera", "deeprnn.compat.grid_dinosaurs")),
    "d2l": Course("d2l.ai, RNN from scratch (PyTorch): RNNScratch, StackedRNNScratch, RNNLMScratch",
                  ("deeprnn.compat.grid_d2l",), tolerance=(1e-4, 1e-5), dtype="float32", preload=("torch",)),
    "needle": Course("CMU 10-414 needle hw4: nn.RNNCell, RNN, LSTMCell, LSTM", ("deeprnn.compat.grid_needle",),
                     tolerance=(1e-4, 5e-5), dtype="float32", package="needle"),
}
