"""The on-disk cache of loaded spec files: a hit gives the same cases, any change to an input is a miss,
and a file with a problem is never kept (its problems are found anew each time)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.cases import loader, spec_cache

CASE = """\
- id: basic.cached-{n}
  title: a case to cache
  level: must
  source: [B1]
  steps:
    - connect: {{address: "${{peer.address}}"}}
    - await: opened
"""


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "spec" / "basic"
    folder.mkdir(parents=True)
    (folder / "cached.yaml").write_text(CASE.format(n=1), encoding="utf-8")
    return folder / "cached.yaml"


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / spec_cache.FOLDER).glob("*.pickle"))


def test_a_second_load_comes_from_the_cache_and_equals_the_first(spec: Path, tmp_path: Path) -> None:
    first, errors = loader.load([spec.parent], cached=True)
    assert errors == []
    assert [case.id for case in first] == ["basic.cached-1"]
    assert len(_entries(tmp_path)) == 1
    second, errors = loader.load([spec.parent], cached=True)
    assert errors == []
    assert second == first


def test_a_changed_file_is_read_again(spec: Path, tmp_path: Path) -> None:
    loader.load([spec.parent], cached=True)
    spec.write_text(CASE.format(n=2), encoding="utf-8")
    cases, _ = loader.load([spec.parent], cached=True)
    assert [case.id for case in cases] == ["basic.cached-2"]
    assert len(_entries(tmp_path)) == 2


def test_a_file_with_a_problem_is_not_kept(spec: Path, tmp_path: Path) -> None:
    spec.write_text(CASE.format(n=1).replace("level: must", "level: sometimes"), encoding="utf-8")
    for _ in range(2):
        cases, errors = loader.load([spec.parent], cached=True)
        assert cases == []
        assert any(error.field == "level" for error in errors)
    assert _entries(tmp_path) == []


def test_a_broken_entry_is_a_miss(spec: Path, tmp_path: Path) -> None:
    expected, _ = loader.load([spec.parent])
    loader.load([spec.parent], cached=True)
    for entry in _entries(tmp_path):
        entry.write_bytes(b"not a pickle")
    cases, errors = loader.load([spec.parent], cached=True)
    assert errors == []
    assert cases == expected


def test_without_cached_nothing_is_written(spec: Path, tmp_path: Path) -> None:
    loader.load([spec.parent])
    assert _entries(tmp_path) == []


def test_the_catalogue_is_kept_and_a_changed_one_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.cases import catalogue

    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "behaviours.yaml"
    original = (Path(__file__).resolve().parents[2] / "spec" / "behaviours.yaml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    first = catalogue.load_kept(path)
    assert first == catalogue.load(path)
    assert len(_entries(tmp_path)) == 1
    parsed: list[str] = []
    monkeypatch.setattr(catalogue, "load", lambda p: parsed.append(str(p)) or first)
    assert catalogue.load_kept(path) == first
    assert parsed == [], "the second reading came from the cache"
    path.write_text(original + "\n# changed\n", encoding="utf-8")
    catalogue.load_kept(path)
    assert parsed == [str(path)], "a changed catalogue is read again"


def test_past_its_limit_the_oldest_entries_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(spec_cache, "MAX_ENTRIES", 5)
    monkeypatch.setattr(spec_cache, "KEEP_ENTRIES", 3)
    for number in range(5):
        spec_cache.put(f"old{number}", [])
        os.utime(tmp_path / "cache" / spec_cache.FOLDER / f"old{number}.pickle", (1000 + number, 1000 + number))
    assert len(_entries(tmp_path)) == 5
    spec_cache.put("new", [])
    assert [path.stem for path in _entries(tmp_path)] == ["new", "old3", "old4"]
