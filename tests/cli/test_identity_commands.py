"""`tieline identity ...`: a mistake is one line naming it, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tieline.cli import main
from tieline.model import LegalEntity
from tieline.store import Store

ROLES = (
    "accounts_payable, admin, auditor, buyer, finance_approver, "
    "integration_operator, partner, project_controller"
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory with one legal entity, LCI."""
    data = tmp_path / "var"
    data.mkdir()
    monkeypatch.setenv("TIELINE_DATA_DIR", str(data))
    monkeypatch.delenv("TIELINE_DATABASE_URL", raising=False)
    store = Store(f"sqlite:///{data / 'tieline.db'}")
    store.migrate()
    with store.transaction() as tx:
        tx.save(
            LegalEntity.model_validate(
                {
                    "origin": {"system": "seed", "key": "LCI"},
                    "code": "LCI",
                    "name": "Lakeside Civil",
                    "base_currency": "EUR",
                }
            ),
            actor="seed",
        )
    store.close()
    return data


def _run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tieline", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def _entity_id(data_dir: Path) -> str:
    store = Store(f"sqlite:///{data_dir / 'tieline.db'}")
    with store.transaction() as tx:
        (entity,) = tx.list(LegalEntity)
    store.close()
    return entity.id


@pytest.mark.parametrize("verb", ["grant", "revoke"])
def test_an_unknown_role_is_one_line_listing_the_roles(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    verb: str,
) -> None:
    _run(monkeypatch, capsys, "identity", "add-service", "x")

    code, _, err = _run(
        monkeypatch, capsys, "identity", verb, "x", "nosuchrole", "--entity", "*"
    )

    assert code == 1
    assert err.strip().splitlines() == [
        f"error: unknown role 'nosuchrole'; the roles are {ROLES}"
    ]


@pytest.mark.parametrize("days", ["-5", "0", "367", "100000"])
def test_a_key_lives_between_one_day_and_a_year(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    days: str,
) -> None:
    _run(monkeypatch, capsys, "identity", "add-service", "x")

    code, out, err = _run(
        monkeypatch,
        capsys,
        "identity",
        "issue-key",
        "x",
        "--scope",
        "records:read",
        "--days",
        days,
    )

    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        "error: a key lives from 1 to 366 days; --days " + days + " is outside"
    ]


def test_an_entity_is_named_by_id_or_code_and_must_exist(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run(monkeypatch, capsys, "identity", "add-service", "x")

    by_code = _run(
        monkeypatch, capsys, "identity", "grant", "x", "buyer", "--entity", "LCI"
    )
    unknown = _run(
        monkeypatch,
        capsys,
        "identity",
        "grant",
        "x",
        "buyer",
        "--entity",
        "DOESNOTEXIST",
    )
    listed = _run(monkeypatch, capsys, "identity", "list")

    entity = _entity_id(data_dir)
    assert by_code[0] == 0, by_code
    assert by_code[1].strip() == f"granted buyer in {entity} (LCI) to x"
    assert unknown[0] == 1
    assert unknown[2].strip().splitlines() == [
        "error: no legal entity with id or code 'DOESNOTEXIST'; give one, or '*' "
        "for all"
    ]
    assert listed[1].split() == ["x", "service", "active", f"buyer@{entity}"]


def test_a_partner_grant_names_a_supplier_that_exists(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run(monkeypatch, capsys, "identity", "add-service", "x")

    code, _, err = _run(
        monkeypatch,
        capsys,
        "identity",
        "grant",
        "x",
        "partner",
        "--entity",
        "*",
        "--supplier",
        "nosuch",
    )

    assert code == 1
    assert err.strip().splitlines() == ["error: no supplier nosuch"]


def test_a_second_person_with_the_same_subject_is_one_clear_line(
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = ("--issuer", "https://idp.example.test", "--subject", "ana-123")
    first = _run(monkeypatch, capsys, "identity", "add-human", "ana", *person)

    code, _, err = _run(monkeypatch, capsys, "identity", "add-human", "ana2", *person)

    assert first[0] == 0, first
    assert code == 1
    assert err.strip().splitlines() == [
        "error: ana already signs in as subject 'ana-123' of https://idp.example.test"
    ]
