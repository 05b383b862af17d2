"""Mission rules on plain values: what advances which mission, what is due, what a new mission
must satisfy, the reward entry and notice, and the codec of the live list and progress items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain.inbox import NOTIFICATION_ID
from core.domain.missions import (
    MAX_BODY,
    MAX_LISTED,
    MAX_TITLE,
    GoalKind,
    MemberMissions,
    Mission,
    MissionGoal,
    MissionProgress,
    advances,
    check_mission,
    due,
)
from core.domain.notices import expiry_notice, mission_notice
from core.domain.notification_draft import LocalizedContent
from core.domain.pointclub import LEDGER_POSITION_PATTERN, PointEntryKind, check_entry
from core.infra.dynamodb.mission_codec import (
    mission_from_json,
    mission_to_json,
    progress_from_item,
)

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def mission(
    mission_id: str = "m1",
    kind: GoalKind = GoalKind.USE_POINTS,
    target: int = 500,
    event: str | None = None,
    **more: object,
) -> Mission:
    values: dict[str, object] = {
        "mission_id": mission_id,
        "contents": {
            "ja": LocalizedContent("ポイントを使う", "500ポイント使う"),
            "en": LocalizedContent("Use points", "Use 500 points"),
        },
        "goal": MissionGoal(kind, target, event),
        "starts_at": NOW,
        "ends_at": NOW + timedelta(days=7),
        "reward": 100,
        "reward_valid_days": 30,
        "created_at": NOW - timedelta(days=1),
        "created_by": "operator",
    }
    values.update(more)
    return Mission(**values)  # type: ignore[arg-type]


def test_a_happening_advances_the_open_missions_of_its_kind_and_event() -> None:
    use = mission("use")
    read = mission("read", GoalKind.READ_NOTIFICATIONS, 3)
    watch = mission("watch", GoalKind.EVENT, 2, "watched-video")
    listen = mission("listen", GoalKind.EVENT, 2, "listened")
    every = (use, read, watch, listen)
    assert advances(every, GoalKind.USE_POINTS, NOW, 120) == {"use": 120}
    assert advances(every, GoalKind.READ_NOTIFICATIONS, NOW + timedelta(days=1), 2) == {"read": 2}
    assert advances(every, GoalKind.EVENT, NOW, event="watched-video") == {"watch": 1}
    assert advances(every, GoalKind.EVENT, NOW, event="other") == {}
    # The period: from startsAt on, until endsAt (exclusive).
    assert advances(every, GoalKind.USE_POINTS, NOW - timedelta(microseconds=1), 5) == {}
    assert advances(every, GoalKind.USE_POINTS, NOW + timedelta(days=7), 5) == {}
    assert advances(every, GoalKind.USE_POINTS, NOW + timedelta(days=7, microseconds=-1), 5)


def test_due_is_reached_and_not_completed() -> None:
    a, b, c = mission("a"), mission("b"), mission("c")
    member = MemberMissions(
        {
            "a": MissionProgress(progress=500),
            "b": MissionProgress(progress=900, completed_at=NOW),
            "c": MissionProgress(progress=499),
        }
    )
    assert due((a, b, c), member) == [a]


def test_a_new_mission_is_checked_field_by_field() -> None:
    good = mission()
    assert check_mission(good, NOW) == []
    bad = mission(
        contents={"en": LocalizedContent("", "x" * 201)},
        goal=MissionGoal(GoalKind.READ_NOTIFICATIONS, 1001, "named"),
        ends_at=NOW - timedelta(hours=1),
        reward=0,
        reward_valid_days=0,
    )
    fields = [e.field for e in check_mission(bad, NOW)]
    assert fields == [
        "contents",
        "contents.en.title",
        "contents.en.body",
        "goal.target",
        "goal.event",
        "endsAt",
        "reward",
        "rewardValidDays",
    ]
    event = mission(goal=MissionGoal(GoalKind.EVENT, 1, None))
    assert [e.field for e in check_mission(event, NOW)] == ["goal.event"]
    long = mission(ends_at=NOW + timedelta(days=400))
    assert [e.message for e in check_mission(long, NOW)] == ["a period of at most 366 days"]
    ancient = mission(starts_at=datetime(1999, 1, 1, tzinfo=UTC))
    assert [e.field for e in check_mission(ancient, NOW)] == ["startsAt"]


def test_the_reward_is_a_valid_earned_entry_with_a_derived_id() -> None:
    reward = mission("m9").reward_entry("alice", NOW)
    assert reward.entry_id == "mission-m9-alice"
    assert (reward.kind, reward.amount, reward.point_kind) == (PointEntryKind.EARNED, 100, None)
    assert reward.expires_at == NOW + timedelta(days=30)
    assert check_entry(reward) is None


def test_the_notice_speaks_each_locale_of_the_mission() -> None:
    notice = mission_notice("alice", mission("m9"), NOW)
    assert notice.notification_id == "mission-m9-alice"
    assert notice.audience.user_id == "alice"
    assert notice.contents["ja"].title == "ミッション達成: ポイントを使う"
    assert "100ポイント" in notice.contents["ja"].body
    assert notice.contents["en"].title == "Mission complete: Use points"
    assert (notice.visible_from, notice.expires_at) == (NOW, NOW + timedelta(days=30))


def test_the_content_falls_back_from_the_asked_locale() -> None:
    m = mission()
    assert m.content_for(("en-GB",), "ja").title == "Use points"
    assert m.content_for(("fr",), "ja").title == "ポイントを使う"


def test_missions_and_progress_round_trip_through_items() -> None:
    m = mission("m1", GoalKind.EVENT, 3, "watched-video")
    assert mission_from_json(mission_to_json(m)) == m
    item = {
        "PK": {"S": "USER#alice"},
        "SK": {"S": "I~MISSIONS"},
        "p:m1": {"N": "2"},
        "p:m2": {"N": "5"},
        "d:m2": {"S": "2026-12-06T03:00:00.000Z"},
        "n:m2": {"N": "1"},
        "seq": {"N": "4"},
        "GSI1PK": {"S": "MDUE#03"},
    }
    member = progress_from_item(item)
    assert member.seq == 4
    assert member.of("m1") == MissionProgress(2)
    assert member.of("m2") == MissionProgress(5, NOW, noticed=True)
    assert member.of("none") == MissionProgress()
    assert progress_from_item(None) == MemberMissions()


def test_ten_missions_of_the_largest_size_keep_the_live_list_small() -> None:
    """Every inbox read fetches one live-list copy: the missions it carries are bounded by the
    caps (10 listed, 3 locales, 80 + 200 characters of 4-byte UTF-8 each)."""
    widest = "𠀋"  # four bytes in UTF-8
    contents = {
        locale: LocalizedContent(widest * MAX_TITLE, widest * MAX_BODY)
        for locale in ("ja", "en", "zh-Hant")
    }
    largest = [
        mission(
            f"{n:026d}", GoalKind.EVENT, 1000, "e" * 64, contents=contents, created_by="o" * 128
        )
        for n in range(MAX_LISTED)
    ]
    total = sum(len(f"m:{m.mission_id}") + len(mission_to_json(m).encode()) for m in largest)
    assert total <= 38_130, total  # 38 KB: 10 read units of a consistent read, at worst


def test_ids_derived_from_a_reward_of_the_longest_member_id_stay_valid() -> None:
    user = "u" * 128
    reward = mission("0" * 26).reward_entry(user, NOW)
    assert LEDGER_POSITION_PATTERN.fullmatch(reward.position)
    notice = expiry_notice(user, reward.entry_id, 100, NOW + timedelta(days=1), NOW)
    assert NOTIFICATION_ID.fullmatch(notice.notification_id)
    assert (
        notice.notification_id == expiry_notice(user, reward.entry_id, 1, NOW, NOW).notification_id
    )
    # Ids that fit keep the form they always had (notices already sent keep their ids).
    assert expiry_notice("alice", "lot-1", 5, NOW, NOW).notification_id == "expiring-alice-lot-1"
