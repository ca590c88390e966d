"""Published npm versions (conformance/adapters/npm_versions.py): order, dates, selection, the cached list."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import npm_versions
from conformance.adapters.npm_versions import Published, period, select, semver_key, thin, version_date
from conformance.errors import InfrastructureError, UsageError

WORKERD = [
    "0.20230511.1",
    "1.20230404.0",
    "1.20230512.0",
    "1.20230518.0",
    "1.20230814.0",
    "1.20231121.0",
    "1.20240223.1",
    "1.20240524.0",
    "1.20261014.1",
    "1.20261117.1",
]


def published(versions: list[str] = WORKERD, **extra: Any) -> Published:
    data = {"package": "workerd", "versions": versions, "time": {v: "2024-12-09T00:41:24Z" for v in versions}}
    data["dist-tags"] = {"latest": versions[-1]}
    data.update(extra)
    return Published.from_dict(data)


def test_npm_order_puts_prereleases_before_their_release_and_compares_numbers() -> None:
    shuffled = ["5.20261117.0-beta", "4.20260730.0", "4.9.0", "4.10.0", "5.20261117.0", "5.20261117.0-alpha"]
    assert sorted(shuffled, key=semver_key) == [
        "4.9.0",
        "4.10.0",
        "4.20260730.0",
        "5.20261117.0-alpha",
        "5.20261117.0-beta",
        "5.20261117.0",
    ]
    with pytest.raises(ValueError, match="not a semantic version"):
        semver_key("1.2")


def test_dates_come_from_the_version_when_its_minor_is_one() -> None:
    assert version_date("1.20260426.1") == date(2026, 4, 26)
    assert version_date("4.20250319.0") == date(2025, 3, 19)
    assert version_date("0.2.0") is None
    assert version_date("1.20261399.0") is None  # eight digits, but no date
    # Otherwise the registry's publish time (workerd's 2023 ones say 2024-12: they were re-published).
    info = published(["0.2.0", "1.20230512.0"])
    assert info.released("0.2.0") == date(2024, 12, 9)
    assert info.released("1.20230512.0") == date(2023, 5, 12)


def test_check_resolves_latest_and_explains_unknown_and_unpublished_versions() -> None:
    info = published(time={**{v: "2024-01-01T00:00:00Z" for v in WORKERD}, "1.20230601.0": "2023-06-01T00:00:00Z"})
    assert info.check("latest", "--adapter") == "1.20261117.1"
    assert info.check("1.20230512.0", "--adapter") == "1.20230512.0"
    with pytest.raises(
        UsageError, match=r"no published version 1\.20230520\.0; nearest published: 1\.20230518\.0, 1\.20230814\.0"
    ):
        info.check("1.20230520.0", "--adapter workerd@1.20230520.0")
    with pytest.raises(UsageError, match=r"1\.20230601\.0 was withdrawn: published .*, since unpublished"):
        info.check("1.20230601.0", "--good")


def test_between_takes_both_ends_in_either_order_without_prereleases() -> None:
    info = published(["3.9.0", "4.0.0", "4.1.0-beta", "4.1.0", "5.0.0-alpha", "5.0.0"])
    assert info.between("4.1.0", "4.0.0") == ["4.0.0", "4.1.0"]
    assert info.between("3.9.0", "5.0.0") == ["3.9.0", "4.0.0", "4.1.0", "5.0.0"]
    assert info.between("4.0.0", "5.0.0-alpha") == ["4.0.0", "4.1.0-beta", "4.1.0", "5.0.0-alpha"]


def test_periods() -> None:
    assert period("3mo") == 3
    assert period("1y") == 12
    assert period("2w").days == 14  # type: ignore[union-attr]
    for bad in ("3", "mo", "0mo", "3 months", "-1w"):
        with pytest.raises(UsageError, match="--every"):
            period(bad)


def test_every_keeps_the_first_version_of_each_period_and_the_last() -> None:
    info = published()
    span = info.between("1.20230512.0", "1.20261117.1")
    assert thin(span, info, "3mo") == [
        "1.20230512.0",
        "1.20230814.0",
        "1.20231121.0",
        "1.20240223.1",
        "1.20240524.0",
        "1.20261014.1",
        "1.20261117.1",
    ]
    assert thin(span, info, "1y") == ["1.20230512.0", "1.20240524.0", "1.20261014.1", "1.20261117.1"]


def test_select_mixes_lists_and_ranges_and_drops_duplicates() -> None:
    info = published()
    assert select(info, "1.20240524.0,1.20230512.0..1.20230814.0, latest") == [
        "1.20230512.0",
        "1.20230518.0",
        "1.20230814.0",
        "1.20240524.0",
        "1.20261117.1",
    ]
    assert select(info, "1.20240223.1..latest", every="1y") == ["1.20240223.1", "1.20261014.1", "1.20261117.1"]
    with pytest.raises(UsageError, match="expected versions or ranges"):
        select(info, " , ")
    with pytest.raises(UsageError, match=r"no published version 9\.9\.9"):
        select(info, "1.20230512.0..9.9.9")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))
    return tmp_path


def answer(versions: list[str]) -> dict[str, Any]:
    return {
        "package": "workerd",
        "fetched": "2026-11-30T00:00:00+00:00",
        "versions": versions,
        "time": {},
        "dist-tags": {},
    }


def test_the_list_is_asked_once_a_day_and_kept_in_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def ask(package: str) -> dict[str, Any]:
        asked.append(package)
        return answer(["1.0.0", "1.1.0"])

    monkeypatch.setattr(npm_versions, "_ask_npm", ask)
    assert npm_versions.published("workerd").versions == ("1.0.0", "1.1.0")
    assert npm_versions.published("workerd").versions == ("1.0.0", "1.1.0")
    assert asked == ["workerd"]
    stored = json.loads(npm_versions.cache_file("workerd").read_text())
    assert stored["versions"] == ["1.0.0", "1.1.0"]
    assert npm_versions.cache_file("@arrowood.dev/socket").name == "arrowood.dev+socket.json"


def test_an_old_list_is_refreshed_but_used_when_npm_cannot_be_reached(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = npm_versions.cache_file("workerd")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(answer(["1.0.0"])))
    old = time.time() - npm_versions.MAX_AGE_S - 60
    os.utime(path, (old, old))
    monkeypatch.setattr(npm_versions, "_ask_npm", lambda package: answer(["1.0.0", "2.0.0"]))
    assert npm_versions.published("workerd").versions == ("1.0.0", "2.0.0")

    os.utime(path, (old, old))

    def offline(package: str) -> dict[str, Any]:
        raise InfrastructureError("npm view workerd failed (exit 1): ENOTFOUND")

    monkeypatch.setattr(npm_versions, "_ask_npm", offline)
    assert npm_versions.published("workerd").versions == ("1.0.0", "2.0.0")
    assert "using the cached version list of workerd" in capsys.readouterr().err
    with pytest.raises(InfrastructureError, match="ENOTFOUND"):
        npm_versions.published("miniflare")


def test_a_backwards_range_is_refused_not_read_as_every_version() -> None:
    info = published()
    with pytest.raises(UsageError, match=r"runs backwards .*did you mean 1\.20230512\.0\.\.latest\?"):
        select(info, "latest..1.20230512.0")
    with pytest.raises(UsageError, match="runs backwards"):
        select(info, "1.20240524.0..1.20230814.0")
    assert select(info, "1.20230814.0..1.20230814.0") == ["1.20230814.0"]


def test_history_stops_before_installing_many_versions_without_yes(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.versions import history

    monkeypatch.setattr(npm_versions, "_ask_npm", lambda package: answer(WORKERD[1:]))
    options = history.HistoryOptions(family="workerd", versions="1.20230404.0..1.20261117.1", out=cache / "out")
    installed: list[str] = []
    monkeypatch.setattr(history.registry, "resolve", lambda value: installed.append(value))
    with pytest.raises(UsageError, match=r"9 versions of workerd would be installed first .*--yes"):
        history.run_history(options)
    assert installed == [], "nothing may be installed before the user says yes"
    assert not (cache / "out").exists()
