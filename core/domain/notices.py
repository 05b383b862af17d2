"""The notices the point-club jobs send a member, in Japanese and English. Each id is derived
from what it is about (the member and month, or the lot): a notice exists once, whatever reruns."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from core.domain.inbox import NOTIFICATION_ID
from core.domain.missions import Mission
from core.domain.notification import (
    Audience,
    AudienceKind,
    AuditRecord,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.pointclub import RankTable
from core.domain.time import JST, month_end, month_start

NOTICE_ACTOR = "batch"


def rank_notice(
    user_id: str, month: str, ranks: RankTable, before: str, after: str
) -> Notification:
    old, new = ranks.get(before), ranks.get(after)
    up = new.threshold > old.threshold
    start = month_start(month)
    ja_title = (
        f"{new.names.get('ja', new.code)}ランクになりました" if up else "ランクが変わりました"
    )
    en_title = f"You are now {new.names.get('en', new.code)}" if up else "Your rank has changed"
    rate = f"{new.point_back_rate * 100:g}%"
    return _notice(
        f"rank-{month}-{user_id}",
        user_id,
        "rank",
        {
            "ja": LocalizedContent(
                ja_title,
                f"{month}の会員ランクは{new.names.get('ja', new.code)}です。"
                f"ポイント還元率は{rate}です。",
            ),
            "en": LocalizedContent(
                en_title,
                f"Your rank for {month} is {new.names.get('en', new.code)}, "
                f"with {rate} back in points.",
            ),
        },
        visible_from=start,
        expires_at=month_end(month) + timedelta(seconds=1),
    )


def expiry_notice(
    user_id: str, lot_id: str, amount: int, expires_at: datetime, now: datetime
) -> Notification:
    local = expires_at.astimezone(JST)
    notice_id = f"expiring-{user_id}-{lot_id}"
    if not NOTIFICATION_ID.fullmatch(notice_id):  # a reward lot of a long member id
        notice_id = f"expiring-{user_id}-h{hashlib.sha256(lot_id.encode()).hexdigest()[:32]}"
    return _notice(
        notice_id,
        user_id,
        "point",
        {
            "ja": LocalizedContent(
                "まもなくポイントが失効します",
                f"{amount:,}ポイントが{local:%Y年%m月%d日 %H:%M}に失効します。",
            ),
            "en": LocalizedContent(
                "Points expire soon",
                f"{amount:,} points expire on {local:%Y-%m-%d %H:%M} (JST).",
            ),
        },
        visible_from=now,
        expires_at=expires_at,
    )


def mission_notice(user_id: str, mission: Mission, completed_at: datetime) -> Notification:
    """Congratulations in each locale the mission has (its own title), visible for 30 days."""
    contents = {}
    for locale, content in mission.contents.items():
        japanese = locale.split("-")[0] == "ja"
        contents[locale] = (
            LocalizedContent(
                f"ミッション達成: {content.title}",
                f"ミッション「{content.title}」を達成し、{mission.reward:,}ポイントを獲得しました。",
            )
            if japanese
            else LocalizedContent(
                f"Mission complete: {content.title}",
                f"You completed “{content.title}” and earned {mission.reward:,} points.",
            )
        )
    return _notice(
        mission.reward_entry_id(user_id),
        user_id,
        "point",
        contents,
        visible_from=completed_at,
        expires_at=completed_at + timedelta(days=30),
    )


def _notice(
    notification_id: str,
    user_id: str,
    category: str,
    contents: dict[str, LocalizedContent],
    *,
    visible_from: datetime,
    expires_at: datetime,
) -> Notification:
    return Notification(
        notification_id=notification_id,
        state=NotificationState.DRAFT,
        category=category,
        priority=Priority.NORMAL,
        contents=contents,
        audience=Audience(AudienceKind.USER, user_id=user_id),
        created_at=visible_from,
        created_by=NOTICE_ACTOR,
        visible_from=visible_from,
        expires_at=expires_at,
        audit=(AuditRecord(visible_from, NOTICE_ACTOR, "create", f"{category} notice"),),
    )
