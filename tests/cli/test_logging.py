"""Every log line of a unit of work carries its correlation id."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tieline.logging import configure_logging
from tieline.settings import Settings

PROFILE = """
name = "cost-codes"
system = "site-wbs"

[[tables]]
name = "codes"
file = "codes.csv"
kind = "cost_code"
key = ["code"]
[tables.columns]
code = { column = "code", required = true }
name = { column = "name", required = true }
[tables.constants]
system = "site-wbs"
"""


def test_an_import_logs_json_lines_that_all_share_one_correlation_id(
    tmp_path: Path,
) -> None:
    # Given a profile and a file with one good and one bad row
    (tmp_path / "profile.toml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "codes.csv").write_text("code,name\n1.1,Earthworks\n1.2,\n")
    env = dict(
        os.environ,
        TIELINE_DATA_DIR=str(tmp_path / "var"),
        TIELINE_LOG_FORMAT="json",
        TIELINE_LOG_LEVEL="debug",
    )

    # When it is imported with JSON logs
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tieline",
            "import",
            str(tmp_path / "profile.toml"),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    # Then every line of the run is JSON with the same correlation id
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    run_lines = [line for line in lines if line["logger"].startswith("tieline.intake")]
    assert done.returncode == 2
    assert [line["event"] for line in run_lines] == [
        "import.started",
        "import.finished",
    ]
    assert len({line["correlation_id"] for line in run_lines}) == 1


def test_a_token_in_a_hooks_url_never_reaches_the_access_log(
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    # Given logging as `serve` configures it (put back as it was after)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def put_back() -> None:
        root.handlers[:] = handlers
        root.setLevel(level)

    request.addfinalizer(put_back)
    configure_logging(Settings(log_format="console"))

    # When uvicorn logs requests carrying a source's token in the path, or a
    # secret-looking query parameter
    access = logging.getLogger("uvicorn.access")
    line = '%s - "%s %s HTTP/%s" %d'
    access.info(line, "127.0.0.1:5001", "POST", "/hooks/forms/tok3nS3cret", "1.1", 202)
    access.info(
        line, "127.0.0.1:5001", "GET", "/v1/x?api_key=k3ySecret&a=1", "1.1", 401
    )

    # Then neither secret is in the log, and the rest of each line is
    err = capsys.readouterr().err
    assert "tok3nS3cret" not in err
    assert "k3ySecret" not in err
    assert "POST /hooks/forms/*** HTTP/1.1" in err
    assert "GET /v1/x?api_key=***&a=1 HTTP/1.1" in err
