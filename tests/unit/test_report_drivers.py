"""The driver x runtime matrix (issue 22, reports): one row per driver, one cell per implementation."""

from __future__ import annotations

from conformance.report import drivers

WORKERD = drivers.Column(
    "workerd",
    {
        "drivers.pg.plain-select": "pass",
        "drivers.pg.tls-select": "pass",
        "drivers.mysql2.tls-select": "fail",
        "drivers.mysql2.plain-select": "pass",
        "drivers.smtp.starttls": "pass",
        "tcp.connect.basic": "fail",
    },
    not_run_here=frozenset({"drivers.smtp.starttls"}),
    expected=frozenset({"drivers.mysql2.tls-select"}),
    header={
        "adapter": {"drivers": {"pg": "pg 8.13.1, pg-cloudflare 1.1.1"}},
        "servers": {"postgres": "PostgreSQL 15.8"},
    },
)
NODE = drivers.Column(
    "node-socket",
    {"drivers.pg.plain-select": "fail", "drivers.pg.tls-select": "skip", "drivers.mysql2.plain-select": "skip"},
)


def test_rows_count_passes_per_driver_and_leave_not_run_here_apart() -> None:
    table = {row.driver: row for row in drivers.rows([WORKERD, NODE])}
    assert sorted(table) == ["mysql2", "pg", "smtp"], "a non-drivers case made a row"
    pg_workerd, pg_node = table["pg"].cells
    assert (pg_workerd.passed, pg_workerd.scored, pg_workerd.symbol) == (2, 2, "✅")
    assert (pg_node.passed, pg_node.scored, pg_node.unexpected, pg_node.symbol) == (0, 2, 2, "❌")
    mysql_workerd = table["mysql2"].cells[0]
    assert mysql_workerd.text() == "❌* 1/2", "an expected failure is marked *"
    assert table["mysql2"].cells[1].text() == "➖ 0/1"
    smtp = table["smtp"].cells[0]
    assert (smtp.scored, smtp.not_run_here, smtp.text()) == (0, 1, "⬜ (1 not run here)")
    assert table["smtp"].cells[1].text() == "–"


def test_versions_of_driver_and_server_come_from_the_run_header() -> None:
    row = drivers.rows([NODE, WORKERD])[1]
    assert (row.driver, row.packages, row.server) == ("pg", "pg 8.13.1, pg-cloudflare 1.1.1", "PostgreSQL 15.8")
    assert drivers.rows([NODE])[1].server == "postgres", "without a version the server's kind is shown"


def test_markdown_section_and_html_data() -> None:
    lines = drivers.markdown([WORKERD, NODE])
    assert lines[0] == "## Drivers by runtime"
    header = next(line for line in lines if line.startswith("| driver"))
    assert header == "| driver | packages | server | workerd | node-socket |"
    pg = next(line for line in lines if line.startswith("| pg "))
    assert "✅ 2/2" in pg
    assert "❌ 0/2" in pg
    assert drivers.markdown([drivers.Column("x", {"tcp.connect.basic": "pass"})]) == []
    data = drivers.html_data([WORKERD])
    assert data[0]["cells"][0] == {
        "passed": 1,
        "scored": 2,
        "not_run_here": 0,
        "unexpected": 0,
        "skipped": 0,
        "text": "❌* 1/2",
    }


def test_the_run_header_keeps_the_server_versions_through_results_json() -> None:
    from conformance.report.model import RunHeader

    header = RunHeader({"name": "workerd"}, "workerd", "2026-12-07T00:00:00Z", 1.0, 2, "abc")
    assert "servers" not in header.as_dict(), "a run without drivers cases names no servers"
    header.servers = {"postgres": "postgres (PostgreSQL) 15.18"}
    assert RunHeader.from_dict(header.as_dict()).servers == {"postgres": "postgres (PostgreSQL) 15.18"}


def test_the_level_scores_are_of_connect_itself_and_leave_the_drivers_to_their_table() -> None:
    from pathlib import Path

    from conformance.report import html, matrix, model

    header = model.load(Path(__file__).resolve().parents[2] / "reports" / "reference" / "results.json").header
    impl = matrix.Implementation(
        "reference",
        header,
        outcomes={"address.a": "pass", "drivers.pg.plain-select": "skip", "drivers.pg.tls-select": "skip"},
        levels={"address.a": "must", "drivers.pg.plain-select": "must", "drivers.pg.tls-select": "must"},
        expected=set(),
    )
    assert impl.score("must") == (1, 1), "a model of connect() that runs no driver is not less compatible for it"
    cases = [
        {"id": case, "outcome": outcome, "level": "must", "not_run_here": False}
        for case, outcome in impl.outcomes.items()
    ]
    assert html._scores(cases)["must"] == [1, 1]
