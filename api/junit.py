"""JUnit XML reports of runs, in the Ant/Surefire format that GitHub Actions, GitLab and Jenkins
read (valid against the strict schema of Jenkins' xUnit plugin too): one testsuite per report,
one testcase per run. A failed or timed-out run carries a `failure` (its error and type), a
cancelled or unfinished one is `skipped`, and one that passed on a retry a `flakyFailure` per
failed attempt. Each testcase's `system-out` starts with its dashboard page and artifacts'
links (which ask for sign-in, not a bearer token), then its steps and attempts. The
testsuite's `properties` name the suite, suite run and environment the runs share, and how
many were flaky. A report's time is its runs' wall time, from the first start to the last end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree

from core.run_result import RunProgress, StepRecord
from core.run_state import RunState
from store.models import Run, as_utc
from store.suite_runs import wall_time_s

FAILED = (RunState.FAILED, RunState.TIMED_OUT)
MESSAGE_CHARS = 500


def test_name(run: Run) -> str:
    """The test's name as the run was queued with it."""
    definition = (run.run_input or {}).get("test") or {}
    return str(run.test_name or definition.get("name") or f"test {run.test_id}")


def seconds(run: Run) -> float:
    return run.duration_s or 0.0


def step_lines(result: RunProgress | None) -> str:
    """Each step and its attempts, a line each."""
    if result is None:
        return ""
    records: list[StepRecord] = ([result.auth] if result.auth else []) + result.steps
    lines = []
    for step in records:
        where = "login" if step.index < 0 else f"step {step.index + 1}"
        took = f", {step.duration_ms} ms" if step.duration_ms is not None else ""
        selector = f" {step.selector_used}" if step.selector_used else ""
        lines.append(
            f"{where} {step.action}{selector}: {step.status} ({step.attempts} attempts{took})"
        )
        for failure in step.failures:
            wait = f"; retried after {failure.retry_in_s} s" if failure.retry_in_s else ""
            lines.append(
                f"  attempt {failure.attempt} [{failure.error_type}]: {failure.error}{wait}"
            )
    return "\n".join(lines)


def run_lines(run: Run, base_url: str) -> list[str]:
    """The run's links and facts, first in its `system-out`: where a person opens it."""
    result = run.outcome
    page = f"{base_url}/ui/runs/{run.job_id}"
    lines = [f"run: {page}", f"job: {run.job_id} ({run.state})"]
    if run.environment:
        lines.append(f"environment: {run.environment}")
    if run.flaky:
        lines.append("flaky: passed on a retry")
    names = (result.artifacts if result else []) + [
        name for step in (result.steps if result else []) for name in step.artifacts
    ]
    lines += [f"artifact {name}: {page}/artifacts/{name}" for name in sorted(set(names))]
    return lines


def flaky_failures(result: RunProgress | None) -> list[ElementTree.Element]:
    """A passed run's failed attempts, as Maven Surefire marks a test that passed on a rerun
    (`flakyFailure`, which Jenkins shows as flaky)."""
    if result is None:
        return []
    elements = []
    for step in result.steps:
        for failure in step.failures:
            element = ElementTree.Element(
                "flakyFailure",
                message=f"step {step.index + 1} attempt {failure.attempt}: {failure.error}"[
                    :MESSAGE_CHARS
                ],
                type=failure.error_type,
            )
            element.text = failure.error
            elements.append(element)
    return elements


def testcase(run: Run, project_name: str, base_url: str) -> ElementTree.Element:
    case = ElementTree.Element(
        "testcase",
        name=test_name(run),
        classname=project_name,
        time=f"{seconds(run):.3f}",
    )
    result = run.outcome
    if run.state in FAILED:
        error = run.error or run.state
        failure = ElementTree.SubElement(
            case,
            "failure",
            message=error[:MESSAGE_CHARS],
            type=(result.error_type if result and result.error_type else run.state),
        )
        failure.text = error
    elif run.state != RunState.COMPLETED:
        reason = "cancelled" if run.state == RunState.CANCELLED else f"not finished ({run.state})"
        ElementTree.SubElement(case, "skipped", message=reason)
    elif run.flaky:
        case.extend(flaky_failures(result))
    out = ElementTree.SubElement(case, "system-out")
    out.text = "\n".join([*run_lines(run, base_url), step_lines(result)])
    return case


def suite_properties(runs: Sequence[Run], base_url: str) -> ElementTree.Element:
    """What the runs share (their suite, suite run and environment), and how many were flaky."""
    properties = ElementTree.Element("properties")
    shared = {
        "suite": {run.suite_name for run in runs},
        "suiteRun": {
            f"{base_url}/ui/suite-runs/{run.suite_run_id}" if run.suite_run_id else None
            for run in runs
        },
        "environment": {run.environment for run in runs},
    }
    for name, values in shared.items():
        if len(values) == 1 and (value := values.pop()):
            ElementTree.SubElement(properties, "property", name=name, value=value)
    flaky = str(sum(1 for run in runs if run.flaky and run.state == RunState.COMPLETED))
    ElementTree.SubElement(properties, "property", name="flaky", value=flaky)
    return properties


def wall_seconds(runs: Sequence[Run]) -> float:
    """From the first run's start to the last one's end: the time a CI job waited for them."""
    return max(0.0, wall_time_s(runs) or 0.0)


def report(name: str, runs: Sequence[Run], project_name: str, base_url: str) -> bytes:
    """The runs as one testsuite, inside `testsuites`."""
    cases = [testcase(run, project_name, base_url) for run in runs]
    failures = sum(1 for run in runs if run.state in FAILED)
    skipped = sum(1 for run in runs if run.state not in (*FAILED, RunState.COMPLETED))
    total = f"{wall_seconds(runs):.3f}"
    counts = {
        "tests": str(len(runs)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": total,
    }
    root = ElementTree.Element(
        "testsuites", {"name": name, **{k: v for k, v in counts.items() if k != "skipped"}}
    )
    started = min((as_utc(run.created_at) for run in runs), default=datetime.now(UTC))
    moment = started.replace(tzinfo=None).isoformat(timespec="seconds")
    suite = ElementTree.SubElement(
        root,
        "testsuite",
        {"name": name, "timestamp": moment, "hostname": "testrun-service", **counts},
    )
    suite.append(suite_properties(runs, base_url))
    suite.extend(cases)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
