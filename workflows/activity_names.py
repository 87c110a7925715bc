"""Activity names, so that the workflow never imports browser code."""

OPEN_SESSION = "open_session"
RUN_AUTH = "run_auth"
RUN_STEP = "run_step"
CLOSE_SESSION = "close_session"
RECORD_FINISHED = "record_finished"
