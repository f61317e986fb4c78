"""Typed, validated configuration: ``conf/<env>.yaml`` plus ``conf/spark-defaults.conf``.

Every key is checked against the dataclasses below; an unknown or mistyped key is an error that names
the file and the key (with the nearest known key as a hint).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from dream.errors import ConfigError

_REPO_CONF = Path(__file__).resolve().parent.parent / "conf"


@dataclass(frozen=True)
class SparkSettings:
    master: str | None = "local[*]"
    app_name: str = "dream"
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeltaSettings:
    packages: list[str] = field(default_factory=list)
    jar_cache: str = "~/.cache/dream/ivy"


@dataclass(frozen=True)
class Paths:
    warehouse: str = "data/warehouse"
    synthetic_input: str = "data/synth/dream.parquet"


@dataclass(frozen=True)
class SynthSettings:
    persons: int = 20000
    seed: int = 1


@dataclass(frozen=True)
class PseudonymSettings:
    key_file: str | None = None
    create_key_file: bool = False


@dataclass(frozen=True)
class RefreshSettings:
    """The monthly refresh (``dream refresh``): history window, maintenance and the erasure schedule."""

    history_years: int = 11  # years kept in the published layer, as FLIS keeps them
    retention_hours: int = 1080  # VACUUM: files of replaced versions are erased after 45 days
    vacuum: str = "full"  # full | lite (only files the Delta log knows of) | off
    compact_below_mb: int = 8  # OPTIMIZE a table whose files average less than this; 0 = never
    lock_wait_seconds: int = 0  # a second refresh waits this long for the first, then stops
    max_person_drop: int = 20  # percent fewer persons than the last delivery that stops a refresh
    benchmark_months: int = 13  # months YdelsesAktivitetBenchmark publishes per release (rolling 12 + change)


@dataclass(frozen=True)
class Config:
    env: str
    spark: SparkSettings
    delta: DeltaSettings
    paths: Paths
    synth: SynthSettings
    pseudonym: PseudonymSettings
    refresh: RefreshSettings = field(default_factory=RefreshSettings)
    spark_defaults: dict[str, str] = field(default_factory=dict)


def conf_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``explicit``, else ``$DREAM_CONF_DIR``, else ``./conf`` if present, else the checkout's ``conf/``."""
    for candidate in (explicit, os.environ.get("DREAM_CONF_DIR"), "conf"):
        if candidate and Path(candidate, "spark-defaults.conf").is_file():
            return Path(candidate)
    return _REPO_CONF


def load_config(env: str = "local", directory: str | os.PathLike | None = None) -> Config:
    folder = conf_dir(directory)
    path = folder / f"{env}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"no configuration for environment {env!r}: {path} does not exist (known: {known})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    sections = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("env", "spark_defaults")}
    _check_keys(raw, sections, path, "")
    values = {name: _build(get_type_hints(Config)[name], raw.get(name) or {}, path, name) for name in sections}
    defaults = read_spark_defaults(folder / "spark-defaults.conf")
    return Config(env=env, spark_defaults=defaults, **values)


def _check_keys(raw: Any, known: dict[str, Any], path: Path, prefix: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {prefix or 'the file'} must be a mapping of keys to values")
    for key in raw:
        if key not in known:
            hint = difflib.get_close_matches(str(key), list(known), n=1)
            where = f"{prefix}.{key}" if prefix else str(key)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (known keys: {sorted(known)})"
            raise ConfigError(f"{path}: unknown configuration key {where!r}{suggestion}")


def _build(cls: type, raw: Any, path: Path, prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(raw, fields, path, prefix)
    hints = get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        expected = hints[name]
        values[name] = _coerce(value, expected, path, f"{prefix}.{name}")
    return cls(**values)


def _coerce(value: Any, expected: Any, path: Path, key: str) -> Any:
    origin = getattr(expected, "__origin__", None)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key!r} must be a mapping, got {value!r}")
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: {key!r} must be a list, got {value!r}")
        return [str(v) for v in value]
    allowed = getattr(expected, "__args__", (expected,))
    if value is None and type(None) in allowed:
        return None
    if bool in allowed and isinstance(value, bool):
        return value
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if str in allowed and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{path}: {key!r} has the wrong type: {value!r}")


def read_spark_defaults(path: Path) -> dict[str, str]:
    """``key value`` lines as ``spark-defaults.conf`` has them; every key must be a ``spark.`` key."""
    settings: dict[str, str] = {}
    if not path.is_file():
        return settings
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if not key.startswith("spark.") or not value.strip():
            raise ConfigError(
                f"{path}:{number}: {key!r} is not a Spark setting: each line must be 'spark.<key> <value>'"
            )
        settings[key] = value.strip()
    return settings
