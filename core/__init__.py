"""Shared pieces of the service: settings, the test definition format and queue names."""
