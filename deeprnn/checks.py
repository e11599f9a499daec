"""Argument checks. Each error names the expected and the actual value.

The engines' checks raise TypeError or ValueError, as torch's do. A caller whose errors are user errors
passes its own class as ``error`` (``deeprnn.data`` passes CorpusError, a DeeprnnError), which then
stands for both.
"""

from __future__ import annotations

import numbers

import numpy as np


def fmt_shape(shape) -> str:
    """(35, 28) -> '(35, 28)'; letters are kept: ('T', 'B', 28) -> '(T, B, 28)'."""
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def describe(value) -> str:
    """A value's type, with its length for a tuple or list: 'ndarray', 'tuple of length 3'."""
    name = type(value).__name__
    return f"{name} of length {len(value)}" if isinstance(value, (tuple, list)) else name


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None, *,
              error: type[Exception] | None = None) -> int:
    """A whole number (not a bool) within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise (error or TypeError)(f"expected {name} to be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise (error or ValueError)(f"expected {name} >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise (error or ValueError)(f"expected {name} <= {maximum}, got {value}")
    return int(value)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected {name} to be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(name: str, value, choices, *, error: type[Exception] | None = None) -> str:
    if value not in choices:
        raise (error or ValueError)(f"expected {name} to be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_float_dtype(name: str, dtype) -> np.dtype:
    """float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"expected {name} to be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"expected {name} to be float32 or float64, got {dt}")
    return dt


def check_array(name: str, x, dtype: np.dtype, shape: tuple, alt_shape: tuple | None = None,
                dtype_source: str = "the model's dtype") -> np.ndarray:
    """An ndarray of the model's dtype whose shape matches ``shape`` (or ``alt_shape``).

    Shapes mix ints (must match) with letters, e.g. ('T', 'B', 28): 'B' is any size >= 0 (an empty
    batch gives empty outputs, as in torch), every other letter any size >= 1.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected {name} to be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(f"expected {name} of dtype {dtype} ({dtype_source}), got {x.dtype}")
    check_shape(name, x.shape, shape, alt_shape)
    return x


def check_shape(name: str, actual: tuple, shape: tuple, alt_shape: tuple | None = None) -> None:
    """ValueError unless ``actual`` matches ``shape`` or ``alt_shape`` (ints must match; the batch letter
    'B' is any size >= 0, as in torch, and every other letter any size >= 1)."""
    actual = tuple(actual)
    patterns = [s for s in (shape, alt_shape) if s is not None]
    if not any(_matches(actual, s) for s in patterns):
        want = fmt_shape(shape) + ("" if alt_shape is None else f" or {fmt_shape(alt_shape)}")
        empty = sorted({p for s in patterns if len(s) == len(actual) for a, p in zip(actual, s)
                        if isinstance(p, str) and p != "B" and a == 0})
        why = "".join(f" ({p} must be at least 1)" for p in empty)
        raise ValueError(f"expected {name} of shape {want}, got {fmt_shape(actual)}{why}")


def _matches(actual: tuple, pattern: tuple) -> bool:
    if len(actual) != len(pattern):
        return False
    return all(a >= (0 if p == "B" else 1) if isinstance(p, str) else a == p for a, p in zip(actual, pattern))


def check_lengths(lengths, batch: int, steps: int) -> np.ndarray:
    """One valid length per sequence, each in [1, T]."""
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"expected lengths to be integers, got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"expected lengths of shape ({batch},) (one per sequence), got {fmt_shape(arr.shape)}")
    if arr.size and (arr.min() < 1 or arr.max() > steps):
        bad = arr[(arr < 1) | (arr > steps)][0]
        raise ValueError(f"expected every length in [1, {steps}] (T = {steps}), got {bad}")
    return arr.astype(np.int64)


def check_state_dict(state_dict, shapes: dict, label: str = "state_dict keys",
                     error: type[Exception] = ValueError) -> dict[str, np.ndarray]:
    """``state_dict`` (NumPy arrays or torch tensors) against ``shapes`` {name: shape}: the same keys,
    each of its shape and holding floating-point numbers (integers are refused, not cast). Returns
    {name: NumPy array}, after every check has passed (a caller that copies them in is never left
    half-loaded). A wrong key or shape raises ``error``.

        expected state_dict keys ['weight_ih_l0', ...], got missing ['bias_hh_l0'] and unexpected ['bias_hh_l9']
        expected weight_hh_l0 of shape (4, 4), got (4, 3)
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"expected state_dict to be a dict, got {type(state_dict).__name__}")
    missing = [k for k in shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in shapes]
    if missing or unexpected:
        got = [f"{what} {keys}" for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        raise error(f"expected {label} {list(shapes)}, got {' and '.join(got)}")
    arrays = {}
    for k, v in state_dict.items():
        a = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
        if a.shape != tuple(shapes[k]):
            raise error(f"expected {k} of shape {fmt_shape(tuple(shapes[k]))}, got {fmt_shape(a.shape)}")
        if a.dtype.kind != "f":
            cast = " (not cast silently: convert it first, e.g. with .astype(np.float32))"
            hint = cast if a.dtype.kind in "biu" else ""
            raise TypeError(f"expected {k} to hold floating-point numbers, got dtype {a.dtype}{hint}")
        arrays[k] = a
    return arrays
