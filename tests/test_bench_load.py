"""The load test's figures (`regua bench --only load`): the measured window starts a
warm-up after the last user started, and every request still counts in the whole run's."""

import pytest

from regua.benchmarks.load import SPAWNED, load_figures


def _samples(*rows: tuple[float, str, float, int]) -> str:
    return "".join(f"{at:.3f}\t{name}\t{ms:.1f}\t{failed}\n" for at, name, ms, failed in rows)


def test_the_window_leaves_out_the_start_up_and_keeps_it_in_the_whole_run() -> None:
    start_up = [(1000.0 + n, "sign in", 2400.0, 0) for n in range(5)]
    spawned = [(1005.0, SPAWNED, 0.0, 0)]
    warming = [(1010.0, "/contacts/", 900.0, 0)]
    # 100 dossiers in the window (one failed), then one after it.
    measured = [(1070.0 + n, "/contacts/[id]/", 10.0 + n, int(n == 3)) for n in range(100)]
    late = [(1300.0, "/contacts/[id]/", 5000.0, 0)]
    text = _samples(*start_up, *spawned, *warming, *measured, *late)

    figures = load_figures(text, warmup=60, minutes=3)

    assert figures["window"] == (1065.0, 1245.0)
    assert figures["measured_s"] == 180.0
    dossier = figures["pages"]["/contacts/[id]/"]
    assert dossier["requests"] == 100
    assert dossier["failures"] == 1
    assert (dossier["p50_ms"], dossier["p95_ms"], dossier["p99_ms"]) == (60.0, 105.0, 109.0)
    assert dossier["per_s"] == pytest.approx(100 / 180)
    assert set(figures["pages"]) == {"/contacts/[id]/", "All"}
    whole = figures["pages_with_start_up"]
    assert whole["All"]["requests"] == 5 + 1 + 100 + 1
    assert whole["sign in"]["p50_ms"] == 2400.0
    assert whole["All"]["p95_ms"] == 2400.0  # the sign-ins fill the tail


def test_the_window_ends_with_the_last_message_when_the_queue_ran_dry() -> None:
    text = _samples(
        (0.0, SPAWNED, 0, 0), *[(100.0 + n, "/agenda/", 40.0 + n, 0) for n in range(300)]
    )

    figures = load_figures(text, warmup=60, minutes=10, until=250.0)

    assert figures["window"] == (60.0, 250.0)
    assert figures["pages"]["/agenda/"]["requests"] == 150  # sent at 100 … 249
    assert figures["pages"]["/agenda/"]["p99_ms"] == 188.0
    assert figures["pages_with_start_up"]["/agenda/"]["requests"] == 300


def test_a_run_whose_users_never_all_started_is_refused() -> None:
    with pytest.raises(RuntimeError, match="did not start all its users"):
        load_figures(_samples((1.0, "sign in", 2400.0, 0)), warmup=60, minutes=10)


def test_a_run_that_stopped_before_the_window_is_refused() -> None:
    text = _samples((1.0, SPAWNED, 0, 0), (30.0, "/agenda/", 50.0, 0))
    with pytest.raises(RuntimeError, match="stopped before its measured window"):
        load_figures(text, warmup=60, minutes=10)
