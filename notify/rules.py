"""A webhook's rules: which of its project's events it hears."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

RUN_FINISHED = "run.finished"
SUITE_RUN_FINISHED = "suite_run.finished"
SCHEDULE_FAILED = "schedule.failed"
SCHEDULE_RECOVERED = "schedule.recovered"
EVENT_TYPES = (RUN_FINISHED, SUITE_RUN_FINISHED, SCHEDULE_FAILED, SCHEDULE_RECOVERED)
TEST_EVENT = "webhook.test"
"""What "send a test event" sends: every webhook hears it, whatever its rules."""


@dataclass(frozen=True)
class EventFacts:
    """What rules look at in an event."""

    passed: bool
    test_id: int | None = None
    suite_id: int | None = None
    schedule_id: str | None = None
    environment: str | None = None


class WebhookRules(BaseModel):
    """Only failures or every outcome; only some tests, suites or schedules (none listed:
    all); only one environment."""

    model_config = ConfigDict(extra="forbid")

    only_failures: bool = False
    test_ids: list[int] = Field(default_factory=list, max_length=100)
    suite_ids: list[int] = Field(default_factory=list, max_length=100)
    schedule_ids: list[str] = Field(default_factory=list, max_length=100)
    environment: str | None = Field(default=None, max_length=64)

    def admit(self, facts: EventFacts) -> bool:
        """Whether an event with these facts passes every rule."""
        chosen = (
            (self.test_ids, facts.test_id),
            (self.suite_ids, facts.suite_id),
            (self.schedule_ids, facts.schedule_id),
        )
        return (
            not (self.only_failures and facts.passed)
            and all(not wanted or found in wanted for wanted, found in chosen)
            and (self.environment is None or self.environment == facts.environment)
        )
