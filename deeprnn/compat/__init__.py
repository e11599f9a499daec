"""deeprnn behind two classic course APIs, and a checker for learners' own implementations.

* ``deeprnn.compat.mytorch``: CMU 11-785 "mytorch" ``Tanh``, ``RNNCell``, ``RNN`` (row layout, batch first);
* ``deeprnn.compat.coursera``: deeplearning.ai "Building a Recurrent Neural Network step by step"
  (column layout): ``rnn_cell_forward`` ... ``lstm_backward``;
* ``deeprnn.compat.check``: ``deeprnn check mytorch|coursera PATH`` and ``check_module(course, path)``.

The adapters hold no recurrence maths of their own: every step and its derivatives come from the
NumPy engine's ``rnn_step_*`` / ``lstm_step_*`` functions. docs/learners.md maps each equation to its line.
"""

from . import coursera, mytorch

__all__ = ["coursera", "mytorch"]
