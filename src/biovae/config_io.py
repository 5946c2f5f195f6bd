"""Plain data (JSON, TOML) to and from the frozen configs of :mod:`biovae.config`: typed
coercion that rejects unknown keys and wrong types, TOML reading and deep merging."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import typing
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from biovae.errors import ConfigError

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of a config (tuples become lists)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build config ``cls`` from a plain dict, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key {where}.{unknown[0]}; valid keys are: {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ConfigError(f"{where}: {exc}") from exc


def typed(cfg: Any, section: str) -> None:
    """Give every field of a config its declared type, as :func:`from_dict` does for plain
    data: numpy numbers become ``int``/``float``, lists tuples; a value of another type (a
    fractional number for a whole one, text for a number) or a non-finite float is a
    ConfigError naming ``section.field``. Nested configs are checked by their own
    construction; a nested field holding anything else (``ModelConfig(likelihood="nb")``) is a
    ConfigError too, not an AttributeError when the model is built."""
    for name, hint in _hints(type(cfg)).items():
        where = f"{section}.{name}" if section else name
        value = getattr(cfg, name)
        if not dataclasses.is_dataclass(hint):
            object.__setattr__(cfg, name, _coerce(hint, value, where))
        elif not isinstance(value, hint):
            raise ConfigError(
                f"{where} must be a biovae.config.{hint.__name__}, got "
                f"{type(value).__name__} {value!r}; e.g. {name}={hint.__name__}(...)"
            )


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is _union_type()):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(_coerce(args[0], v, where) for v in value)
    return _scalar(hint, value, where)


def _union_type() -> Any:
    import types

    return types.UnionType


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return bool(value)
    number = not isinstance(value, (bool, np.bool_))
    if hint is int:
        if not (number and isinstance(value, (int, np.integer))):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if hint is float:
        if not (number and isinstance(value, (int, float, np.integer, np.floating))):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, os.PathLike) or type(value).__name__ == "device":  # a torch.device
            return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into a dict (validated later by :func:`from_dict`); a ``.json``
    file is read as JSON, so a model folder's ``config.json`` can be given to refit it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    p = Path(path)
    if p.is_dir():
        inside = p / "config.json"
        fix = f"give its config file, {inside}" if inside.is_file() else "give a TOML file"
        raise ConfigError(f"config file {p} is a folder, not a file; {fix}")
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; check the path given to --config")
    if p.suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(
            f"config file {p}: YAML is not read; write the same tables as TOML (.toml) or JSON"
        )
    if p.suffix.lower() == ".json":
        return json_object(p, fix="; give a model's config.json or a TOML file")
    try:  # utf-8-sig: an editor's byte-order mark is not a TOML error
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {_not_utf8(p)}") from exc
    if "\r" in text and "\n" not in text:  # classic Mac OS line ends, which TOML lacks
        text = text.replace("\r", "\n")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc


def _not_utf8(path: Path) -> str:
    """Why ``path`` is no UTF-8 text, and the fix (:mod:`biovae.data._text`, imported here
    only: the data package is no import of a config)."""
    from biovae.data._text import not_utf8_reason

    return not_utf8_reason(path, "the file")


def toml_line(path: str | Path, dotted: str) -> int | None:
    """The line (from 1) of a TOML file that sets ``dotted`` (e.g. ``model.network.hidden``)
    or opens it as a table (``[model.network]``), or None: tomllib gives no positions of keys,
    so an error about a key can point at its line only by finding it in the text."""
    import re

    table = ""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, 1):
        head = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if head:
            table = _unquoted(head.group(1))
            if table == dotted:
                return number
            continue
        key = re.match(r"\s*([A-Za-z0-9_.\-\"' ]+?)\s*=", line)
        if key and ".".join(filter(None, (table, _unquoted(key.group(1))))) == dotted:
            return number
    return None


def _unquoted(key: str) -> str:
    """A dotted TOML key with its parts' quotes and spaces removed."""
    return ".".join(part.strip().strip("\"'") for part in key.split("."))


def json_object(path: Path, error: type[Exception] = ConfigError, fix: str = "") -> dict[str, Any]:
    """The JSON object in ``path``, or one line (an ``error``, ending in ``fix``) saying the
    file is not valid JSON or not an object."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark is no error
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid JSON: {_not_utf8(path)}{fix}") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc}){fix}") from exc
    except RecursionError:  # json's parser recurses once per level of nesting
        raise error(f"{path}: not valid JSON (nested too deeply){fix}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: not a JSON object{fix}")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (override wins)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def is_device(name: str) -> bool:
    """Whether ``name`` parses as a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...);
    whether that device exists here is found out when training starts."""
    if name == "cpu":  # the default: known without importing torch (the CLI's --help builds it)
        return True
    import torch

    try:
        torch.device(name)
    except (RuntimeError, TypeError):
        return False
    return True
