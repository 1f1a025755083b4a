"""Contract: the Odoo double answers every recorded exchange as real Odoo did.

Every exchange recorded against Odoo 17 (and, in `odoo19/`, Odoo 19) is
replayed in order against a double playing that version. Ids differ by
nature, so ids the recording created are mapped to the ones the double
created; what is compared is the shape: HTTP status, result or error, the
error's class and first line of message, XML-RPC fault codes, the JSON types
of results and the keys of records. Exchanges the double does not cover are
listed in `recording_gaps.json` with the reason; they are strict xfails, so one that
starts passing must be taken off the list.
"""

from __future__ import annotations

import functools
import json
import os
import re
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tieline.testing.odoo_double import OdooDouble

# The exchanges replay in order, one double for them all: a later exchange
# names records an earlier one (of this file or another) created, so under
# pytest-xdist they all run in one worker.
pytestmark = [
    pytest.mark.odoo,
    pytest.mark.shared_data,
    pytest.mark.xdist_group("odoo-recordings"),
]

# Beside the shared data folder, found the way the `shared_data` fixture finds it.
RECORDINGS = (
    Path(
        os.environ.get(
            "TIELINE_SHARED_DATA",
            Path(__file__).resolve().parents[4] / "shared" / "data",
        )
    ).parent
    / "odoo-recordings"
)
# Exchange -> why the double does not (yet) answer it as recorded.
GAPS: dict[str, str] = json.loads(
    (Path(__file__).with_name("recording_gaps.json")).read_text()
)
SKIPPED_FILES: dict[str, str] = {}


@functools.cache
def _exchanges(path: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(path.read_text())
    return loaded


@functools.cache
def _files(folder: Path) -> list[Path]:
    """One version's recordings, in the order they were recorded."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.json")) if p.name not in SKIPPED_FILES]


def _cases() -> list[Any]:
    cases = []
    for folder, version in ((RECORDINGS, 17), (RECORDINGS / "odoo19", 19)):
        for path in _files(folder):
            for index in range(len(_exchanges(path))):
                key = f"{version}/{path.stem}#{index}"
                marks = (
                    [pytest.mark.xfail(strict=True, reason=GAPS[key])]
                    if key in GAPS
                    else []
                )
                cases.append(pytest.param(version, path, index, id=key, marks=marks))
    return cases or [pytest.param(0, Path(), 0, id="no-recordings")]


class Replay:
    """Replays one version's recordings in order, mapping recorded ids."""

    def __init__(self, version: int) -> None:
        database = "construction19" if version >= 19 else "construction"
        self.double = OdooDouble(version=version, database=database).start()
        self.key = self.double.new_api_key()
        self.ids: dict[int, int] = {}
        self.done: set[tuple[str, int]] = set()
        self.answers: dict[tuple[str, int], httpx.Response | None] = {}

    def answer(self, path: Path, index: int) -> httpx.Response | None:
        # Everything recorded before this exchange is played first, whatever
        # order the tests reach here in: earlier files, then this one's.
        for earlier in _files(path.parent):
            if earlier == path:
                break
            self._play(earlier, len(_exchanges(earlier)) - 1)
        self._play(path, index)
        return self.answers[(path.name, index)]

    def _play(self, path: Path, index: int) -> None:
        exchanges = _exchanges(path)
        for i in range(index + 1):
            if (path.name, i) not in self.done:
                self.done.add((path.name, i))
                self.answers[(path.name, i)] = self._send(exchanges[i])

    def _send(self, exchange: dict[str, Any]) -> httpx.Response | None:
        if exchange.get("direction") or exchange["protocol"] in ("server-log",):
            return None
        url = self.double.url + exchange["path"]
        headers, body = self._request(exchange)
        response = httpx.request(exchange["method"], url, headers=headers, content=body)
        self._learn(exchange, response)
        return response

    def _request(self, exchange: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        protocol, body = exchange["protocol"], exchange.get("request_body")
        raw = exchange.get("request_body_raw")
        headers = dict(exchange.get("request_headers") or {})
        for name in ("Host", "Content-Length", "Accept-Encoding", "Cookie"):
            headers.pop(name, None)
        if "Authorization" in headers:
            headers["Authorization"] = headers["Authorization"].replace(
                "<api-key>", self.key
            )
        if protocol == "xmlrpc":
            text = self._remap_text(body or "")
            return {"Content-Type": "text/xml"}, text.encode()
        if raw is not None or isinstance(body, str):
            # A raw body goes as recorded: without a Content-Type when the
            # recording sent none (JSON-2 answers that with a 415).
            if protocol != "json2":
                headers.setdefault("Content-Type", "application/json")
            return headers, str(raw if raw is not None else body).encode()
        if body is None:
            return headers, b""
        headers.setdefault("Content-Type", "application/json")
        return headers, json.dumps(self._remap(body)).encode()

    def _remap(self, value: Any) -> Any:
        if value == "<api-key>":
            return self.key  # the recording's key, as a password in the body
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return self.ids.get(value, value)
        if isinstance(value, list):
            return [self._remap(v) for v in value]
        if isinstance(value, dict):
            return {
                k: self._remap(v)
                if k not in ("limit", "offset", "jsonrpc", "id")
                else v
                for k, v in value.items()
            }
        return value

    def _remap_text(self, text: str) -> str:
        text = text.replace("&lt;api-key&gt;", self.key).replace("<api-key>", self.key)
        return re.sub(
            r"<int>(\d+)</int>",
            lambda m: f"<int>{self.ids.get(int(m.group(1)), int(m.group(1)))}</int>",
            text,
        )

    def _learn(self, exchange: dict[str, Any], response: httpx.Response) -> None:
        # Ids the recording created map to the ids the double created.
        recorded, got = _result(exchange), _parsed(exchange, response)
        if _method(exchange) in (
            "create",
            "name_create",
            "copy",
            "action_create_invoice",
        ):
            # A record the recording made is what its id means from now on,
            # even if an earlier file used the same number for another model.
            self._pair(_ids(recorded), _ids(got), replace=True)
        if isinstance(recorded, list) and isinstance(got, list):
            for old_row, new_row in zip(recorded, got, strict=False):
                if isinstance(old_row, dict) and isinstance(new_row, dict):
                    self._pair_rows(old_row, new_row)

    def _pair_rows(self, old_row: dict[str, Any], new_row: dict[str, Any]) -> None:
        # Records read back name ids the recording made indirectly (order
        # lines, receipts, bills): pair them by position.
        for key, old in old_row.items():
            new = new_row.get(key)
            if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
                self._pair(_ids(old), _ids(new))
            elif isinstance(old, int) and isinstance(new, int) and key.endswith("_id"):
                self._pair([old], [new])

    def _pair(
        self, old_ids: list[int], new_ids: list[int], *, replace: bool = False
    ) -> None:
        for old, new in zip(old_ids, new_ids, strict=False):
            if old > 5 and (replace or old not in self.ids):
                self.ids[old] = new


def _method(exchange: dict[str, Any]) -> str:
    body = exchange.get("request_body")
    if exchange["protocol"] == "json2":
        return str(exchange["path"].rstrip("/").split("/")[-1])
    if isinstance(body, dict):
        args = body.get("params", {}).get("args") or []
        return str(args[4]) if len(args) > 4 else ""
    if isinstance(body, str):
        strings = re.findall(r"<string>(.*?)</string>", body)
        return strings[2] if len(strings) > 2 else ""
    return ""


def _ids(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
            return [value[0]]
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    if isinstance(value, dict) and isinstance(value.get("res_id"), int):
        return [value["res_id"]]
    return []


def _result(exchange: dict[str, Any]) -> Any:
    body = exchange.get("response_body")
    if exchange["protocol"] == "jsonrpc" and isinstance(body, dict):
        return body.get("result")
    if (
        exchange["protocol"] == "xmlrpc"
        and isinstance(body, str)
        and "<fault>" not in body
    ):
        return xmlrpc.client.loads(body)[0][0]
    return body


def _parsed(exchange: dict[str, Any], response: httpx.Response) -> Any:
    if exchange["protocol"] == "xmlrpc":
        try:
            return xmlrpc.client.loads(response.text)[0][0]
        except xmlrpc.client.Fault:
            return None
    try:
        body = response.json()
    except ValueError:
        return response.text
    if exchange["protocol"] == "jsonrpc" and isinstance(body, dict):
        return body.get("result")
    return body


# One double a version for the whole worker: were it torn down between two
# exchanges (pytest-xdist may run another module's tests in between), the new
# one would not hold the records the earlier exchanges made.
@pytest.fixture(scope="session")
def replays() -> Iterator[dict[int, Replay]]:
    started: dict[int, Replay] = {}
    yield started
    for replay in started.values():
        replay.double.stop()


@pytest.mark.parametrize(("version", "path", "index"), _cases())
def test_the_double_answers_like_the_recording(
    version: int, path: Path, index: int, replays: dict[int, Replay], shared_data: Path
) -> None:
    if version == 0:
        pytest.skip(f"no Odoo recordings beside the project ({RECORDINGS})")
    replay = replays.setdefault(version, Replay(version))
    exchange = _exchanges(path)[index]
    response = replay.answer(path, index)
    if response is None:
        pytest.skip("not a request to Odoo: a webhook Odoo sent, or a server log line")

    assert response.status_code == exchange["status"]
    if exchange["protocol"] == "xmlrpc":
        _compare_xmlrpc(exchange["response_body"], response.text)
    elif exchange["protocol"] == "jsonrpc":
        _compare_jsonrpc(exchange["response_body"], _json_or_text(response))
    else:
        _compare_shape(exchange["response_body"], _json_or_text(response), "body")


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _first_line(text: str) -> str:
    return re.sub(r"\d+", "N", text.strip().splitlines()[0] if text.strip() else "")


def _compare_jsonrpc(recorded: Any, got: Any) -> None:
    if not isinstance(recorded, dict):
        assert _first_line(str(got)) == _first_line(str(recorded))
        return
    assert isinstance(got, dict)
    assert ("result" in got, "error" in got) == (
        "result" in recorded,
        "error" in recorded,
    ), str(got.get("error", {}).get("data", {}).get("message"))[:200]
    if "error" in recorded:
        want, have = recorded["error"], got["error"]
        assert (have["code"], have["message"]) == (want["code"], want["message"])
        assert have["data"]["name"] == want["data"]["name"]
        assert _first_line(have["data"]["message"]) == _first_line(
            want["data"]["message"]
        )
    elif "result" in recorded:
        _compare_shape(recorded["result"], got["result"], "result")


def _compare_xmlrpc(recorded: str, got: str) -> None:
    want, have = _xml_outcome(recorded), _xml_outcome(got)
    assert type(have) is type(want)
    if isinstance(want, xmlrpc.client.Fault):
        assert isinstance(have, xmlrpc.client.Fault)
        assert have.faultCode == want.faultCode or (
            isinstance(want.faultCode, str)
            and _first_line(str(have.faultCode)) == _first_line(want.faultCode)
        )
        assert _last_line(have.faultString) == _last_line(want.faultString)
    else:
        _compare_shape(want, have, "result")


def _last_line(text: str) -> str:
    lines = [
        line for line in text.replace("&lt;", "<").strip().splitlines() if line.strip()
    ]
    return re.sub(r"\d+", "N", lines[-1].split(":")[0] if lines else "")


def _xml_outcome(text: str) -> Any:
    try:
        return xmlrpc.client.loads(text, use_builtin_types=True)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _compare_shape(recorded: Any, got: Any, where: str) -> None:
    """Same JSON kind; records keep the same keys with compatible values."""
    if isinstance(recorded, str) and isinstance(got, str):
        assert _first_line(got) == _first_line(recorded), where
        return
    assert _kind(got) == _kind(recorded), f"{where}: {got!r} vs {recorded!r}"[:300]
    if isinstance(recorded, dict) and isinstance(got, dict):
        if {"name", "message", "debug"} <= set(recorded):
            assert got["name"] == recorded["name"], where
            assert _first_line(got["message"]) == _first_line(recorded["message"]), (
                where
            )
            assert got["arguments"][1:] == recorded["arguments"][1:], where
            return
        assert set(got) == set(recorded), (
            f"{where}: keys {sorted(set(got) ^ set(recorded))}"
        )
        for key in recorded:
            _compare_value(recorded[key], got[key], f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(got, list) and recorded and got:
        _compare_value(recorded[0], got[0], f"{where}[0]")


def _compare_value(recorded: Any, got: Any, where: str) -> None:
    # Data differs by nature (False where Odoo's demo data had a value, other
    # names and states): values are compared by kind, records by keys.
    if recorded is False or got is False:
        return
    if isinstance(recorded, str):
        assert isinstance(got, str), where
        return
    if isinstance(recorded, dict) and isinstance(got, dict) and "id" not in recorded:
        assert _kind(got) == _kind(recorded), where
        return
    _compare_shape(recorded, got, where)
