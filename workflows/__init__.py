"""Temporal workflows: one per test run."""
