"""Commands never print a secret: the database URL's password stays hidden."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tieline.cli import app


@pytest.mark.postgres
def test_init_prints_the_database_url_without_its_password(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # The test server trusts local connections, so any password connects.
    url = make_url(postgres_database).set(password="pw-not-for-printing-91")
    monkeypatch.setenv(
        "TIELINE_DATABASE_URL", url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path))

    result = CliRunner().invoke(app, ["init"])

    assert result.exit_code == 0, result.output
    assert "store ready" in result.output
    assert "pw-not-for-printing-91" not in result.output
