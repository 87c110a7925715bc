"""Workflow IDs of a run: the run's own is its jobId; each session attempt's is derived from it."""

from __future__ import annotations

SESSION_MARK = "/session-"


def session_workflow_id(job_id: str, session_attempt: int) -> str:
    """The ID of the workflow that runs a run's steps in its `session_attempt`-th session."""
    return f"{job_id}{SESSION_MARK}{session_attempt}"


def job_id_of(workflow_id: str) -> str:
    """The run a workflow belongs to: the run's own workflow or one of its sessions."""
    return workflow_id.split(SESSION_MARK, 1)[0]
