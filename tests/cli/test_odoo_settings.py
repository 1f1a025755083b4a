"""The Odoo settings: read from the environment and secrets, wrong ones named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tieline.cli import app
from tieline.cli._hub import assemble_hub, odoo_config
from tieline.delivery.inbound import load_sources
from tieline.errors import ConfigurationError
from tieline.events import registry
from tieline.governance.secrets import EnvSecrets, SecretResolver
from tieline.settings import Settings
from tieline.store import Store


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, secrets_dir=tmp_path / "secrets", **values)  # type: ignore[arg-type]


def _secrets(**values: str) -> SecretResolver:
    return SecretResolver(
        [EnvSecrets({f"TIELINE_{k.upper()}": v for k, v in values.items()})]
    )


ODOO = {
    "odoo_url": "https://erp.example.com/",
    "odoo_db": "prod",
    "odoo_login": "integration@example.com",
}


def test_no_odoo_setting_means_no_odoo(tmp_path: Path) -> None:
    assert odoo_config(_settings(tmp_path), _secrets()) is None


def test_a_full_setting_gives_the_connection(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        **ODOO,
        odoo_companies="ACME-US=1, ACME-UK=Acme Build UK Ltd",
        odoo_calls_per_second=5,
        odoo_instance="prod",
    )

    config = odoo_config(settings, _secrets(odoo_api_key="k" * 40))

    assert config is not None
    assert (config.url, config.database, config.login) == (
        "https://erp.example.com",
        "prod",
        "integration@example.com",
    )
    assert config.secret.get_secret_value() == "k" * 40
    assert dict(config.companies) == {"ACME-US": 1, "ACME-UK": "Acme Build UK Ltd"}
    assert config.limits.calls_per_second == 5
    assert config.source == "odoo-prod"


def test_a_password_serves_when_there_is_no_api_key(tmp_path: Path) -> None:
    config = odoo_config(
        _settings(tmp_path, **ODOO), _secrets(odoo_password="hunter2-hunter2")
    )

    assert config is not None
    assert config.secret == SecretStr("hunter2-hunter2")


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    settings = _settings(tmp_path, odoo_url="https://erp.example.com")

    with pytest.raises(ConfigurationError) as caught:
        odoo_config(settings, _secrets(odoo_api_key="k" * 40))

    assert str(caught.value) == (
        "TIELINE_ODOO_DB and TIELINE_ODOO_LOGIN not set: Odoo needs "
        "TIELINE_ODOO_URL, TIELINE_ODOO_DB and TIELINE_ODOO_LOGIN together"
    )


def test_a_missing_secret_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        odoo_config(_settings(tmp_path, **ODOO), _secrets())

    message = str(caught.value)
    assert message.startswith(
        "no secret for Odoo user integration@example.com: set TIELINE_ODOO_API_KEY "
        "(or TIELINE_ODOO_PASSWORD, up to Odoo 18)"
    )
    assert str(tmp_path / "secrets" / "odoo_api_key") in message


def test_the_login_may_come_as_odoo_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIELINE_ODOO_USER", "bot@example.com")

    assert Settings().odoo_login == "bot@example.com"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "TIELINE_ODOO_URL",
            "erp.example.com",
            "error: bad setting TIELINE_ODOO_URL: must be Odoo's web address, "
            "http://host or https://host (got 'erp.example.com')",
        ),
        (
            "TIELINE_ODOO_COMPANIES",
            "ACME-US=1,ACME-UK",
            "error: bad setting TIELINE_ODOO_COMPANIES: 'ACME-UK' is not "
            "CODE=company (an Odoo company id or name) (got 'ACME-US=1,ACME-UK')",
        ),
        (
            "TIELINE_ODOO_PULL_INTERVAL",
            "0",
            "error: bad setting TIELINE_ODOO_PULL_INTERVAL: Input should be "
            "greater than 0 (got '0')",
        ),
    ],
)
def test_a_wrong_setting_is_one_line_naming_its_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = CliRunner().invoke(
        app, ["init"], env={"TIELINE_DATA_DIR": str(tmp_path), variable: value}
    )

    assert result.exit_code == 1
    assert str(result.exception) == expected.removeprefix("error: ")


def test_workflows_without_odoo_run_on_an_in_memory_erp_and_say_so(
    tmp_path: Path, store: Store
) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "workflows.toml").write_text(
        '[[identity]]\nid = "a.buyer"\n[exceptions]\ndefault_owner = "a.buyer"\n'
    )
    try:
        built = assemble_hub(settings, store, {"worker"})
        assert [event for event, _ in built.notices] == [
            "hub.no_odoo",
            "hub.in_memory_erp",
        ]
        assert "IN-MEMORY ERP" in built.notices[1][1]
        assert type(built.erp).__name__ == "InMemoryErp"
        assert [job.name for job in built.jobs] == ["sla-sweep"]
        assert {"workflow-documents", "workflow-erp"} <= set(registry.registered())
        built.close()
        assert "workflow-erp" not in registry.registered()
    finally:
        for name in ("workflow-documents", "workflow-erp"):
            registry.unregister(name)


def test_webhook_url_prints_where_odoo_posts_and_makes_the_source(
    tmp_path: Path,
) -> None:
    env = {
        "TIELINE_DATA_DIR": str(tmp_path / "var"),
        "TIELINE_ODOO_URL": "https://erp.example.com",
        "TIELINE_ODOO_DB": "prod",
        "TIELINE_ODOO_LOGIN": "integration@example.com",
        "TIELINE_ODOO_API_KEY": "k" * 40,
    }
    runner = CliRunner()

    first = runner.invoke(
        app, ["odoo", "webhook-url", "--base", "https://hub.example.com/"], env=env
    )
    again = runner.invoke(app, ["odoo", "webhook-url"], env=env)

    token = (tmp_path / "var" / "secrets" / "odoo_webhook_token").read_text()
    assert first.exit_code == 0, first.output
    assert _urls(first.output) == [f"https://hub.example.com/hooks/odoo-main/{token}"]
    assert _urls(again.output) == [f"http://127.0.0.1:8080/hooks/odoo-main/{token}"]
    store = Store(f"sqlite:///{tmp_path / 'var' / 'tieline.db'}")
    try:
        source = load_sources(store)["odoo-main"]
    finally:
        store.close()
    assert (source.scheme.value, source.secret) == ("token", token)


def _urls(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("http")]
