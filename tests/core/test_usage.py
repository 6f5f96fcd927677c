"""`core.usage`: the per-model tally (sums, prices with the cached rate, unknown prices, thread safety, the
printed summary), the active tallies of a context, and counting one report once per tally."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gradient_integrations.core import usage
from gradient_integrations.core.catalog import CATALOG, ModelCatalog, ModelInfo
from gradient_integrations.core.usage import (
    _LEDGER,
    UNKNOWN_MODEL,
    ModelUsage,
    UsageTally,
    active_tallies,
    not_yet_counted,
    tracking,
)

PRICED = ModelInfo(
    id="priced",
    input_usd_per_mtok=1.0,
    output_usd_per_mtok=2.0,
    cached_input_usd_per_mtok=0.25,
)
NO_CACHED_RATE = ModelInfo(id="no-cached-rate", input_usd_per_mtok=3.0, output_usd_per_mtok=5.0)
EMBEDDER = ModelInfo(id="embedder", kind="embedding", input_usd_per_mtok=0.5)
CATALOG_FOR_TESTS = ModelCatalog({model.id: model for model in (PRICED, NO_CACHED_RATE, EMBEDDER)})


@pytest.fixture
def tally() -> UsageTally:
    return UsageTally(CATALOG_FOR_TESTS)


def test_sums_every_counter_per_model_and_in_total(tally: UsageTally) -> None:
    tally.add_chat("priced", 100, 20, cached_tokens=40, reasoning_tokens=5)
    tally.add_chat("priced", 10, 2)
    tally.add_chat("no-cached-rate", 7, 3, reasoning_tokens=1)
    tally.add_embedding("embedder", 50)

    assert tally.prompt_tokens == 117
    assert tally.completion_tokens == 25
    assert tally.cached_tokens == 40
    assert tally.reasoning_tokens == 6
    assert tally.embedding_tokens == 50
    assert tally.total_tokens == 117 + 25 + 50
    assert tally.successful_requests == 4
    by_model = tally.by_model
    assert list(by_model) == ["priced", "no-cached-rate", "embedder"]  # in the order first counted
    assert by_model["priced"] == ModelUsage(
        "priced",
        prompt_tokens=110,
        completion_tokens=22,
        cached_tokens=40,
        reasoning_tokens=5,
        successful_requests=2,
        cost_usd=by_model["priced"].cost_usd,
    )
    assert by_model["embedder"].embedding_tokens == 50 and by_model["embedder"].total_tokens == 50


def test_cost_uses_the_cached_rate_for_cached_prompt_tokens(tally: UsageTally) -> None:
    tally.add_chat("priced", 1_000_000, 500_000, cached_tokens=400_000)
    # 600k uncached at $1, 400k cached at $0.25, 500k out at $2.
    assert tally.total_cost == pytest.approx(0.6 + 0.1 + 1.0)
    tally.add_chat("no-cached-rate", 1_000_000, 0, cached_tokens=1_000_000)  # no cached rate: full price
    assert tally.by_model["no-cached-rate"].cost_usd == pytest.approx(3.0)
    tally.add_embedding("embedder", 2_000_000)
    assert tally.by_model["embedder"].cost_usd == pytest.approx(1.0)
    assert tally.total_cost == pytest.approx(1.7 + 3.0 + 1.0)
    assert tally.cost_known and tally.unpriced_models == []


def test_web_searches_cost_ten_dollars_a_thousand_on_top_of_tokens(tally: UsageTally) -> None:
    # DO blog "Serverless Inference: A Deep Dive": web search is $10 per 1,000 requests.
    assert pytest.approx(10 / 1000) == usage.WEB_SEARCH_USD
    tally.add_chat("priced", 1_000_000, 0, web_searches=3)
    tally.add_chat("priced", 0, 0, web_searches=1)
    assert tally.web_searches == 4 and tally.by_model["priced"].web_searches == 4
    assert tally.total_cost == pytest.approx(1.0 + 4 * 0.01)
    assert "Web Searches: 4 (USD 0.04)" in str(tally)
    tally.add_chat("mystery-model", 0, 0, web_searches=2)  # no price for the model: its cost stays unknown
    assert tally.by_model["mystery-model"].cost_usd is None and not tally.cost_known


def test_cost_matches_the_catalogs_own_arithmetic() -> None:
    tally = UsageTally()  # the shipped catalog
    assert tally.catalog is CATALOG
    tally.add_chat("openai-gpt-4o-mini", 1234, 567, cached_tokens=200)
    tally.add_chat("openai-gpt-4o-mini", 10, 5)
    expected = CATALOG.info("openai-gpt-4o-mini").cost_usd(1244, 572, 200)
    assert expected is not None and expected > 0
    assert tally.total_cost == pytest.approx(expected)


def test_a_model_without_a_price_makes_the_cost_unknown_not_zero(tally: UsageTally) -> None:
    tally.add_chat("priced", 1000, 1000)
    tally.add_chat("mystery-model", 1000, 1000)
    tally.add_chat("", 5, 5)  # the answer did not name its model
    assert tally.cost_known is False
    assert tally.unpriced_models == sorted(["mystery-model", UNKNOWN_MODEL])
    assert tally.by_model["mystery-model"].cost_usd is None
    assert tally.total_cost == pytest.approx(0.003)  # the known part only
    assert "+ unknown (no price for: <unknown model>, mystery-model)" in str(tally)


def test_an_empty_tally_costs_nothing_and_knows_it() -> None:
    tally = UsageTally()
    assert tally.total_cost == 0.0 and tally.cost_known and tally.by_model == {}
    assert tally.total_tokens == tally.successful_requests == 0


def test_negative_counts_are_not_subtracted(tally: UsageTally) -> None:
    tally.add_chat("priced", -5, -1, cached_tokens=-3, reasoning_tokens=-2)
    tally.add_embedding("embedder", -7)
    assert tally.total_tokens == tally.cached_tokens == tally.reasoning_tokens == 0
    assert tally.successful_requests == 2


def test_str_reads_like_the_openai_callback(tally: UsageTally) -> None:
    tally.add_chat("priced", 100, 20, cached_tokens=40, reasoning_tokens=5)
    assert str(tally) == (
        "Tokens Used: 120\n"
        "\tPrompt Tokens: 100\n"
        "\t\tPrompt Tokens Cached: 40\n"
        "\tCompletion Tokens: 20\n"
        "\t\tReasoning Tokens: 5\n"
        "Successful Requests: 1\n"
        "Total Cost (USD): $0.00011"  # 60 x $1 + 40 x $0.25 + 20 x $2 per million
    )
    tally.add_embedding("embedder", 10)
    tally.add_chat("mystery-model", 1, 1)
    text = str(tally)
    assert "\tEmbedding Tokens: 10\n" in text and "Tokens Used: 132\n" in text
    assert text.endswith("Total Cost (USD): $0.000115 + unknown (no price for: mystery-model)")
    assert "UsageTally(total_tokens=132" in repr(tally)


@pytest.mark.parametrize(
    ("tokens", "shown"),
    [(0, "$0.00"), (1_500_000, "$1.50"), (123, "$0.000123"), (1, "$0.000001"), (10_000_000, "$10.00")],
)
def test_dollars_are_shown_with_at_least_cents_and_no_noise(tokens: int, shown: str) -> None:
    tally = UsageTally(CATALOG_FOR_TESTS)
    tally.add_chat("priced", tokens, 0)
    assert str(tally).endswith(f"Total Cost (USD): {shown}")


def test_by_model_is_a_snapshot(tally: UsageTally) -> None:
    tally.add_chat("priced", 1, 1)
    snapshot = tally.by_model
    tally.add_chat("priced", 1, 1)
    tally.add_chat("no-cached-rate", 1, 1)
    assert list(snapshot) == ["priced"] and snapshot["priced"].prompt_tokens == 1


def test_many_threads_adding_at_once_lose_nothing(tally: UsageTally) -> None:
    threads, rounds = 8, 2000
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        start.wait()
        for _ in range(rounds):
            tally.add_chat("priced" if index % 2 else f"model-{index % 3}", 3, 2, 1, 1)
            tally.add_embedding("embedder", 1)
            _ = tally.total_cost  # readers too, while others write

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    assert tally.successful_requests == threads * rounds * 2
    assert tally.prompt_tokens == threads * rounds * 3
    assert tally.completion_tokens == threads * rounds * 2
    assert tally.cached_tokens == tally.reasoning_tokens == tally.embedding_tokens == threads * rounds
    assert sum(usage.successful_requests for usage in tally.by_model.values()) == threads * rounds * 2


# -- the active tallies ------------------------------------------------------------------------------
def test_tracking_nests_and_restores() -> None:
    outer, inner = UsageTally(), UsageTally()
    assert active_tallies() == ()
    with tracking(outer) as opened:
        assert opened is outer and active_tallies() == (outer,)
        with tracking(inner):
            assert active_tallies() == (outer, inner)
            with tracking(outer):  # already active: not added twice
                assert active_tallies() == (outer, inner)
            assert active_tallies() == (outer, inner)
        assert active_tallies() == (outer,)
    assert active_tallies() == ()


def test_tracking_is_per_context_threads_with_a_copied_context_see_it() -> None:
    tally = UsageTally()
    seen: dict[str, tuple[UsageTally, ...]] = {}
    with tracking(tally):
        context = contextvars.copy_context()
        plain = threading.Thread(target=lambda: seen.setdefault("plain", active_tallies()))
        copied = threading.Thread(
            target=lambda: context.run(lambda: seen.setdefault("copied", active_tallies()))
        )
        for thread in (plain, copied):
            thread.start()
            thread.join()
    assert seen == {"plain": (), "copied": (tally,)}


async def test_tracking_is_inherited_by_tasks_created_inside_it() -> None:
    tally = UsageTally()

    async def report() -> tuple[UsageTally, ...]:
        await asyncio.sleep(0)
        return active_tallies()

    with tracking(tally):
        inside = asyncio.create_task(report())
    outside = asyncio.create_task(report())
    assert await inside == (tally,)
    assert await outside == ()


def test_leaving_in_another_context_does_not_raise_and_removes_the_tally_there() -> None:
    tally = UsageTally()
    block = tracking(tally)
    block.__enter__()
    try:
        other = contextvars.copy_context()
        other.run(block.__exit__, None, None, None)  # the token belongs to this context, not that one
        assert other.run(active_tallies) == ()
        assert active_tallies() == (tally,)  # this context is untouched, as contextvars would have it
    finally:
        usage._ACTIVE.set(())


# -- one report, counted once -----------------------------------------------------------------------
class Report:
    """Any object supporting weak references stands for a framework's result."""


def test_a_report_is_counted_once_per_tally_however_many_routes_reach_it() -> None:
    first, second = UsageTally(), UsageTally()
    report = Report()
    assert not_yet_counted(report, (first,)) == (first,)
    assert not_yet_counted(report, (first, second)) == (second,)
    assert not_yet_counted(report, (second, first)) == ()
    assert not_yet_counted(Report(), (first,)) == (first,)  # another report is counted


def test_marks_go_with_the_report() -> None:
    gc.collect()
    before = len(_LEDGER)
    reports = [Report() for _ in range(50)]
    for report in reports:
        not_yet_counted(report, (UsageTally(),))
    assert len(_LEDGER) == before + 50
    del reports, report
    gc.collect()
    assert len(_LEDGER) == before


def test_a_report_without_weak_references_is_never_deduplicated() -> None:
    tally = UsageTally()
    report = ("not", "weakly", "referenceable")
    assert not_yet_counted(report, (tally,)) == (tally,)
    assert not_yet_counted(report, (tally,)) == (tally,)
