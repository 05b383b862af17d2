"""The unread count against a simple model, over random inbox states and instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.domain.broadcast import Visibility
from core.domain.inbox import InboxState, UnreadMarker

BASE = datetime(2026, 11, 1, tzinfo=UTC)

markers = st.builds(
    lambda index, start, life, category: UnreadMarker(
        visible_from=BASE + timedelta(hours=start),
        notification_id=f"n{index}",
        category=category,
        expires_at=None if life is None else BASE + timedelta(hours=start + life),
    ),
    st.integers(0, 50),
    st.integers(0, 100),
    st.one_of(st.none(), st.integers(0, 100)),
    st.sampled_from(["news", "campaign", "point"]),
)


@given(
    st.lists(markers, max_size=40, unique_by=lambda m: m.notification_id),
    st.integers(0, 220),
    st.sets(st.integers(0, 50).map(lambda i: f"n{i}"), max_size=10),
    st.one_of(st.none(), st.sets(st.sampled_from(["news", "campaign", "point"]))),
)
def test_unread_count_equals_the_visible_unread_items(
    unread: list[UnreadMarker], hour: int, recalled: set[str], categories: set[str] | None
) -> None:
    now = BASE + timedelta(hours=hour)
    state = InboxState(unread={m.notification_id: m for m in unread})
    expected = sum(
        1
        for m in unread
        if m.visible_from <= now
        and (m.expires_at is None or now < m.expires_at)
        and m.notification_id not in recalled
        and (categories is None or m.category in categories)
    )
    assert state.unread_count(now, Visibility(recalled=frozenset(recalled)), categories) == expected
    listed = state.visible_unread(now, Visibility(recalled=frozenset(recalled)), categories)
    assert len(listed) == expected
    assert [m.position for m in listed] == sorted((m.position for m in listed), reverse=True)
