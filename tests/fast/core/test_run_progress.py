"""A run's progress arithmetic, on RunProgress: steps shown as the worker reports them, a new
session attempt starting afresh, and the end marking the steps it interrupted."""

from __future__ import annotations

from datetime import UTC, datetime

from core.run_result import (
    STEPS_END,
    STEPS_START,
    AttemptFailure,
    RunProgress,
    StepRecord,
    progress_after_steps,
)
from core.run_state import RunState


def three_steps(login: bool = False) -> RunProgress:
    return RunProgress(
        steps=[StepRecord(index=i, action="click") for i in range(3)],
        auth=StepRecord(index=-1, action="auth") if login else None,
    )


def test_a_step_in_progress_passes_the_ones_before_it_and_moves_the_percentage() -> None:
    run = three_steps(login=True)
    run.show_step_in_progress(-1, 2)
    assert (run.auth.status, run.auth.attempts) == ("running", 2)  # type: ignore[union-attr]
    run.show_step_in_progress(2, 1)
    assert [s.status for s in run.steps] == ["passed", "passed", "running"]
    assert run.auth.status == "passed"  # type: ignore[union-attr]
    assert (run.phase, run.current_step, run.progress) == ("steps", 2, progress_after_steps(2, 3))
    run.show_step_in_progress(7, 1)  # a step the run does not have changes nothing
    assert run.current_step == 2


def test_a_step_done_shows_its_attempts_and_what_passed() -> None:
    run = three_steps()
    failure = AttemptFailure(attempt=1, error="no element", error_type="SelectorNotFound")
    run.show_step_done(
        StepRecord(
            index=1,
            action="click",
            status="passed",
            attempts=2,
            duration_ms=40,
            selector_used="#buy",
            failures=[failure],
        )
    )
    shown = run.steps[1]
    assert (shown.status, shown.attempts, shown.duration_ms, shown.selector_used) == (
        "passed",
        2,
        40,
        "#buy",
    )
    assert shown.failures == [failure]


def test_a_new_session_attempt_starts_afresh_and_the_percentage_never_goes_back() -> None:
    run = three_steps(login=True)
    run.enter(RunState.ACTIVE, "steps", STEPS_START)
    run.show_step_in_progress(1, 3)
    run.enter(RunState.ACTIVE, "auth", 10)
    assert run.progress == progress_after_steps(1, 3) and run.phase == "auth"
    run.restart_steps()
    assert run.progress == 0
    assert all((s.status, s.attempts) == ("pending", 0) for s in run.steps)
    assert run.auth is not None and run.auth.status == "pending"


def test_the_end_marks_interrupted_steps_cancelled_or_skipped() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cancelled = three_steps()
    cancelled.show_step_in_progress(1, 1)
    cancelled.end(RunState.CANCELLED, at)
    assert [s.status for s in cancelled.steps] == ["passed", "cancelled", "skipped"]
    assert (cancelled.phase, cancelled.finished_at, cancelled.current_step) == ("done", at, None)
    timed_out = three_steps()
    timed_out.show_step_in_progress(0, 1)
    timed_out.end(RunState.TIMED_OUT, at, "the run exceeded 5 s", "TestTimedOut")
    assert [s.status for s in timed_out.steps] == ["skipped"] * 3
    assert timed_out.error_type == "TestTimedOut"
    passed = three_steps()
    passed.end(RunState.COMPLETED, at)
    assert passed.progress == 100 and STEPS_END < 100
