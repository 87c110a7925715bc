"""Settings as the old backend named them still work."""

from __future__ import annotations

from core.config import Settings


def test_redis_url_wins_over_the_older_host_port_password_settings() -> None:
    both = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url="redis://cache:6380/2",
        redis_host="old-host",
    )
    assert both.effective_redis_url == "redis://cache:6380/2"


def test_redis_host_port_and_password_make_a_url() -> None:
    old = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_host="old-host",
        redis_port=6390,
        redis_password="s3cret",
    )
    assert old.effective_redis_url == "redis://:s3cret@old-host:6390/0"
    without_password = Settings(_env_file=None, redis_host="h")  # type: ignore[call-arg]
    assert without_password.effective_redis_url == "redis://h:6379/0"
    assert Settings(_env_file=None).effective_redis_url is None  # type: ignore[call-arg]
