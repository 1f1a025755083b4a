"""The secrets resolver: environment, files, a pluggable chain, masking."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tieline.errors import ConfigurationError
from tieline.governance.secrets import (
    EnvSecrets,
    FileSecrets,
    SecretResolver,
    default_resolver,
    scrub,
)


def test_the_environment_gives_a_value_or_names_a_file(tmp_path: Path) -> None:
    mounted = tmp_path / "odoo_password"
    mounted.write_text("from-a-mounted-file\n")
    source = EnvSecrets(
        {
            "TIELINE_WEBHOOK_SECRET": "from-the-env",
            "TIELINE_ODOO_PASSWORD_FILE": str(mounted),
        }
    )

    assert source.lookup("webhook_secret") == "from-the-env"
    assert source.lookup("odoo_password") == "from-a-mounted-file"
    assert source.lookup("absent") is None


def test_a_folder_holds_one_file_per_secret(tmp_path: Path) -> None:
    (tmp_path / "database_url").write_text("postgresql://u:pw-in-a-file@db/x")

    assert (
        FileSecrets(tmp_path).lookup("database_url")
        == "postgresql://u:pw-in-a-file@db/x"
    )
    assert FileSecrets(tmp_path).lookup("missing") is None


def test_the_first_source_that_knows_a_secret_wins(tmp_path: Path) -> None:
    class Vault:
        def lookup(self, name: str) -> str | None:
            return "from-the-vault-plugin" if name == "api_key" else None

    (tmp_path / "api_key").write_text("from-the-folder")
    resolver = SecretResolver([Vault(), FileSecrets(tmp_path)])

    assert resolver.require("api_key").get_secret_value() == "from-the-vault-plugin"


def test_values_are_masked_when_printed(tmp_path: Path) -> None:
    resolver = SecretResolver([EnvSecrets({"TIELINE_TOKEN": "never-print-this-value"})])
    value = resolver.require("token")

    assert "never-print-this-value" not in f"{value} {value!r}"
    assert scrub("dsn=never-print-this-value;") == "dsn=***;"


def test_a_missing_secret_is_named_in_the_error() -> None:
    with pytest.raises(ConfigurationError, match="secret odoo_password is not set"):
        SecretResolver([EnvSecrets({})]).require("odoo_password")


def test_the_embedded_default_makes_a_private_secret_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIELINE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("TIELINE_AUDIT_KEY_FILE", raising=False)
    folder = tmp_path / "secrets"

    first = default_resolver(folder).get_or_create("audit_key", folder)
    second = default_resolver(folder).get_or_create("audit_key", folder)

    assert first.get_secret_value() == second.get_secret_value()
    assert len(first.get_secret_value()) >= 48
    assert stat.S_IMODE((folder / "audit_key").stat().st_mode) == 0o600


def test_the_database_urls_password_is_scrubbed_once_governance_starts(
    tmp_path: Path,
) -> None:
    from tieline.governance.runtime import build_governance
    from tieline.settings import Settings

    url = "postgresql://tieline:url-password-0042@db.internal/tieline"
    build_governance(Settings(data_dir=tmp_path, database_url=url))

    assert (
        scrub(f"cannot reach {url}")
        == "cannot reach postgresql://tieline:***@db.internal/tieline"
    )
