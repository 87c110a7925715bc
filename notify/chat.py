"""Chat-ready messages: Slack's incoming-webhook shape, `{"text", "blocks"}`, which
Mattermost's incoming webhooks read as well (they show `text`, and render the blocks' mrkdwn as
Markdown when they do not know them)."""

from __future__ import annotations

from typing import Any

from notify.rules import RUN_FINISHED, SCHEDULE_FAILED, SCHEDULE_RECOVERED, SUITE_RUN_FINISHED

ICONS = {True: ":white_check_mark:", False: ":x:"}


def chat_message(document: dict[str, Any]) -> dict[str, Any]:
    """The event as one chat message: test name, outcome, failed step and reason, and a link."""
    kind, data = document["type"], document["data"]
    if kind in (RUN_FINISHED, SCHEDULE_FAILED, SCHEDULE_RECOVERED):
        lines = _run_lines(data["run"], kind)
        link = data["run"]["url"]
    elif kind == SUITE_RUN_FINISHED:
        lines = _suite_lines(data)
        link = data["url"]
    else:
        lines = [str(data.get("message", kind))]
        link = str(data.get("url", ""))
    text = "\n".join(lines) + (f"\n<{link}|Open in the dashboard>" if link else "")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{kind} · {document['id']}"}]},
    ]
    return {"text": text, "blocks": blocks}


def _run_lines(run: dict[str, Any], kind: str) -> list[str]:
    name = run.get("testName") or f"test {run.get('testId')}"
    where = f" in {run['environment']}" if run.get("environment") else ""
    heading = {
        SCHEDULE_FAILED: "started failing on its schedule",
        SCHEDULE_RECOVERED: "passes again on its schedule",
    }.get(kind, str(run["state"]).replace("_", " "))
    lines = [f"{ICONS[bool(run['passed'])]} *{name}* {heading}{where}"]
    step = run.get("failedStep")
    if step:
        lines.append(
            f"Step {step['number']} ({step['action']}): {step.get('error') or ''}".rstrip(": ")
        )
    elif run.get("reason") and not run["passed"]:
        lines.append(str(run["reason"]))
    return lines


def _suite_lines(data: dict[str, Any]) -> list[str]:
    name = data.get("suiteName") or data.get("suiteRunId")
    counts = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in data["counts"].items() if n)
    lines = [f"{ICONS[bool(data['passed'])]} Suite *{name}*: {counts}"]
    for run in data.get("failedRuns", [])[:5]:
        lines.extend("  " + line for line in _run_lines(run, RUN_FINISHED))
    return lines
