"""A fit's config from the command line: defaults (or a base config), then a ``--config`` file,
then the flags given (:mod:`biovae.cli.options` declares them); a bad value is blamed on the
file line or the flag that set it."""

from __future__ import annotations

import argparse
import re
from typing import Any

from biovae.cli.options import FIT_OPTIONS
from biovae.config import FitConfig, from_dict, load_toml, merge, to_dict
from biovae.config_io import toml_line
from biovae.errors import ConfigError


def flags_to_dict(args: argparse.Namespace) -> dict[str, Any]:
    """Nested dict of the config fields set explicitly on the command line."""
    out: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith("cfg__") or value is None:
            continue
        node = out
        *parents, leaf = key[5:].split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def build_config(args: argparse.Namespace, base: FitConfig | None = None) -> FitConfig:
    """FitConfig from defaults (or ``base``), then ``--config`` TOML, then explicit flags."""
    data = to_dict(base or FitConfig())
    config_path = getattr(args, "config", None)
    if config_path:
        data = merge(data, load_toml(config_path))
    flags = flags_to_dict(args)
    try:
        if _replaces_a_value(data, flags):  # the file's own error, not hidden by the flags
            from_dict(FitConfig, data, "config")
        return from_dict(FitConfig, merge(data, flags), "config")
    except ConfigError as exc:
        raise ConfigError(f"{exc} (from {_culprit(exc, data, config_path, flags)})") from None


def _replaces_a_value(data: dict[str, Any], flags: dict[str, Any]) -> bool:
    """Whether merging ``flags`` would put a table of keys where ``data`` holds a value that
    is not one (a config file's ``likelihood = "nb"`` for ``[model.likelihood] name = "nb"``):
    a flag setting one key of that table would replace the file's value unseen."""
    return any(
        isinstance(value, dict)
        and (not isinstance(data.get(key), dict) or _replaces_a_value(data[key], value))
        for key, value in flags.items()
    )


def _culprit(
    exc: ConfigError, data: dict[str, Any], config_path: str | None, flags: dict[str, Any]
) -> str:
    """Where the bad value of ``exc`` came from: the config file (and the line that sets the
    key the message names, when found) when the file alone (over the defaults) gives that same
    error, otherwise the command-line options (the flag that set the field the message names,
    when one did)."""
    if config_path:
        try:
            from_dict(FitConfig, data, "config")
        except ConfigError as own:
            if str(own) == str(exc):
                key = re.search(
                    r"\bconfig\.([\w.]*\w)|\b((?:data|model|objective|train)(?:\.\w+)*)", str(exc)
                )
                line = toml_line(config_path, key.group(1) or key.group(2)) if key else None
                return f"config file {config_path}" + (f", line {line}" if line else "")
    return _flag_of(str(exc), flags) or "options"


def _flag_of(message: str, flags: dict[str, Any]) -> str | None:
    """``"option --epochs"`` when ``message`` names a field (``train.epochs``) set by a flag."""
    for opt in FIT_OPTIONS:
        *parents, leaf = opt.field.split(".")
        node: Any = flags
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if leaf in node and re.search(rf"\b{re.escape(opt.field)}\b", message):
            return f"option {opt.flag}"
    return None
