"""The cells' equations in their docstrings stay true, as test_compat_docs.py keeps doc links true.

Each of numpy_engine/{elman,gru,lstm}.py holds a marked block of forward equations (a line starting
"Forward" and ending "::", then the indented equations) and a marked "Backward ...::" block. The torch
scratch modules torch_engine/{elman,gru,lstm}.py mirror the forward block exactly. These tests

* keep each pair of forward blocks identical (read with ``ast``, so torch need not be installed);
* evaluate every line of each backward block, as written, on one float64 step and compare the result
  with what the hand-written backward pass returns, so an equation cannot drift from the code.
"""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

import numpy as np
import pytest

from deeprnn.numpy_engine import (
    gru_step_backward, gru_step_forward, lstm_step_backward, lstm_step_forward, rnn_step_backward,
    rnn_step_forward,
)

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "deeprnn"
CELLS = ("elman", "gru", "lstm", "ln_elman", "ln_gru", "ln_lstm")


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=True) or ""


def block(path: Path, title: str) -> list[str]:
    """The indented lines after the one paragraph of ``path``'s docstring that starts ``title`` and ends '::'."""
    lines = docstring(path).splitlines()
    ends = []
    for i, s in enumerate(lines):
        if s.startswith(title) and (i == 0 or not lines[i - 1].strip()):
            j = i
            while j + 1 < len(lines) and lines[j + 1].strip() and not lines[j].rstrip().endswith("::"):
                j += 1
            if lines[j].rstrip().endswith("::"):
                ends.append(j)
    assert len(ends) == 1, (f"{path.relative_to(ROOT)}: expected one docstring paragraph starting {title!r} and "
                            f"ending '::' (it marks the equation block), found {len(ends)}")
    out = []
    for s in lines[ends[0] + 1:]:
        if s.strip() and not s.startswith("    "):
            break
        out.append(s)
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    assert out, f"{path.relative_to(ROOT)}: the {title!r} block is empty"
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_torch_scratch_modules_mirror_the_numpy_forward_equations(cell):
    numpy_path, torch_path = PKG / "numpy_engine" / f"{cell}.py", PKG / "torch_engine" / f"{cell}.py"
    ours, theirs = block(numpy_path, "Forward"), block(torch_path, "Forward")
    diff = "\n".join(difflib.unified_diff(ours, theirs, str(numpy_path.relative_to(ROOT)),
                                          str(torch_path.relative_to(ROOT)), lineterm=""))
    assert ours == theirs, f"the forward equation blocks differ; make them identical:\n{diff}"


# ---- the backward blocks, evaluated ----------------------------------------------------------------

def to_python(rhs: str) -> str:
    """One right-hand side in the docstrings' notation -> a NumPy expression over the symbols' names.

    ⊙ is *, juxtaposition of two operands is a matrix product, ᵀ a transpose, x² a square, [a, b] the
    gates side by side, Σ_b a sum over the batch of all that follows; Σ_t drops out (one step);
    ∇N(u; dn), the LayerNorm's backward, is a call dN(u, dn).
    """
    py = rhs.replace("Σ_t Σ_b ", "Σ_b ").replace("Σ_t ", "").replace("∇N(", "dN(").replace("; ", ", ")
    py = re.sub(r"Σ_b (.+)$", r"(\1).sum(axis=0)", py)
    py = py.replace("φ'(a_t)", "dphi").replace("tanh²(c_t)", "tanh(c_t)**2").replace("²", "**2")
    py = py.replace("_{t-1}", "_prev").replace("ᵀ", ".T").replace("⊙", "*")
    py = re.sub(r"^\[(.*)\]$", r"concat([\1])", py)
    return re.sub(r"(?<=[\w)\]])\s+(?=[\w(])", " @ ", py)  # two operands side by side: a product


# "lhs = [lhs = ...] rhs" and then, after two or more spaces, the shape and comment columns
EQUATION = re.compile(r"^((?:[^\s=]+\s+=\s+)+)(.*?)(?:\s{2,}.*)?$")


def evaluate(path: Path, env: dict) -> dict:
    """Run the backward block of ``path`` line by line in ``env``; returns env with every left side."""
    env = dict(env, tanh=np.tanh, concat=lambda parts: np.concatenate(parts, axis=-1))
    for line in block(path, "Backward"):
        m = EQUATION.match(line.strip())
        if m is None:
            continue  # a continuation of the comment column
        *lhs, rhs = [s.strip() for s in re.split(r"\s+=\s+", m.group(1) + m.group(2))]
        value = eval(to_python(rhs), {"__builtins__": {}}, env)  # noqa: S307 (our own docstring)
        for name in lhs:
            env[name.replace("_{t-1}", "_prev")] = value
    return env


def check(env: dict, expected: dict) -> None:
    for name, want in expected.items():
        assert name in env, f"the backward block has no line for {name}"
        np.testing.assert_allclose(env[name], want, rtol=1e-12, atol=1e-12, err_msg=f"{name} as written")


def randn(rng, *shape):
    return rng.standard_normal(shape)


def params(rng, G, I, P, H=None):
    p = {"weight_ih": randn(rng, G, I), "weight_hh": randn(rng, G, P), "bias_ih": randn(rng, G),
         "bias_hh": randn(rng, G)}
    if H is not None:
        p["weight_hr"] = randn(rng, P, H)
    return p


def names(p: dict) -> dict:
    return {"W_ih": p["weight_ih"], "W_hh": p["weight_hh"], "W_hr": p.get("weight_hr")}


def grads(dx, dh_prev, g: dict) -> dict:
    out = {"dx_t": dx, "dh_prev": dh_prev, "dW_ih": g["weight_ih"], "dW_hh": g["weight_hh"],
           "db_ih": g["bias_ih"], "db_hh": g["bias_hh"]}
    if "weight_hr" in g:
        out["dW_hr"] = g["weight_hr"]
    return out


def test_lstm_backward_equations_compute_what_the_code_computes():
    rng = np.random.default_rng(0)
    B, I, H, P = 3, 4, 5, 2
    p = params(rng, 4 * H, I, P, H)
    x, h, c = randn(rng, B, I), randn(rng, B, P), randn(rng, B, H)
    h_next, c_next, cache = lstm_step_forward(x, h, c, p)
    dh, dc = randn(rng, B, P), randn(rng, B, H)
    dx, dh_prev, dc_prev, g = lstm_step_backward(dh, dc, cache)
    i, f, gg, o = np.split(cache.gates, 4, axis=1)
    env = evaluate(PKG / "numpy_engine" / "lstm.py", dict(
        names(p), x_t=x, h_prev=h, c_prev=c, c_t=c_next, m_t=cache.m, i_t=i, f_t=f, g_t=gg, o_t=o,
        dh_t=dh, dc=dc))
    check(env, dict(grads(dx, dh_prev, g), dc_prev=dc_prev))


def test_gru_backward_equations_compute_what_the_code_computes():
    rng = np.random.default_rng(1)
    B, I, H = 3, 4, 5
    p = params(rng, 3 * H, I, H)
    x, h = randn(rng, B, I), randn(rng, B, H)
    _, cache = gru_step_forward(x, h, p)
    dh = randn(rng, B, H)
    dx, dh_prev, g = gru_step_backward(dh, cache)
    r, z, n = np.split(cache.gates, 3, axis=1)
    env = evaluate(PKG / "numpy_engine" / "gru.py", dict(
        names(p), x_t=x, h_prev=h, r_t=r, z_t=z, n_t=n, gh_n=cache.gh[:, 2 * H:], dh_t=dh))
    check(env, grads(dx, dh_prev, g))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_backward_equations_compute_what_the_code_computes(nonlinearity):
    rng = np.random.default_rng(2)
    B, I, H = 3, 4, 5
    p = params(rng, H, I, H)
    x, h = randn(rng, B, I), randn(rng, B, H)
    h_t, cache = rnn_step_forward(x, h, p, nonlinearity)
    dh = randn(rng, B, H)
    dx, dh_prev, g = rnn_step_backward(dh, cache)
    # φ'(a_t) in terms of h_t, as the block's comment column states it for each nonlinearity
    dphi = 1 - h_t**2 if nonlinearity == "tanh" else (h_t > 0).astype(h_t.dtype)
    env = evaluate(PKG / "numpy_engine" / "elman.py", dict(names(p), x_t=x, h_prev=h, dh_t=dh, dphi=dphi))
    check(env, grads(dx, dh_prev, g))


def test_the_translation_reads_the_notation():
    assert to_python("dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)") == "dh_t * (1 - z_t) * (1 - n_t**2)"
    assert to_python("dgh W_hh + dh_t ⊙ z_t") == "dgh @ W_hh + dh_t * z_t"
    assert to_python("Σ_t dh_tᵀ m_t") == "dh_t.T @ m_t"
    assert to_python("Σ_t Σ_b da_t") == "(da_t).sum(axis=0)"
    assert to_python("[da_r, da_z, da_n ⊙ r_t]") == "concat([da_r, da_z, da_n * r_t])"
    assert to_python("Σ_t Σ_b ds_t ⊙ N(c_t)") == "(ds_t * N(c_t)).sum(axis=0)"
    assert to_python("∇N(h_{t-1} W_hhᵀ; da_t ⊙ γ_hh)") == "dN(h_prev @ W_hh.T, da_t * γ_hh)"
