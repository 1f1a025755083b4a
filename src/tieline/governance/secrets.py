"""Secrets: resolved by name from the environment or files, never from code.

A secret `audit_key` is looked up, in order, in `TIELINE_AUDIT_KEY`, in the
file named by `TIELINE_AUDIT_KEY_FILE`, then in `<secrets dir>/audit_key`
(the way container platforms and secrets-manager agents mount them). A
secrets manager plugs in as another `SecretSource` in the chain.

Values travel as `pydantic.SecretStr`, whose str() and repr() are masked, so
a secret that reaches a log line or an error by accident still shows `***`.
Every value resolved is remembered, so that `scrub` can blank it out of any
text before it leaves the process.
"""

from __future__ import annotations

import os
import secrets as _random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from tieline.errors import ConfigurationError

_seen_lock = threading.Lock()
_seen: set[str] = set()


class SecretSource(Protocol):
    """Anything that can look a secret up by name (None when it has none)."""

    def lookup(self, name: str) -> str | None:
        """The secret's value, or None."""
        ...


class EnvSecrets:
    """`TIELINE_<NAME>`, or the file named by `TIELINE_<NAME>_FILE`."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def lookup(self, name: str) -> str | None:
        """The value from the environment, or from the file it names."""
        variable = f"TIELINE_{name.upper()}"
        value = self._environ.get(variable)
        if value:
            return value
        path = self._environ.get(f"{variable}_FILE")
        return _read(Path(path)) if path else None


class FileSecrets:
    """One file per secret in a folder, named after the secret."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lookup(self, name: str) -> str | None:
        """The file's content without its trailing newline, or None."""
        path = self.folder / name
        return _read(path) if path.is_file() else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as err:
        raise ConfigurationError(
            f"cannot read secret file {path.name}: {err.strerror}"
        ) from err


class SecretResolver:
    """Looks secrets up through a chain of sources, first answer wins."""

    def __init__(self, sources: Sequence[SecretSource]) -> None:
        self.sources = list(sources)

    def get(self, name: str) -> SecretStr | None:
        """The secret `name`, or None when no source has it."""
        for source in self.sources:
            value = source.lookup(name)
            if value:
                remember(value)
                return SecretStr(value)
        return None

    def require(self, name: str) -> SecretStr:
        """The secret `name`; raises ConfigurationError naming it if missing."""
        value = self.get(name)
        if value is None:
            raise ConfigurationError(f"secret {name} is not set")
        return value

    def get_or_create(self, name: str, folder: Path) -> SecretStr:
        """The secret `name`; if no source has it, a new random one in `folder`.

        This is the embedded default, so a fresh install runs with nothing to
        configure; a production install mounts the secret instead.
        """
        value = self.get(name)
        if value is not None:
            return value
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # Another process made it first; read theirs.
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(_random.token_urlsafe(48))
        created = FileSecrets(folder).lookup(name)
        if not created:
            raise ConfigurationError(f"secret {name} could not be created")
        remember(created)
        return SecretStr(created)


def default_resolver(secrets_dir: Path) -> SecretResolver:
    """Environment first, then the secrets folder."""
    return SecretResolver([EnvSecrets(), FileSecrets(secrets_dir)])


def remember(value: str) -> None:
    """Note a value as secret, so that `scrub` blanks it."""
    # Short values would blank ordinary words; no real secret is this short.
    if len(value) >= 8:
        with _seen_lock:
            _seen.add(value)


def scrub(text: str) -> str:
    """`text` with every secret seen by this process replaced by `***`."""
    with _seen_lock:
        known = sorted(_seen, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "***")
    return text
