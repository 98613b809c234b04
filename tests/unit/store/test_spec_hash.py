"""Spec hashes identify JSON documents, whatever their key order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.errors import InvalidInputError
from controlplane.store.hashing import canonical_json, spec_hash

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(documents)
def test_key_order_does_not_change_the_hash(document: dict) -> None:
    reordered = dict(reversed(list(document.items())))
    assert spec_hash(reordered) == spec_hash(document)


def test_different_documents_hash_differently() -> None:
    assert spec_hash({"devices": 8}) != spec_hash({"devices": 16})
    assert len(spec_hash({})) == 64


def test_canonical_json_is_compact_and_sorted() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == '{"a":[1,{"c":3,"d":2}],"b":1}'


@pytest.mark.parametrize("bad", [{"when": object()}, {"ratio": math.nan}, {"ratio": math.inf}])
def test_a_spec_that_is_not_json_is_refused_naming_spec(bad: dict) -> None:
    with pytest.raises(InvalidInputError) as raised:
        spec_hash(bad)
    assert raised.value.field == "spec"
