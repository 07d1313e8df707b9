"""The in-memory ``persons`` map: lookups, runs, first-hash collisions, and the store using it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microfunnel.errors import StoreError
from microfunnel.store.duckdb import DuckDBStore
from microfunnel.store.personkeys import PersonKeys

sys.path.insert(0, str(Path(__file__).parent))
from test_store import ev
from test_store_codes import codes_agree


def u64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_lookup_finds_keys_and_reports_absent_persons_as_zero() -> None:
    keys = PersonKeys(u64(30, 10, 20), u64(3, 1, 2), i64(3, 1, 2))
    found, unsure = keys.lookup(u64(10, 20, 99, 30), u64(1, 2, 9, 3))
    assert found.tolist() == [1, 2, 0, 3]
    assert not unsure.any()
    assert keys.next_key == 4 and len(keys) == 3


def test_a_first_hash_match_with_another_second_hash_is_unsure() -> None:
    keys = PersonKeys(u64(10), u64(1), i64(1))
    found, unsure = keys.lookup(u64(10, 10), u64(1, 2))
    assert found.tolist() == [1, 0]
    assert unsure.tolist() == [False, True]


def test_an_empty_map_starts_at_key_one() -> None:
    keys = PersonKeys(u64(), u64(), i64())
    found, unsure = keys.lookup(u64(5), u64(5))
    assert (found.tolist(), unsure.tolist(), keys.next_key) == ([0], [False], 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=40), max_size=12))
def test_runs_answer_like_one_dictionary(batches: list[list[int]]) -> None:
    """Adding batch after batch (runs merging as they grow) answers as a dict would."""
    expected: dict[int, int] = {}
    keys = PersonKeys(u64(), u64(), i64())
    for batch in batches:
        new = [h for h in dict.fromkeys(batch) if h not in expected]
        numbered = range(keys.next_key, keys.next_key + len(new))
        expected.update(zip(new, numbered, strict=True))
        hashes = np.array(new, dtype=np.uint64)
        keys.add(hashes, hashes ^ np.uint64(7), np.array(numbered, dtype=np.int64))
    probe = np.array([*expected, 12345], dtype=np.uint64)
    found, unsure = keys.lookup(probe, probe ^ np.uint64(7))
    assert found.tolist() == [*expected.values(), expected.get(12345, 0)]
    assert not unsure.any()
    assert len(keys) == len(expected)


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    return DuckDBStore(tmp_path / "s.duckdb")


def person_key(store: DuckDBStore, person: str) -> int:
    return int(store.scalar("SELECT person_key FROM persons WHERE person_id = ?", [person]))


def test_keys_carry_on_after_the_store_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    store = DuckDBStore(path)
    store.insert_events([ev(1), ev(2), ev(3)])  # persons a1, a2, a0
    store.close()
    store = DuckDBStore(path)
    store.insert_events([ev(4, anonymous_id="a1"), ev(5, anonymous_id="new")])
    codes_agree(store)
    keys = store.query("SELECT person_id, person_key FROM persons ORDER BY 2").to_pylist()
    assert [(r["person_id"], r["person_key"]) for r in keys] == [
        ("a1", 1),
        ("a2", 2),
        ("a0", 3),
        ("new", 4),
    ]
    store.close()


def test_a_planted_first_hash_collision_is_settled_by_the_table(store: DuckDBStore) -> None:
    """Two ids that share the first hash: the map is not trusted, the table answers."""
    store.insert_events([ev(1, anonymous_id="alice")])
    alice = person_key(store, "alice")
    h_bob = store.scalar("SELECT hash('bob')")
    h_alice = store.scalar("SELECT hash('alice')")
    # alice's entry with a wrong second hash; bob's first hash taken by alice's key
    store._persons._map = PersonKeys(u64(h_alice, h_bob), u64(0, 0), i64(alice, alice))
    store.insert_events([ev(2, anonymous_id="alice"), ev(3, anonymous_id="bob")])
    codes_agree(store)
    assert person_key(store, "bob") == alice + 1
    rows = store.query("SELECT person_id, person_key FROM events ORDER BY event_id").to_pylist()
    assert [r["person_key"] for r in rows] == [alice, alice, alice + 1]


def test_a_failed_insert_leaves_the_map_as_the_table(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Persons added in a transaction that rolls back are not remembered."""
    store.insert_events([ev(1, anonymous_id="a")])
    monkeypatch.setattr(
        "microfunnel.store.duckdb._INSERT_SQL", "INSERT INTO no_such_table SELECT 1 WHERE {guard}"
    )
    with pytest.raises(StoreError, match="no_such_table"):
        store.insert_events([ev(2, anonymous_id="b")])
    monkeypatch.undo()
    store.insert_events([ev(3, anonymous_id="c")])
    codes_agree(store)
    keys = store.query("SELECT person_id, person_key FROM persons ORDER BY 2").to_pylist()
    assert [(r["person_id"], r["person_key"]) for r in keys] == [("a", 1), ("c", 2)]


def test_identity_merges_of_a_batch_go_in_one_pass_first_wins(store: DuckDBStore) -> None:
    store.insert_events([ev(1, anonymous_id="x"), ev(2, anonymous_id="y"), ev(3, anonymous_id="z")])
    assert store.merge_identity("z", "u-old") == 1
    moved = store.merge_identities([("x", "u1"), ("y", "u1"), ("x", "u2"), ("z", "u3")])
    assert moved == 2  # x and y; x's second user and z's new user lose to earlier merges
    codes_agree(store)
    people = store.query("SELECT event_id, person_id FROM events ORDER BY event_id").to_pylist()
    assert [r["person_id"] for r in people] == ["u1", "u1", "u-old"]
    owners = store.query("SELECT anonymous_id, user_id FROM identities ORDER BY 1").to_pylist()
    assert [(r["anonymous_id"], r["user_id"]) for r in owners] == [
        ("x", "u1"),
        ("y", "u1"),
        ("z", "u-old"),
    ]
    assert store.merge_identities([]) == 0


def test_after_forget_the_map_is_read_again(store: DuckDBStore) -> None:
    store.insert_events([ev(1, anonymous_id="a", user_id="gone"), ev(2, anonymous_id="b")])
    store.forget("gone")
    store.insert_events([ev(3, anonymous_id="gone")])  # the same id, a new person now
    codes_agree(store)
    assert store.scalar("SELECT count(*) FROM persons") == 2


def test_a_merge_moves_every_event_of_the_id_wherever_it_is(store: DuckDBStore) -> None:
    """Events of the id before and after many others' (the key filter prunes, never misses)."""
    store.insert_events([ev(0, anonymous_id="early")])
    for n in range(5):
        store.insert_events([ev(100 + 10 * n + i, anonymous_id=f"p{n}-{i}") for i in range(10)])
    store.insert_events([ev(1, anonymous_id="early"), ev(2, anonymous_id="late")])
    assert store.merge_identities([("late", "u2"), ("early", "u1"), ("never-seen", "u3")]) == 3
    codes_agree(store)
    moved = store.query(
        "SELECT anonymous_id, count(*) AS n FROM events WHERE person_id LIKE 'u%' "
        "GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    assert moved == [{"anonymous_id": "early", "n": 2}, {"anonymous_id": "late", "n": 1}]
