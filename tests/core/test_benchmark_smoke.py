"""`benchmarks/core_overhead.py` keeps running: a smoke run gives complete, plausible figures."""

from __future__ import annotations

from benchmarks import core_overhead


def test_core_overhead_smoke_run_reports_both_modes() -> None:
    figures = core_overhead.measure(smoke=True, rounds=2, batch=5)
    assert figures["target_ratio"] == 1.3 and (figures["rounds"], figures["batch"]) == (2, 5)
    for mode in ("sync", "async"):
        row = figures[mode]
        assert row["core_us"] > 0 and row["raw_us"] > 0 and row["ratio"] > 0
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    assert figures["met"] == all(figures[mode]["ratio"] <= 1.3 for mode in ("sync", "async"))
