"""Interning tables and per-key columns: bounded, reusable, and exactly restorable."""

from __future__ import annotations

import numpy as np
import pytest

from insights.columns import Columns, Field
from insights.keys import MAX_VALUE_CHARS, OTHER_VALUE, KeyTable, StringTable


def _key(i: int) -> tuple[str, ...]:
    return ("Management", "111122223333", "us-east-1", "ec2.amazonaws.com", f"Api{i}")


# -- KeyTable ------------------------------------------------------------------------------------
def test_key_table_insert_gives_dense_slots() -> None:
    table = KeyTable(capacity=4)
    assert [table.insert(_key(i)) for i in range(3)] == [0, 1, 2]
    assert len(table) == 3 and table.high_water == 3
    assert table.index[_key(1)] == 1 and table.keys[2] == _key(2)
    assert sorted(table.index.values()) == [0, 1, 2]


def test_key_table_capacity() -> None:
    table = KeyTable(capacity=2)
    assert table.insert(_key(0)) == 0 and table.insert(_key(1)) == 1
    assert table.insert(_key(2)) == -1
    assert len(table) == 2 and table.high_water == 2 and _key(2) not in table.index


def test_key_table_release_and_reuse() -> None:
    table = KeyTable(capacity=3)
    for i in range(3):
        table.insert(_key(i))
    table.release(1)
    assert len(table) == 2 and _key(1) not in table.index and table.keys[1] is None
    assert table.high_water == 3  # columns keep their prefix length
    assert table.insert(_key(7)) == 1  # the freed slot, not a new one
    assert table.index[_key(7)] == 1 and table.insert(_key(8)) == -1
    table.release(1)
    table.release(1)  # releasing twice is harmless
    assert len(table) == 2 and table.insert(_key(9)) == 1


def test_key_table_state_round_trip() -> None:
    table = KeyTable(capacity=5)
    for i in range(5):
        table.insert(_key(i))
    table.release(3)
    table.release(1)
    copy = KeyTable(capacity=5)
    copy.load_state(table.to_state())
    assert copy.keys == table.keys and copy.index == table.index
    # Free slots are handed out in the same order as by the original.
    assert [copy.insert(_key(10)), copy.insert(_key(11))] == [table.insert(_key(10)), table.insert(_key(11))]
    assert copy.to_state() == table.to_state()


# -- StringTable ---------------------------------------------------------------------------------
def test_string_table_interns_and_reserves_other() -> None:
    strings = StringTable(capacity=10)
    assert strings.values[0] == OTHER_VALUE and strings.intern(OTHER_VALUE) == 0
    a, b = strings.intern("arn:a"), strings.intern("arn:b")
    assert (a, b) == (1, 2) and strings.intern("arn:a") == a and len(strings) == 3


def test_string_table_cap_maps_new_values_to_other() -> None:
    strings = StringTable(capacity=3)
    assert strings.intern("x") == 1 and strings.intern("y") == 2
    assert strings.intern("z") == 0 and strings.values[0] == OTHER_VALUE
    assert strings.intern("x") == 1  # known values still resolve
    assert len(strings) == 3


def test_string_table_truncates_long_values() -> None:
    strings = StringTable()
    long = "u" * (MAX_VALUE_CHARS + 50)
    ident = strings.intern(long)
    assert strings.values[ident] == "u" * MAX_VALUE_CHARS
    assert strings.intern("u" * MAX_VALUE_CHARS + "different tail") == ident


def test_string_table_compact_mapping() -> None:
    strings = StringTable(capacity=6)
    ids = {v: strings.intern(v) for v in ("a", "b", "c", "d", "e")}
    assert strings.intern("f") == 0  # full
    referenced = np.array([ids["d"], ids["b"], ids["d"]])
    mapping = strings.compact(referenced)
    assert strings.values == [OTHER_VALUE, "b", "d"]
    assert mapping[0] == 0 and strings.values[mapping[ids["b"]]] == "b"
    assert strings.values[mapping[ids["d"]]] == "d"
    assert strings.index == {OTHER_VALUE: 0, "b": 1, "d": 2}
    # Room again: new values get fresh ids after the kept ones.
    assert strings.intern("f") == 3 and strings.intern("b") == 1


def test_string_table_state_round_trip() -> None:
    strings = StringTable()
    for v in ("x", "y", "z"):
        strings.intern(v)
    copy = StringTable()
    copy.load_state(strings.values)
    assert copy.values == strings.values and copy.index == strings.index
    assert copy.intern("w") == strings.intern("w")


# -- Columns -------------------------------------------------------------------------------------
FIELDS = {
    "count": Field("int32"),
    "ring": Field("float32", (3,)),
    "pair": Field("uint8", (2, 2)),
    "phi": Field("float32", fill=1.0),
}


def test_columns_initial_shapes_and_fill() -> None:
    cols = Columns(FIELDS, initial=4)
    assert len(cols) == 4
    assert cols["ring"].shape == (4, 3) and cols["pair"].shape == (4, 2, 2)
    assert cols["ring"].dtype == np.float32 and cols["pair"].dtype == np.uint8
    assert np.all(cols["phi"] == 1.0) and np.all(cols["count"] == 0)
    assert cols.nbytes_per_key() == 4 + 3 * 4 + 4 + 4


def test_columns_grow_keeps_contents_and_fills_new_rows() -> None:
    cols = Columns(FIELDS, initial=2)
    cols["count"][:2] = [5, 6]
    cols["ring"][1] = [1.0, 2.0, 3.0]
    cols["phi"][0] = 3.5
    cols.ensure(2)
    assert len(cols) == 2  # no growth needed
    cols.ensure(3)
    assert len(cols) >= 3
    assert cols["count"][:2].tolist() == [5, 6] and cols["ring"][1].tolist() == [1.0, 2.0, 3.0]
    assert cols["phi"][0] == 3.5 and np.all(cols["phi"][2:] == 1.0) and np.all(cols["count"][2:] == 0)
    cols.ensure(100)
    assert len(cols) >= 100 and cols["ring"].shape == (len(cols), 3) and cols["count"][1] == 6


def test_columns_reset_one_slot() -> None:
    cols = Columns(FIELDS, initial=3)
    for name in FIELDS:
        cols[name][:] = 7
    cols.reset(1)
    assert cols["count"].tolist() == [7, 0, 7]
    assert cols["ring"][1].tolist() == [0.0, 0.0, 0.0] and cols["ring"][0].tolist() == [7.0] * 3
    assert cols["pair"][1].sum() == 0 and cols["phi"].tolist() == [7.0, 1.0, 7.0]


def test_columns_state_round_trip() -> None:
    cols = Columns(FIELDS, initial=2)
    cols.ensure(5)
    rng = np.random.default_rng(0)
    for name in FIELDS:
        cols[name][:] = rng.integers(0, 200, size=cols[name].shape)
    state = cols.to_state(rows=4)
    assert all(state[name].shape[0] == 4 for name in FIELDS)
    state["count"][0] = -1  # a copy: mutating it must not touch the original
    assert cols["count"][0] != -1
    state["count"][0] = cols["count"][0]

    restored = Columns(FIELDS, initial=2)
    restored.load_state(state, rows=4)
    for name in FIELDS:
        np.testing.assert_array_equal(restored[name][:4], cols[name][:4])
        assert restored[name].dtype == cols[name].dtype
        # Rows past the saved prefix are fresh.
        assert np.all(restored[name][4:] == FIELDS[name].fill)
    assert all(np.array_equal(a, restored.to_state(4)[n]) for n, a in cols.to_state(4).items())


def test_columns_load_state_of_zero_rows() -> None:
    cols = Columns(FIELDS, initial=2)
    cols["count"][:] = 9
    cols.load_state(Columns(FIELDS).to_state(0), rows=0)
    assert np.all(cols["count"] == 0) and np.all(cols["phi"] == 1.0)


def test_columns_unknown_field() -> None:
    with pytest.raises(KeyError):
        Columns(FIELDS)["missing"]
