"""The raw assets' metadata says what a pull received against the total the source announced."""

from __future__ import annotations

from connectors.paging import PullTally
from pipelines.assets.raw import pull_metadata


class _ApiSource:
    def __init__(self, tally: PullTally | None) -> None:
        self.tally = tally

    def last_pull(self, dataset: str) -> PullTally | None:
        return self.tally if dataset == "residents" else None


def test_an_api_pull_reports_its_total_and_what_arrived() -> None:
    tally = PullTally(
        source="grid",
        url="http://127.0.0.1/x",
        expected_total=120,
        received=118,
        rows_pulled=119,
        superseded=1,
        pages=3,
    )
    metadata = pull_metadata(_ApiSource(tally), "residents")
    assert metadata["source_total"].value == 120
    assert metadata["source_received"].value == 118
    assert metadata["source_superseded"].value == 1


def test_a_source_without_a_total_or_without_pull_counts_adds_nothing_it_does_not_know() -> None:
    no_total = pull_metadata(_ApiSource(PullTally(source="health", url="db", received=5, rows_pulled=5)), "residents")
    assert "source_total" not in no_total and no_total["source_received"].value == 5
    assert pull_metadata(_ApiSource(None), "residents") == {}
    assert pull_metadata(object(), "residents") == {}
