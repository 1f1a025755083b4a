"""Every log line of a unit of work carries its correlation id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
