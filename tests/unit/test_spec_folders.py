"""Where the suite's folders are (the wheel's copies, or an editable checkout's) and a vendor's ``--spec`` folders."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.cases import loader, specdir
from conformance.cases.selection import spec_paths
from conformance.commands import arguments
from conformance.core import packaged
from conformance.errors import InfrastructureError, UsageError
from tests.helpers import REPO

CASE = """\
- id: {id}
  title: a vendor's case
  level: must
  source: [{source}]
  steps:
    - sleep: 1ms
"""


@pytest.fixture(autouse=True)
def _fresh_lookup() -> Iterator[None]:
    packaged.data_dir.cache_clear()
    yield
    packaged.data_dir.cache_clear()


def write_case(folder: Path, case_id: str, source: str = "B35", name: str = "cases.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(CASE.format(id=case_id, source=source), encoding="utf-8")
    return path


def areas(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


# --- the suite's own folders ------------------------------------------------------------------------


def test_the_suite_spec_has_the_checkouts_cases_whichever_way_the_package_is_installed() -> None:
    # Editable (the checkout itself) or a wheel (a copy inside the package): the same files either way.
    found = specdir.default_spec_dir()
    assert found.name == "spec"
    tracked = {p.relative_to(REPO / "spec") for p in (REPO / "spec").rglob("*") if p.is_file()}
    copied = {p.relative_to(found) for p in found.rglob("*") if p.is_file()}
    assert tracked <= copied
    assert (found / "behaviours.yaml").read_bytes() == (REPO / "spec" / "behaviours.yaml").read_bytes()
    assert (specdir.expectations_dir() / "workerd.yaml").read_bytes() == (
        REPO / "expectations" / "workerd.yaml"
    ).read_bytes()


class FakeDistribution:
    def __init__(self, record: object) -> None:
        self.record = record

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.record is None else json.dumps(self.record)


def fake_install(
    monkeypatch: pytest.MonkeyPatch, package: Path, records: list[object], folders: tuple[str, ...] = ()
) -> None:
    """``conformance`` imported from ``package`` (holding ``folders``), with these install records."""
    package.mkdir(parents=True, exist_ok=True)
    for name in folders:
        (package / name).mkdir()
    monkeypatch.setattr(packaged.resources, "files", lambda name: package)
    monkeypatch.setattr(
        packaged.metadata, "distributions", lambda name: [FakeDistribution(record) for record in records]
    )


def editable(checkout: Path) -> dict[str, object]:
    return {"url": checkout.as_uri(), "dir_info": {"editable": True}}


def test_the_wheels_copy_inside_the_package_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "spec").mkdir(parents=True)
    fake_install(monkeypatch, tmp_path / "site-packages" / "conformance", [editable(checkout)], ("spec",))
    assert specdir.default_spec_dir() == tmp_path / "site-packages" / "conformance" / "spec"


def test_an_editable_install_reads_its_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "my checkout"  # a space: the record's URL is percent-encoded
    (checkout / "expectations").mkdir(parents=True)
    # A build in the checkout leaves an egg-info without a record, found first from the checkout's folder.
    fake_install(monkeypatch, checkout / "conformance", [None, {"url": "file:///x"}, editable(checkout)])
    assert specdir.expectations_dir() == checkout / "expectations"


def test_another_checkouts_editable_record_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    (other / "spec").mkdir(parents=True)
    fake_install(monkeypatch, tmp_path / "imported" / "conformance", [editable(other)])
    with pytest.raises(InfrastructureError, match=r"the suite's spec/ folder is not installed .*imported/conformance"):
        specdir.default_spec_dir()


def test_paths_inside_the_current_folder_are_shown_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout's reports record spec/tls/x.yaml, not the path of the machine that made them.
    monkeypatch.chdir(tmp_path)
    assert packaged.from_here(tmp_path / "spec" / "tls") == Path("spec/tls")
    assert packaged.from_here(Path("/elsewhere/spec")) == Path("/elsewhere/spec")


# --- --expectations NAME ----------------------------------------------------------------------------


def test_a_builtin_name_gives_its_shipped_expectations_file() -> None:
    path = arguments.expectations_file("workerd")
    assert path.resolve() == (specdir.expectations_dir() / "workerd.yaml").resolve()
    assert path.is_file()


def test_a_builtin_name_without_its_installed_folder_is_a_usage_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> Path:
        raise InfrastructureError(f"the suite's {name}/ folder is not installed with connect-conformance")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(packaged, "data_dir", missing)
    with pytest.raises(argparse.ArgumentTypeError, match="expectations/ folder is not installed"):
        arguments.expectations_file("workerd")


def test_a_file_wins_over_a_builtin_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workerd").write_text("implementation: x\n")
    assert arguments.expectations_file("workerd") == Path("workerd")
    assert arguments.expectations_file("mine/missing.yaml") == Path("mine/missing.yaml")  # the run says it is missing


def test_a_name_that_is_neither_a_file_nor_a_builtin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(argparse.ArgumentTypeError, match=r"no such file: reference .*workerd, node-socket, miniflare"):
        arguments.expectations_file("reference")


# --- --spec DIR -------------------------------------------------------------------------------------


def test_a_vendor_area_replaces_the_suites_area_of_its_name_and_a_new_one_is_added(tmp_path: Path) -> None:
    suite = tmp_path / "spec"
    for area in ("address", "tls"):
        write_case(suite / area, f"{area}.one")
    (suite / "README.md").write_text("not a case")
    write_case(tmp_path / "vendor" / "tls", "tls.mine")
    write_case(tmp_path / "vendor" / "acme", "acme.extra")
    # A folder of areas, or each area on its own: the same result.
    as_root = spec_paths([suite], [tmp_path / "vendor"])
    one_by_one = spec_paths([suite], [tmp_path / "vendor" / "tls", tmp_path / "vendor" / "acme"])
    assert as_root == [suite / "address", tmp_path / "vendor" / "acme", tmp_path / "vendor" / "tls"]
    assert sorted(one_by_one) == sorted(as_root)
    cases, errors = loader.load(as_root)
    assert errors == []
    assert sorted(case.id for case in cases) == ["acme.extra", "address.one", "tls.mine"]


def test_without_spec_folders_the_paths_are_as_given(tmp_path: Path) -> None:
    write_case(tmp_path / "spec" / "tls", "tls.one")
    assert spec_paths([tmp_path / "spec"]) == [tmp_path / "spec"]
    assert spec_paths([]) == [packaged.from_here(specdir.default_spec_dir())]


def test_the_suites_other_areas_stay_beside_a_vendor_area(tmp_path: Path) -> None:
    write_case(tmp_path / "tls", "tls.mine")
    suite = packaged.from_here(specdir.default_spec_dir())
    others = sorted(p for p in suite.iterdir() if p.is_dir() and p.name != "tls")
    assert len(others) >= 8
    assert spec_paths([], [tmp_path / "tls"]) == [*others, tmp_path / "tls"]


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        ({}, r"--spec .*: neither an area \(a folder of case files, \*\.yaml\) nor a folder of areas"),
        ({"notes.md": "x"}, "neither an area"),
        (None, "no such folder"),
    ],
)
def test_a_spec_folder_without_cases_is_a_usage_error(
    tmp_path: Path, layout: dict[str, str] | None, problem: str
) -> None:
    folder = tmp_path / "vendor"
    if layout is not None:
        folder.mkdir()
        for name, text in layout.items():
            (folder / name).write_text(text)
    with pytest.raises(UsageError, match=problem):
        spec_paths([], [folder])


def test_two_spec_folders_giving_one_area_are_refused(tmp_path: Path) -> None:
    write_case(tmp_path / "a" / "acme", "acme.one")
    write_case(tmp_path / "b" / "acme", "acme.two")
    with pytest.raises(UsageError, match=r'the area "acme" is already given by --spec .*a/acme'):
        spec_paths([], [tmp_path / "a", tmp_path / "b"])


def only_vendor(paths: list[Path], vendor: Path) -> list[Path]:
    """The vendor's part of a selection (loading the suite's hundreds of cases is not what is tested)."""
    chosen = [path for path in paths if path.is_relative_to(vendor)]
    assert chosen
    return chosen


def vendor_catalogue(folder: Path) -> str:
    """The suite's catalogue with one behaviour more; returns its id."""
    text = (specdir.default_spec_dir() / "behaviours.yaml").read_text(encoding="utf-8")
    last = max(int(number) for number in re.findall(r"^  - id: B([0-9]+)$", text, re.MULTILINE))
    new = f"B{last + 1}"
    text += (
        f"  - id: {new}\n    title: A vendor's own behaviour\n    area: lifecycle\n"
        "    statement: Something only this runtime promises.\n"
        "    sources:\n      - url: https://example.invalid/vendor\n        what: the vendor's docs\n"
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "behaviours.yaml").write_text(text, encoding="utf-8")
    return new


@pytest.mark.parametrize("form", ["area", "folder of areas"])
def test_a_vendor_folder_with_its_own_catalogue_cites_it(tmp_path: Path, form: str) -> None:
    vendor = tmp_path / "vendor"
    own = vendor_catalogue(vendor)
    write_case(vendor if form == "area" else vendor / "acme", "acme.own", source=own)
    cases, errors = loader.load(only_vendor(spec_paths([], [vendor]), vendor))
    assert [str(error) for error in errors] == []
    assert "acme.own" in {case.id for case in cases}


def test_without_its_own_catalogue_a_vendor_case_cites_the_suites(tmp_path: Path) -> None:
    write_case(tmp_path / "acme", "acme.own", source="B9999")
    write_case(tmp_path / "acme", "acme.known", source="B35", name="known.yaml")
    cases, errors = loader.load(only_vendor(spec_paths([], [tmp_path / "acme"]), tmp_path))
    assert [error.problem for error in errors] == [
        f'"B9999": no behaviour B9999 in the catalogue ({specdir.default_spec_dir() / "behaviours.yaml"})'
    ]
    assert "acme.known" in {case.id for case in cases}
