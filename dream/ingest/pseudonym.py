"""Pseudonymisation: person_id = lowercase hex HMAC-SHA256(key, pnr).

The key is read from ``$DREAM_PSEUDONYM_KEY`` or the configured key file. It reaches Spark tasks as a
broadcast variable, never as a literal in an expression, so it stays out of logs, query plans and the
Spark UI; nothing here logs it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import pyarrow as pa

from dream.config import PseudonymSettings
from dream.errors import ConfigError

log = logging.getLogger(__name__)
KEY_ENV = "DREAM_PSEUDONYM_KEY"


def load_key(settings: PseudonymSettings) -> bytes:
    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode("utf-8")
    if not settings.key_file:
        raise ConfigError(f"no pseudonymisation key: set {KEY_ENV} or pseudonym.key_file in the configuration")
    path = Path(settings.key_file).expanduser()
    if not path.exists():
        if not settings.create_key_file:
            raise ConfigError(f"the pseudonymisation key file {path} does not exist; create it or set {KEY_ENV}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        log.warning("Created a new pseudonymisation key file at %s (keep it: person ids depend on it)", path)
    key = path.read_text(encoding="utf-8").strip().encode("utf-8")
    if len(key) < 16:
        raise ConfigError(f"the pseudonymisation key in {path} is too short (at least 16 characters)")
    return key


def pseudonymise(key: bytes, pnr: str) -> str:
    return hmac.new(key, pnr.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymise_array(key: bytes, pnrs: pa.Array) -> pa.Array:
    """One HMAC per person (not per cell), done once per input row: the same value as ``pseudonymise``,
    with the key's inner and outer SHA-256 states prepared once (RFC 2104), which halves the cost."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def one(pnr: str) -> str:
        h = inner.copy()
        h.update(pnr.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()

    return pa.array([None if p is None else one(p) for p in pnrs.to_pylist()], pa.string())
