"""Progress percentages: setup 10, auth 30, steps 30 to 90, teardown 90, done 100."""

SETUP_DONE = 10
STEPS_START = 30
STEPS_END = 90


def progress_after_steps(done: int, total: int) -> int:
    """Percent reached once `done` of `total` steps have passed."""
    if total <= 0:
        return STEPS_END
    return STEPS_START + (STEPS_END - STEPS_START) * done // total
