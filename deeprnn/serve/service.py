"""What the web page asks of a run, as plain Python: no HTTP here (app.py adds that).

A ``ServedRun`` holds one opened run and only reads it. Every request builds its own recurrent state
(``sample_stream`` and ``engine.logits`` start from ``engine.initial_state``, ``inside.activations``
from zeros), so requests can run side by side in threads: nothing a request computes is seen by
another. The answers are JSON-ready dicts; a request the run cannot answer raises ``RequestError``.
"""

from __future__ import annotations

import json
import math
import secrets
import warnings

import numpy as np

from ..data import UNK, tokenize
from ..data.text import join_tokens
from ..lm.generate import encode_prefix, sample_stream
from ..lm.inside import STATE_NAMES, activations
from ..lm.runs import OpenRun
from ..lm.units import pattern_mask, rank_units
from .requests import Limits, RequestError

TOP = 5  # predictions shown before each token


class ServedRun:
    def __init__(self, run: OpenRun, limits: Limits | None = None, val_text: str | None = None,
                 val_note: str = ""):
        self.run, self.limits = run, limits or Limits()
        self.vocab, self.model = run.vocab, run.cfg.model
        self.params = run.engine.state_dict()  # canonical parameters, read-only from here on
        self.states = STATE_NAMES[self.model.cell]
        self.val_text, self.val_note = val_text, val_note  # the validation split as text, or why not
        self._info = self._build_info()

    # -- the run ---------------------------------------------------------------------------------
    def info(self) -> dict:
        return self._info

    def _build_info(self) -> dict:
        run, V = self.run, len(self.vocab)
        curves = read_curves(run.path / "metrics.jsonl")
        served = [r for r in curves if r["step"] == run.step] or curves[-1:]
        val = served[0] if served else {}
        m = self.model
        return {
            "run": run.path.name, "weights": run.which, "step": run.step, "engine": run.engine.name,
            "config": run.cfg.to_dict(), "parameters": int(sum(v.size for v in self.params.values())),
            "model": {"cell": m.cell, "layers": m.num_layers, "hidden": m.hidden_size, "states": list(self.states)},
            "vocab": {"size": V, "level": self.vocab.level, "tokens": list(self.vocab.idx_to_token)},
            "val_ppl": val.get("val_ppl"), "val_bpc": val.get("val_bpc"), "val_step": val.get("step"),
            "uniform_ppl": float(V), "uniform_bpc": math.log2(V),
            "curves": curves, "limits": self.limits.as_dict(),
            "excerpts": self.val_text is not None, "excerpt_note": self.val_note,
        }

    # -- generate --------------------------------------------------------------------------------
    def start_generation(self, req: dict):
        """(what the stream announces first, an iterator of pieces); the sampling runs as it is read."""
        tokens = tokenize(req["prefix"], self.vocab.level)
        if not tokens:
            raise RequestError("expected a prefix with at least one token, got only whitespace", field="prefix")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown prefix tokens are listed in the answer instead
            ids = encode_prefix(self.vocab, req["prefix"], "map")
        seed = req["seed"] if req["seed"] is not None else secrets.randbits(63)  # reported, so reproducible
        unknown = sorted({t for t in tokens if t not in self.vocab})
        pieces = sample_stream(self.run.engine, self.vocab, ids, req["length"], req["temperature"], req["top_k"],
                               req["top_p"], seed)
        start = {"prefix": req["prefix"], "seed": seed, "length": req["length"], "unknown": unknown[:20]}
        return start, pieces

    # -- read --------------------------------------------------------------------------------------
    def _encode(self, text: str):
        tokens = tokenize(text, self.vocab.level)
        if not tokens:
            raise RequestError("expected a text with at least one token, got only whitespace", field="text")
        return tokens, self.vocab.encode(tokens)  # list of T, (T,)

    def score(self, req: dict) -> dict:
        """Per token t >= 1: p(x_t | x_<t), its surprisal in bits, and the top-5 predictions before it."""
        tokens, ids = self._encode(req["text"])
        engine = self.run.engine
        z, _ = engine.logits(ids[:, None], engine.initial_state(1))  # (T, 1, V)
        z = z[:, 0]  # (T, V)
        logp = z - z.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))  # (T, V) log softmax
        steps = [None]  # nothing predicts the first token
        words = self.vocab.idx_to_token
        for t in range(1, len(ids)):
            lp = logp[t - 1]  # (V,) the prediction made after token t-1
            top = np.argsort(-lp, kind="stable")[:TOP]
            steps.append({"p": _r(math.exp(lp[ids[t]])), "bits": _r(-lp[ids[t]] / math.log(2)),
                          "top": [[words[i], _r(math.exp(lp[i]))] for i in top]})
        bits = [s["bits"] for s in steps[1:]]
        mean = float(np.mean(bits)) if bits else None
        return {"tokens": tokens, "unknown": self._unknown(tokens), "steps": steps, "mean_bits": mean,
                "perplexity": 2 ** mean if mean is not None else None, "uniform_bits": math.log2(len(self.vocab))}

    def _unknown(self, tokens) -> list[int]:
        return [i for i, t in enumerate(tokens) if t not in self.vocab][:200]

    # -- look inside -------------------------------------------------------------------------------
    def activations(self, req: dict) -> dict:
        tokens, ids = self._encode(req["text"])
        H = self.model.hidden_size
        if req["unit"] is None and len(ids) * H > self.limits.max_values:
            raise RequestError(f"expected at most {self.limits.max_values:,} values per answer (the limit), got "
                               f"{len(ids):,} tokens × {H} units = {len(ids) * H:,}; send a shorter text or one "
                               "unit", status=413, field="text", limit=self.limits.max_values)
        values = activations(self.model, self.params, ids).state(req["state"], req["layer"])  # (T, H)
        if req["unit"] is not None:
            values = values[:, req["unit"]]  # (T,)
        return {"tokens": tokens, "layer": req["layer"], "state": req["state"], "unit": req["unit"],
                "values": np.round(values, 4).tolist(), "min": _r(values.min()), "max": _r(values.max())}

    def units(self, req: dict) -> dict:
        tokens, ids = self._encode(req["text"])
        try:
            on = pattern_mask(tokens, req["pattern"], self.vocab.level, timeout=self.limits.pattern_timeout)
        except TimeoutError:
            raise RequestError(f"expected a pattern that runs within {self.limits.pattern_timeout} s on this text "
                               "(the limit), got one that took longer", field="pattern",
                               limit=self.limits.pattern_timeout) from None
        except ValueError as e:
            raise RequestError(str(e), field="pattern") from None
        acts = activations(self.model, self.params, ids)
        try:
            found = rank_units(acts, on, req["top"])
        except ValueError as e:
            raise RequestError(str(e), field="pattern") from None
        units = [{"layer": u.layer, "state": u.state, "unit": u.unit, "r": _r(u.r),
                  "values": np.round(acts.state(u.state, u.layer)[:, u.unit], 4).tolist()} for u in found]
        return {"tokens": tokens, "on": on.astype(int).tolist(), "matched": int(on.sum()), "units": units}

    # -- excerpts of the validation split ------------------------------------------------------------
    def excerpt(self, req: dict) -> dict:
        text = self.val_text
        if text is None:
            raise RequestError(f"this run's validation text is not available: {self.val_note}", status=404)
        n = min(req["length"], len(text))
        last = len(text) - n
        if req["offset"] is None:
            start = int(np.random.default_rng().integers(0, last + 1))
            space = text.find(" ", start, min(start + 40, last))  # begin at a word when one is near
            start = space + 1 if space >= 0 else start
        elif req["offset"] > last:
            raise RequestError(f"expected offset in [0, {last}] for {n} characters of a {len(text)}-character "
                               f"split, got {req['offset']}", field="offset", limit=[0, last])
        else:
            start = req["offset"]
        return {"text": text[start:start + n], "offset": start, "total": len(text)}


def read_curves(path) -> list[dict]:
    """The validation rows of metrics.jsonl: step, val_ppl, val_bpc, train_ppl (damaged lines skipped)."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return rows
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("step"), int) and _finite(r.get("val_ppl")):
            rows.append({k: r[k] for k in ("step", "val_ppl", "val_bpc", "train_ppl") if _finite(r.get(k)) or k == "step"})
    return rows


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _r(x) -> float:
    return round(float(x), 6)


def validation_text(run: OpenRun) -> tuple[str | None, str]:
    """The run's validation split as text (the d2l protocol: the text of its validation windows), and a
    note saying where it came from, or (None, why not) when the corpus cannot be read."""
    from ..lm.data import prepare_data

    d = run.cfg.data
    try:
        data = prepare_data(d, run.cfg.train, vocab=run.vocab)
        if d.protocol == "d2l":
            ids = data.ids[d.num_train:d.num_train + d.num_val + run.cfg.train.num_steps]
        else:
            ids = data.split("val")
    except (OSError, ValueError) as e:  # a missing or changed corpus, a failed download
        return None, " ".join(str(e).split())
    words = [("\ufffd" if t == UNK and data.vocab.level == "char" else t) for t in data.vocab.to_tokens(ids)]
    return join_tokens(words, data.vocab.level), f"{data.name}, validation split ({len(ids):,} tokens)"
