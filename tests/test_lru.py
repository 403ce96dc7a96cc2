"""The least-recently-used map that bounds every cache of an index generation."""

from __future__ import annotations

from archive.lru import Lru


def test_putting_a_key_again_counts_its_size_once() -> None:
    """A key put again (a term read again after its postings were evicted) must not shrink the cache."""
    kept: Lru[str, int] = Lru(4)
    for _ in range(6):
        kept.put("a", 1)
    kept.put("b", 2)
    kept.put("c", 3)
    assert [kept.get(k) for k in "abc"] == [1, 2, 3]


def test_a_value_replaced_by_a_larger_one_evicts_by_the_new_size() -> None:
    kept: Lru[str, str] = Lru(10, len)
    kept.put("a", "xxxx")
    kept.put("b", "yyyy")
    kept.put("a", "x")  # 1 + 4: room for another 5
    kept.put("c", "zzzzz")
    assert [kept.get(k) for k in "abc"] == ["x", "yyyy", "zzzzz"]
    kept.put("b", "yyyyyyyy")  # 1 + 8 + 5 > 10: the least recently used (a) goes, then c
    assert kept.get("a") is None and kept.get("b") == "yyyyyyyy"
