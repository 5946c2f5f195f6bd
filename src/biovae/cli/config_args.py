"""A command's config from the command line: defaults (or a base config), then a ``--config``
file, then the flags given (:mod:`biovae.cli.options` declares ``biovae fit``'s); a bad value is
blamed on the file line or the flag that set it."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from biovae.cli.options import FIT_OPTIONS
from biovae.config import FitConfig, from_dict, load_toml, merge, to_dict
from biovae.config_io import toml_line
from biovae.errors import ConfigError

T = TypeVar("T")


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
    flag_names = {opt.field: opt.flag for opt in FIT_OPTIONS}
    data = to_dict(base or FitConfig())
    path = getattr(args, "config", None)
    return layered(FitConfig, data, path, flags_to_dict(args), flag_names, _known_likelihood)


def _known_likelihood(cfg: FitConfig) -> None:
    """A likelihood name the registry lacks is an error of the field that named it, so that
    the file line (or the flag) that set it is blamed, as for any other bad value."""
    from biovae.likelihoods import available

    name = cfg.model.likelihood.name
    if name not in available():
        raise ConfigError(
            f"unknown likelihood {name!r} in config.model.likelihood.name; choose one of: "
            + ", ".join(available())
        )


def layered(
    cls: type[T],
    data: dict[str, Any],
    config_path: str | None,
    flags: dict[str, Any],
    flag_names: Mapping[str, str],
    check: Callable[[T], None] | None = None,
) -> T:
    """Config ``cls`` from plain ``data`` (its defaults), the file ``config_path`` merged over
    them, then ``flags`` (nested like the config) over both; ``flag_names`` maps a dotted field
    to the flag that sets it (``"train.epochs"`` → ``"--epochs"``), to blame a bad value on it.
    ``check``: a further test of the config (a ConfigError naming the field), blamed alike."""

    def build(values: dict[str, Any]) -> T:
        cfg = from_dict(cls, values, "config")
        if check is not None:
            check(cfg)
        return cfg

    if config_path:
        data = merge(data, load_toml(config_path))
    try:
        if _replaces_a_value(data, flags):  # the file's own error, not hidden by the flags
            build(data)
        return build(merge(data, flags))
    except ConfigError as exc:
        where = _culprit(build, cls, exc, data, config_path, flags, flag_names)
        raise ConfigError(f"{exc} (from {where})") from None


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
    build: Callable[[dict[str, Any]], Any],
    cls: type,
    exc: ConfigError,
    data: dict[str, Any],
    config_path: str | None,
    flags: dict[str, Any],
    flag_names: Mapping[str, str],
) -> str:
    """Where the bad value of ``exc`` came from: the config file (and the line that sets the
    key the message names, when found) when the file alone (over the defaults) gives that same
    error, otherwise the command-line options (the flag that set the field the message names,
    when one did)."""
    key = _named_field(cls, str(exc))
    if config_path:
        try:
            build(data)
        except ConfigError as own:
            if str(own) == str(exc):
                line = toml_line(config_path, key) if key else None
                return f"config file {config_path}" + (f", line {line}" if line else "")
    flag = flag_names.get(key or "")
    return f"option {flag}" if flag and _is_set(flags, key) else "options"


def _named_field(cls: type, message: str) -> str | None:
    """The dotted field (or key) of ``cls`` a config error names: in full (``config.train.lr``,
    ``train.epochs``) or by its own table (``network.dropout``, from the check of the
    ``model.network`` table, which does not know where it is nested)."""
    full = re.search(r"\bconfig\.([\w.]*\w)", message)
    if full:
        return full.group(1)
    paths = _table_paths(cls)
    names = "|".join(sorted(map(re.escape, paths), key=len, reverse=True))
    found = re.search(rf"(?<![\w.])((?:{names})(?:\.\w+)*)", message)
    if not found:
        return None
    head, _, rest = found.group(1).partition(".")
    return ".".join(filter(None, (paths[head], rest)))


def _table_paths(cls: type, prefix: str = "") -> dict[str, str]:
    """The top-level keys of config ``cls`` and its nested tables, each by its own name: its
    dotted path (``{"train": "train", "network": "model.network", ...}``)."""
    paths = {f.name: f.name for f in dataclasses.fields(cls)} if not prefix else {}
    for f in dataclasses.fields(cls):
        table = f.default_factory
        if table is not dataclasses.MISSING and dataclasses.is_dataclass(table):
            paths.setdefault(f.name, prefix + f.name)
            for name, path in _table_paths(table, prefix + f.name + ".").items():
                paths.setdefault(name, path)
    return paths


def _is_set(flags: dict[str, Any], field: str) -> bool:
    """Whether the nested ``flags`` set the dotted ``field``."""
    *parents, leaf = field.split(".")
    node: Any = flags
    for part in parents:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return isinstance(node, dict) and leaf in node
