"""The CLI as a user meets it: init, import, counts, quarantine, forget, keys; clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from microfunnel.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_import_count_quarantine_replay_forget(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    code, out = run("init", str(project))
    assert code == 0 and "write key" in out and "secret key" in out
    rows = [
        {
            "event": "view_item",
            "event_id": "r1",
            "user_id": "u1",
            "timestamp": "2026-11-01T10:00:00Z",
            "properties": json.dumps(
                {"currency": "EUR", "value": 5.0, "items": [{"item_id": "a"}]}
            ),
        },
        {
            "event": "page_view",
            "event_id": "r2",
            "user_id": "u2",
            "timestamp": "2026-11-01T10:01:00Z",
            "properties": "{}",
        },
        {
            "event": "gift_wrap",
            "event_id": "r3",
            "user_id": "u1",
            "timestamp": "2026-11-01T10:02:00Z",
            "properties": "{}",
        },
    ]
    parquet = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    code, out = run("import", str(parquet), "-p", str(project), "--json")
    assert code == 0, out
    assert json.loads(out) == {"accepted": 2, "quarantined": 1, "duplicates": 0}
    code, out = run("import", str(parquet), "-p", str(project), "--json")  # again: nothing doubles
    assert json.loads(out)["accepted"] == 0
    code, out = run("events", "count", "-p", str(project), "--json")
    assert json.loads(out)["count"] == 2
    code, out = run("quarantine", "list", "-p", str(project), "--json")
    listed = json.loads(out)
    assert [r["event"] for r in listed] == ["gift_wrap"] and "gift_wrap" in listed[0]["reasons"][0]
    plan = project / "tracking-plan.yaml"
    plan.write_text(
        plan.read_text().replace("events:\n", "events:\n  gift_wrap:\n    description: x\n", 1)
    )
    code, out = run("quarantine", "replay", "-p", str(project), "--json")
    assert json.loads(out)["replayed"] == 1
    code, out = run("forget", "u1", "-p", str(project), "--json")
    assert json.loads(out)["events_removed"] == 2
    code, out = run("events", "count", "-p", str(project), "--json")
    assert json.loads(out)["count"] == 1


def test_jsonl_with_a_broken_line_is_quarantined_not_lost(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    run("init", str(project))
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "page_view", "event_id": "j1"}\n{"event": "page_view", "ev\n')
    code, out = run("import", str(path), "-p", str(project), "--json")
    assert code == 0 and json.loads(out) == {"accepted": 1, "quarantined": 1, "duplicates": 0}
    code, out = run("quarantine", "list", "-p", str(project), "--json")
    assert "line 2 is not JSON" in json.loads(out)[0]["reasons"][0]


def test_quarantine_list_shows_the_newest_first(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    run("init", str(project))
    for name in ("first_mistake", "latest_mistake"):  # two imports: two receipt times
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({"event": name, "event_id": name}) + "\n")
        code, out = run("import", str(path), "-p", str(project), "--json")
        assert code == 0 and json.loads(out)["quarantined"] == 1, out
    code, out = run("quarantine", "list", "-p", str(project), "-n", "1", "--json")
    assert code == 0 and [r["event"] for r in json.loads(out)] == ["latest_mistake"]


def test_quarantine_problems_count_each_mistake_once(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    run("init", str(project))
    path = tmp_path / "events.jsonl"
    lines = [{"event": "gift_wrap", "event_id": f"g{i}"} for i in range(3)]
    lines.append({"event": "view_item", "event_id": "v1"})  # no currency, value or items
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out = run("import", str(path), "-p", str(project), "--json")
    assert code == 0 and json.loads(out)["quarantined"] == 4, out
    code, out = run("quarantine", "problems", "-p", str(project), "--json")
    answer = json.loads(out)
    assert code == 0 and answer["pending"] == 4
    assert [(p["event"], p["events"]) for p in answer["problems"]] == [
        ("gift_wrap", 3),
        ("view_item", 1),
    ]
    assert "gift_wrap" in answer["problems"][0]["reasons"][0]
    code, out = run("quarantine", "problems", "-p", str(project))
    assert code == 0 and "4 pending events, 2 problems shown" in out


def test_keys_create_and_list(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    run("init", str(project))
    _, out = run(
        "keys", "create", "--kind", "secret", "--label", "ci", "-p", str(project), "--json"
    )
    key = json.loads(out)["key"]
    _code, out = run("keys", "list", "-p", str(project), "--json")
    listed = json.loads(out)
    assert any(k["label"] == "ci" and key.startswith(k["key"].rstrip("…")) for k in listed)
    assert key not in (project / "keys.json").read_text()  # secrets are stored hashed


def test_errors_are_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    code, out = run("events", "count", "-p", str(tmp_path / "nowhere"))
    assert code == 2 and "microfunnel init" in out and "Traceback" not in out
    project = tmp_path / "shop"
    run("init", str(project))
    code, out = run("init", str(project))
    assert code == 2 and "already a microfunnel project" in out
    code, out = run("import", str(tmp_path / "x.xlsx"), "-p", str(project))
    assert code == 2 and "does not exist" in out
    (tmp_path / "x.xlsx").write_text("x")
    code, out = run("import", str(tmp_path / "x.xlsx"), "-p", str(project))
    assert code == 2 and ".parquet" in out
    code, out = run("keys", "create", "--kind", "admin", "-p", str(project))
    assert code == 2 and "write" in out


def test_a_bad_date_is_a_clear_error(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    run("init", str(project))
    code, out = run("trends", "add_to_cart", "-p", str(project), "--start", "2026-13-40")
    assert code == 2 and "must be a date like" in out and "Traceback" not in out
