"""deeprnn behind the APIs of the courses that have learners write an RNN, and a checker for their code.

* ``deeprnn.compat.mytorch``: CMU 11-785, the mytorch edition: ``Tanh``, ``RNNCell``, ``RNN`` (rows, batch first);
* ``deeprnn.compat.hw3p1``: CMU 11-785 HW3P1, the common edition: ``RNNCell``, ``RNNPhonemeClassifier``,
  ``GRUCell``, ``CharacterPredictor``, ``inference``;
* ``deeprnn.compat.coursera``: deeplearning.ai "Building your RNN step by step" (columns):
  ``rnn_cell_forward`` ... ``lstm_backward``;
* ``deeprnn.compat.dinosaurs``: deeplearning.ai "Dinosaurus Island": ``clip``, ``sample``, ``optimize`` and
  the notebook's helpers;
* ``deeprnn.compat.d2l``: the d2l book's ``RNNScratch``, ``StackedRNNScratch``, ``RNNLMScratch`` (NumPy, with BPTT);
* ``deeprnn.compat.check``: ``deeprnn check mytorch|hw3p1|coursera|d2l|needle PATH`` and
  ``check_module(course, path)``; the learner's code runs in a child process (``supervise``).

The adapters hold no recurrence maths of their own: every step and its derivatives come from the
NumPy engine's ``rnn_step_*`` / ``gru_step_*`` / ``lstm_step_*`` functions. docs/learners.md maps each
equation to its line.
"""

from . import coursera, d2l, dinosaurs, hw3p1, mytorch

__all__ = ["coursera", "d2l", "dinosaurs", "hw3p1", "mytorch"]
