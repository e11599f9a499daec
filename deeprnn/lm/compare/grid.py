"""The grid of a comparison: ``cell=lstm,gru num_layers=1,2`` -> four run configurations.

A grid item is ``KEY=V1,V2,...``. KEY is a config field, with its section (``model.cell``) or without
it when the name is unique (``cell``). Each value is parsed with the field's type: int, float, bool
(true/false, yes/no, 1/0), text, or for a list field (``corpus``, ``splits``) items joined by ``+``
(``corpus=timemachine,timemachine+tinyshakespeare`` is two runs: one book, then two). Every cell of the
grid is one combination of values, in the order the items are given, the last varying fastest.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from dataclasses import dataclass, fields
from pathlib import Path

from ...errors import ConfigError
from ..config import SECTIONS, RunConfig, merge

LIST_SEPARATOR = "+"  # between the items of one list value
MAX_NAME = 120  # characters of a run folder's name, at most
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Axis:
    """One varied setting and its values, parsed."""

    section: str  # "model"
    name: str  # "cell"
    values: tuple  # ("lstm", "gru")
    text: str  # the grid item as given, for messages

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"


@dataclass(frozen=True)
class Cell:
    """One combination of the grid's values: a run."""

    name: str  # the run folder's name under OUT, from the varied settings, e.g. "cell=gru,num_layers=2"
    settings: tuple  # ((Axis, value), ...) in grid order

    def overrides(self) -> dict:
        """{"model": {"cell": "gru", ...}, ...}, for config.merge."""
        out: dict = {}
        for axis, value in self.settings:
            out.setdefault(axis.section, {})[axis.name] = value
        return out

    def labels(self) -> dict:
        """{"cell": "gru", "num_layers": "2"}: the settings as the table shows them."""
        return {axis.name: show(value) for axis, value in self.settings}

    def config(self, base: RunConfig) -> RunConfig:
        """``base`` with this cell's settings (a ConfigError names the grid item that does not fit)."""
        try:
            return merge(copy.deepcopy(base), self.overrides(), "--grid")
        except ConfigError as e:
            given = " ".join(f"{axis.name}={show(value)}" for axis, value in self.settings)
            raise ConfigError(f"--grid: the run {given} is not a valid configuration: {e}") from None


def show(value) -> str:
    """A value as the grid writes it: lists joined by '+', booleans lower-case."""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(show(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def parse_grid(items: list[str], base: RunConfig | None = None) -> list[Axis]:
    """The axes of ``items`` ("KEY=V1,V2"); each value is checked on ``base`` (default: the defaults)."""
    if not items:
        raise ConfigError("expected at least one --grid item such as cell=lstm,gru, got none")
    axes: list[Axis] = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise ConfigError(f"--grid {item}: expected KEY=VALUE[,VALUE...] such as cell=lstm,gru, got {item!r}")
        section, name = resolve_key(key.strip(), item)
        if any(a.key == f"{section}.{name}" for a in axes):
            raise ConfigError(f"--grid {item}: expected each setting once, got {section}.{name} twice")
        default = getattr(getattr(RunConfig(), section), name)
        values = tuple(parse_value(v.strip(), default, f"{section}.{name}", item) for v in raw.split(","))
        if len(set(map(show, values))) != len(values):
            raise ConfigError(f"--grid {item}: expected distinct values, got {raw!r}")
        axis = Axis(section, name, values, item)
        for value in values:  # a value the field refuses (a choice, a range) is named now, before any run
            try:
                merge(copy.deepcopy(base or RunConfig()), {section: {name: value}}, "--grid")
            except ConfigError as e:
                raise ConfigError(f"--grid {item}: {str(e).removeprefix('--grid: ')}") from None
        axes.append(axis)
    return axes


def resolve_key(key: str, item: str) -> tuple[str, str]:
    """("model", "cell") for "cell" or "model.cell"."""
    names = {s: [f.name for f in fields(cls)] for s, cls in SECTIONS.items()}
    section, dot, name = key.rpartition(".")
    if dot:
        if section in names and name in names[section]:
            return section, name
    else:
        owners = [s for s, ns in names.items() if key in ns]
        if len(owners) == 1:
            return owners[0], key
        if owners:
            raise ConfigError(f"--grid {item}: {key} is a setting of {' and '.join(owners)}; expected one of "
                              f"{', '.join(f'{s}.{key}' for s in owners)}")
    every = [n for ns in names.values() for n in ns] + [f"{s}.{n}" for s, ns in names.items() for n in ns]
    close = difflib.get_close_matches(key, every, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(f"--grid {item}: expected a config field such as cell or model.cell, got {key!r}{hint}")


def parse_value(text: str, default, key: str, item: str):
    """``text`` as a value of the field whose default is ``default``."""
    if isinstance(default, list):
        kind = type(default[0]) if default else str
        return [parse_value(t.strip(), kind(), key, item) for t in text.split(LIST_SEPARATOR)]
    kind = type(default)
    try:
        if kind is bool:
            if text.lower() not in TRUE + FALSE:
                raise ValueError
            return text.lower() in TRUE
        if not text:
            raise ValueError
        return kind(text)
    except ValueError:
        raise ConfigError(f"--grid {item}: expected {key} to be {kind.__name__}, got {text!r}") from None


def expand(axes: list[Axis]) -> list[Cell]:
    """Every combination of the axes' values, the last axis varying fastest, each with a unique name."""
    cells, taken = [], set()
    for combo in itertools.product(*(a.values for a in axes)):
        settings = tuple(zip(axes, combo))
        name = run_name(settings)
        stem, n = name, 2
        while name in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name)
        cells.append(Cell(name, settings))
    return cells


def run_name(settings) -> str:
    """A folder name from the varied settings: "cell=gru,num_layers=2"; paths become their stems."""
    parts = []
    for axis, value in settings:
        shown = LIST_SEPARATOR.join(map(_short, value)) if isinstance(value, list) else _short(value)
        parts.append(f"{axis.name}={shown}")
    name = re.sub(r"[^\w.+=,-]", "_", ",".join(parts))
    return name if len(name) <= MAX_NAME else name[:MAX_NAME]


def _short(value) -> str:
    """A file path as its stem ("books/a.txt" -> "a"), anything else as show() writes it."""
    if isinstance(value, str) and ("/" in value or "\\" in value or Path(value).suffix):
        return Path(value).stem
    return show(value)
