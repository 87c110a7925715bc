"""Temporal activities: browser sessions, steps, auth and teardown."""
