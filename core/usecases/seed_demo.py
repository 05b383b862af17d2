"""Demo data for development: members across ranks, a ledger, notifications in two locales."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.domain.missions import GoalKind, Mission, MissionGoal
from core.domain.notification import (
    Audience,
    AudienceKind,
    LocalizedContent,
    Notification,
    NotificationState,
    Priority,
)
from core.domain.pointclub import ClubRecord, LedgerEntry, PointEntryKind
from core.domain.time import jst_month, shift_month
from core.domain.wallet import PointKind, PointLot
from core.errors import Conflict
from core.ports import (
    EntryRef,
    InboxStore,
    LedgerStore,
    MissionStore,
    NotificationStore,
    ReadChange,
    SystemStore,
)

DEMO_MEMBER = "demo-member"
DEMO_ADMIN = "demo-admin"


@dataclass(frozen=True)
class DemoMember:
    user_id: str
    rank: str
    used_per_month: int
    # (points left, days until they expire, kind, days until spendable: 0 already)
    lots: tuple[tuple[int, int, PointKind, int], ...]


PAID, FREE = PointKind.PAID, PointKind.FREE
_DESCRIPTIONS = {
    (PAID, False): "購入ポイント",
    (PAID, True): "購入ポイント",
    (FREE, False): "ボーナス",
    (FREE, True): "キャンペーン還元",
}


MEMBERS = (
    DemoMember(
        DEMO_MEMBER,
        "SILVER",
        1200,
        ((1500, 5, FREE, 0), (800, 40, FREE, 0), (3000, 200, PAID, 0), (240, 120, FREE, 25)),
    ),
    DemoMember("demo-regular", "REGULAR", 50, ((120, 3, FREE, 0),)),
    DemoMember("demo-gold", "GOLD", 4000, ((9000, 20, FREE, 0), (12000, 300, PAID, 0))),
    DemoMember("demo-platinum", "PLATINUM", 9000, ((25000, 90, PAID, 0),)),
)


@dataclass(frozen=True)
class DemoNotification:
    key: str
    category: str
    ja: tuple[str, str]
    en: tuple[str, str] | None
    age: timedelta  # visibleFrom = anchor - age (negative: scheduled for later)
    lifetime: timedelta | None
    read: bool = False
    priority: Priority = Priority.NORMAL
    url: str | None = None


NOTIFICATIONS = (
    DemoNotification(
        "welcome",
        "system",
        ("ポイントクラブへようこそ", "ポイントを貯めてランクアップしましょう。"),
        ("Welcome to the point club", "Collect points and rank up."),
        timedelta(days=30),
        None,
        read=True,
    ),
    DemoNotification(
        "spring-campaign",
        "campaign",
        ("春のポイント2倍キャンペーン", "期間中のご購入でポイント2倍。"),
        ("Double points this spring", "Every purchase earns double points."),
        timedelta(days=6),
        timedelta(days=60),
        url="https://example.com/campaigns/spring",
        priority=Priority.HIGH,
    ),
    DemoNotification(
        "points-expiring",
        "point",
        ("まもなくポイントが失効します", "1,500ポイントが5日後に失効します。"),
        ("Points expire soon", "1,500 points expire in 5 days."),
        timedelta(days=2),
        timedelta(days=5),
    ),
    DemoNotification(
        "rank-up",
        "rank",
        ("シルバーランクになりました", "ポイント還元率が1.5%になりました。"),
        ("You are now Silver", "Your point-back rate is now 1.5%."),
        timedelta(days=1),
        timedelta(days=30),
        read=True,
    ),
    DemoNotification(
        "maintenance",
        "system",
        ("メンテナンスのお知らせ", "今夜2時から4時までメンテナンスを行います。"),
        None,
        timedelta(hours=5),
        timedelta(days=3),
    ),
    DemoNotification(
        "old-sale",
        "campaign",
        ("終了したセール", "このセールは終了しました。"),
        ("A sale that ended", "This sale is over."),
        timedelta(days=20),
        timedelta(days=10),
    ),
    DemoNotification(
        "news-tomorrow",
        "news",
        ("明日公開のお知らせ", "明日になると表示されます。"),
        ("Tomorrow's news", "Shows up tomorrow."),
        timedelta(days=-1),
        timedelta(days=10),
    ),
)


@dataclass
class SeedReport:
    anchor: datetime
    members: list[str] = field(default_factory=list)
    delivered: int = 0


class SeedDemo:
    """Idempotent: every value derives from the anchor fixed by the first run, and every write
    is conditional or identical, so a second run changes nothing."""

    def __init__(
        self,
        *,
        registry: SystemStore,
        notifications: NotificationStore,
        inbox: InboxStore,
        club: LedgerStore,
        now: datetime,
        missions: MissionStore | None = None,
    ) -> None:
        self._missions = missions
        self._registry = registry
        self._notifications = notifications
        self._inbox = inbox
        self._club = club
        self._now = now

    async def run(self) -> SeedReport:
        anchor = await self._registry.claim_anchor(
            self._now.replace(minute=0, second=0, microsecond=0)
        )
        report = SeedReport(anchor=anchor)
        for member in MEMBERS:
            await self._seed_member(member, anchor)
            report.members.append(member.user_id)
        for demo in NOTIFICATIONS:
            notification = _notification(demo, anchor)
            await self._notifications.put(notification, only_if_absent=True)
            assert notification.visible_from is not None
            for member in MEMBERS:
                entry = notification.entry(anchor)
                if await self._inbox.deliver(member.user_id, entry):
                    report.delivered += 1
                    if demo.read and member.user_id == DEMO_MEMBER:
                        change = ReadChange(
                            read=(entry.marker(),),
                            stamp_read=(EntryRef(entry.notification_id, entry.visible_from),),
                        )
                        await self._inbox.apply(member.user_id, change, anchor)
        if self._missions is not None:
            with suppress(Conflict):  # seeded before (its id is fixed), or the listing is full
                await self._missions.create(_demo_mission(anchor), self._now)
        return report

    async def _seed_member(self, member: DemoMember, anchor: datetime) -> None:
        month = jst_month(anchor)
        ledger: list[LedgerEntry] = []
        lots: list[PointLot] = []
        for index, (amount, days, kind, pending) in enumerate(member.lots):
            lot_id = f"{member.user_id}-earn-{index}"
            expires = anchor + timedelta(days=days)
            available = anchor + timedelta(days=pending) if pending else None
            lots.append(PointLot(lot_id, amount, expires, kind, available))
            ledger.append(
                LedgerEntry(
                    lot_id,
                    PointEntryKind.EARNED,
                    amount,
                    anchor - timedelta(days=10 + index),
                    _DESCRIPTIONS[kind, bool(pending)],
                    expires_at=expires,
                    point_kind=kind,
                    available_at=available,
                )
            )
        used: dict[str, int] = {}
        for offset in range(6):
            used[shift_month(month, -offset)] = member.used_per_month
            ledger.append(
                LedgerEntry(
                    f"{member.user_id}-use-{offset}",
                    PointEntryKind.USED,
                    -member.used_per_month,
                    anchor - timedelta(days=30 * offset + 1),
                    "ポイント利用",
                )
            )
        expired_lot = f"{member.user_id}-expired-0"
        ledger.append(
            LedgerEntry(
                expired_lot,
                PointEntryKind.EXPIRED,
                -100,
                anchor - timedelta(days=45),
                "有効期限切れ",
            )
        )
        record = replace(
            ClubRecord.joined(member.rank, anchor - timedelta(days=365)),
            lots=tuple(lots),
            used_by_month=used,
            rank_month=month,
        )
        await self._club.put_club(member.user_id, record, only_if_absent=True)
        await self._club.put_ledger(member.user_id, ledger)


def _notification(demo: DemoNotification, anchor: datetime) -> Notification:
    visible_from = anchor - demo.age
    contents = {"ja": LocalizedContent(*demo.ja)}
    if demo.en is not None:
        contents["en"] = LocalizedContent(*demo.en)
    return Notification(
        notification_id=f"demo-{demo.key}",
        state=NotificationState.PUBLISHED,
        category=demo.category,
        priority=demo.priority,
        contents=contents,
        audience=Audience(kind=AudienceKind.SEGMENT, segment="demo"),
        created_at=visible_from,
        created_by=DEMO_ADMIN,
        url=demo.url,
        visible_from=visible_from,
        expires_at=None if demo.lifetime is None else visible_from + demo.lifetime,
    )


def _demo_mission(anchor: datetime) -> Mission:
    """A mission every demo member sees: read three notifications (two months from the seed)."""
    return Mission(
        mission_id="DEMOREAD3",
        contents={
            "ja": LocalizedContent(
                "お知らせを3件読む", "お知らせを3件読むと50ポイント獲得できます。"
            ),
            "en": LocalizedContent(
                "Read 3 notifications", "Read 3 notifications to earn 50 points."
            ),
        },
        goal=MissionGoal(GoalKind.READ_NOTIFICATIONS, 3),
        starts_at=anchor - timedelta(days=1),
        ends_at=anchor + timedelta(days=60),
        reward=50,
        reward_valid_days=90,
        created_at=anchor,
        created_by=DEMO_ADMIN,
    )
