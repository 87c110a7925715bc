"""Notifications: the events a project's webhooks hear, whom they reach, and their delivery."""
