"""RecentKeys: a bounded memory that forgets its oldest key first."""

from core.recent_keys import RecentKeys


def test_the_oldest_key_is_forgotten_first_and_a_key_seen_again_is_young() -> None:
    recent = RecentKeys(2)
    recent.remember("a")
    recent.remember("b")
    recent.remember("a")  # seen again: now the youngest
    recent.remember("c")
    assert "a" in recent and "c" in recent
    assert "b" not in recent
