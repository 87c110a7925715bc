"""The JUnit report's shape for every kind of run, against the strict schema, without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import xmlschema

from api.junit import report
from core.run_result import AttemptFailure, RunProgress, StepRecord
from core.run_state import RunState
from store.models import Run

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[2] / "support" / "junit.xsd")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def a_run(
    job_id: str,
    state: RunState,
    steps: list[StepRecord],
    flaky: bool = False,
    suite: str = "",
    error: str | None = None,
) -> Run:
    result = RunProgress(state=state, steps=steps, flaky=flaky)
    return Run(
        job_id=job_id,
        project_id=1,
        test_name=f"test {job_id}",
        state=state,
        created_at=START,
        started_at=START,
        finished_at=START + timedelta(seconds=2),
        flaky=result.flaky,
        result=result.model_dump(mode="json"),
        suite_name=suite or None,
        error=error,
    )


def passed_on_retry() -> list[StepRecord]:
    failure = AttemptFailure(attempt=1, error="no element matches '#buy'", error_type="Timeout")
    return [StepRecord(index=0, action="click", status="passed", attempts=2, failures=[failure])]


def test_flaky_failed_and_cancelled_runs_in_one_valid_report() -> None:
    failed_step = StepRecord(
        index=0, action="click", status="failed", attempts=1, artifacts=["step-1.png"]
    )
    runs = [
        a_run("run-a", RunState.COMPLETED, passed_on_retry(), flaky=True, suite="Nightly"),
        a_run("run-b", RunState.FAILED, [failed_step], error="step 1 failed", suite="Nightly"),
        a_run("run-c", RunState.CANCELLED, [], suite="Nightly"),
    ]
    body = report("Nightly", runs, "shop", "https://tests.example")
    SCHEMA.validate(body.decode())
    root = ElementTree.fromstring(body)
    assert root.get("skipped") is None, "testsuites carries no skipped count"
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {"suite": "Nightly", "flaky": "1"}
    flaky, failed, cancelled = suite.findall("testcase")
    assert all(case.find("properties") is None for case in (flaky, failed, cancelled))
    [rerun] = flaky.findall("flakyFailure")
    assert rerun.get("type") == "Timeout" and rerun.text == "no element matches '#buy'"
    assert failed.find("flakyFailure") is None and failed.find("failure") is not None
    out = (failed.findtext("system-out") or "").splitlines()
    assert out[:2] == ["run: https://tests.example/ui/runs/run-b", "job: run-b (failed)"]
    assert "artifact step-1.png: https://tests.example/ui/runs/run-b/artifacts/step-1.png" in out
    assert (cancelled.find("skipped") is not None) and cancelled.find("flakyFailure") is None
