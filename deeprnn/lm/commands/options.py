"""Flags built from the config dataclasses, and the layering defaults < preset < TOML < flags.

Every config field gets a flag named after it (``train.max_steps`` -> ``--max-steps``), plus a few
short aliases, so a new field is on the command line without further code.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from ...errors import ConfigError
from ..config import CHOICES, SECTIONS, RunConfig, field_comments, merge
from ..presets import PRESETS
from ..requirements import require

ALIASES = {"num_layers": ["--layers"], "hidden_size": ["--hidden"], "embedding_dim": ["--embedding"]}
LIST_ITEMS = {"corpus": (str, "+"), "val_corpus": (str, "+"), "splits": (float, 3), "betas": (float, 2)}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"{section} settings (override preset and --config)")
        comments = field_comments(cls)
        for f in fields(cls):
            about = comments.get(f.name, "").replace("%", "%%")
            flags = [f"--{f.name.replace('_', '-')}"] + ALIASES.get(f.name, [])
            default = getattr(cls(), f.name)
            kw: dict = {"dest": f"cfg__{section}__{f.name}", "default": None}
            if f.name in LIST_ITEMS:
                kw["type"], kw["nargs"] = LIST_ITEMS[f.name]
            elif isinstance(default, bool) and default:  # on by default: --no-NAME turns it off
                kw["action"] = argparse.BooleanOptionalAction
                group.add_argument(*flags, **kw, help=f"{about} (default on)".lstrip())
                continue
            elif isinstance(default, bool):
                kw.update(action="store_const", const=True)
                group.add_argument(*flags, **kw, help=f"{about} (default off)".lstrip())
                continue
            else:
                kw["type"] = type(default)
            if f.name in CHOICES:
                kw["choices"] = CHOICES[f.name]
            shown = " ".join(map(str, default)) if isinstance(default, list) else repr(default)
            kw["help"] = f"{about} (default {shown})".lstrip()
            kw["metavar"] = f.name.upper() if "choices" not in kw else None
            group.add_argument(*flags, **kw)


ALLOW_LARGE_HELP = "load the model even if it seems larger than the free memory (see deeprnn/lm/memory.py)"


def run_overrides(args: argparse.Namespace) -> dict:
    """The train settings that eval and generate may change in a run's config (how it runs, not what it is)."""
    pairs = (("engine", args.engine), ("device", args.device), ("threads", args.threads),
             ("allow_large_model", args.allow_large_model))
    return {k: v for k, v in pairs if v is not None and v is not False}


def flag_overrides(args: argparse.Namespace) -> dict:
    """{"model": {...}, ...} for the flags given on the command line."""
    out: dict = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            out.setdefault(section, {})[name] = value
    return out


def load_toml(path: str) -> dict:
    """The tables of a TOML config file (ConfigError if missing or not TOML; other OSErrors as they are)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = require("tomli", "reading --config TOML files on Python 3.10", "pip install tomli")
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: expected TOML, got a syntax error ({e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: expected TOML (UTF-8 text), got byte 0x{e.object[e.start]:02x} at offset "
                          f"{e.start}") from None


def build_config(preset: str | None, config_file: str | None, overrides: dict) -> RunConfig:
    cfg = RunConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"expected a preset among {', '.join(PRESETS)}, got {preset!r}")
        merge(cfg, PRESETS[preset], f"preset {preset}")
    if config_file is not None:
        merge(cfg, load_toml(config_file), config_file)
    merge(cfg, overrides, "command line")
    return cfg
