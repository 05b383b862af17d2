"""What the core needs from the outside world: one Protocol per store, and the values they trade.

``core/infra`` implements every port on DynamoDB (``core/infra/dynamodb``); ``tests/fakes``
implements every port in memory, and ``tests/contract`` runs the same checks on both, so a fake
cannot drift from the real store. Usecases, queries and ``Container`` are typed on these names
only. Where a store has a read side that is also served by a per-request DataLoader
(``resolvers/dataloaders.py``), the read side is its own Protocol and the store extends it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from core.domain.audience import AudiencePartition, BatchResult, Checkpoint, DeliveryFigures
from core.domain.broadcast import Broadcast, LiveList
from core.domain.events import Feed, InboxChange
from core.domain.inbox import InboxEntry, InboxState
from core.domain.missions import MemberMissions, Mission
from core.domain.notification import AuditRecord, Notification, NotificationState

# The values the ports trade, re-exported where the core has always imported them from.
from core.domain.notification_draft import IdempotencyClaim as IdempotencyClaim
from core.domain.pointclub import ClubRecord, EntryClaim, LedgerEntry
from core.domain.read_change import EntryRef as EntryRef
from core.domain.read_change import ReadChange as ReadChange
from core.domain.reads import InboxScan as InboxScan
from core.domain.reads import InboxScanRequest as InboxScanRequest
from core.domain.reads import LedgerPage as LedgerPage
from core.domain.segment import Segment, SegmentRule

# -- time and ids ------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


# -- a member's partition: inbox entries and read state ----------------------------------------


class MemberReader(Protocol):
    """Reads of one member's partition (``USER#<uid>``), each strongly consistent.

    The first four answer an awaitable: a store's coroutine, or the future a request's loader
    resolves (``resolvers/dataloaders.py``), which ``asyncio.gather`` waits on without a task."""

    def inbox_state(self, user_id: str) -> Awaitable[InboxState]: ...

    def club(self, user_id: str) -> Awaitable[ClubRecord | None]: ...

    def missions(self, user_id: str) -> Awaitable[MemberMissions]: ...

    def scan_inbox(self, user_id: str, request: InboxScanRequest) -> Awaitable[InboxScan]: ...

    async def inbox_entry(
        self, user_id: str, notification_id: str, visible_from: datetime
    ) -> InboxEntry | None: ...

    async def inbox_entries(
        self, user_id: str, refs: Sequence[EntryRef]
    ) -> Mapping[str, InboxEntry]: ...

    async def ledger_page(self, user_id: str, after: str | None, limit: int) -> LedgerPage: ...


class InboxStore(MemberReader, Protocol):
    """A member's inbox and read state: the reads above, a batched read of several members'
    status, and the two writes that change them."""

    async def statuses(
        self, user_ids: Sequence[str]
    ) -> dict[str, tuple[InboxState, ClubRecord | None, MemberMissions]]:
        """State, club record and mission progress of several members in one read."""
        ...

    async def deliver(self, user_id: str, entry: InboxEntry) -> bool:
        """Add the entry and its unread marker unless the member already has it; True if added."""
        ...

    async def apply(self, user_id: str, change: ReadChange, at: datetime) -> None:
        """Apply one change of read state atomically (at most 99 entry updates)."""
        ...


# -- notifications, their idempotency claims and the recall list -------------------------------


class NotificationReader(Protocol):
    async def get_many(
        self, notification_ids: Sequence[str], *, as_of: str | None = None
    ) -> Mapping[str, Notification]:
        """The notifications found. ``as_of``: the content version of the live list the caller
        read first (``LiveList.content_version``), which lets a shared cache answer; without
        it, the items as stored now."""
        ...

    async def get(self, notification_id: str) -> Notification | None: ...


class NotificationStore(NotificationReader, Protocol):
    """Notification items, the operators' idempotency claims and the listing by state."""

    async def put(self, notification: Notification, *, only_if_absent: bool = False) -> bool:
        """Write the notification; with ``only_if_absent`` keep an existing one. True if written."""
        ...

    async def create(
        self, notification: Notification, claim: IdempotencyClaim | None
    ) -> Notification:
        """Store a new notification; with a claim, the one created before under the same key
        (``Conflict`` when that key was used for something else)."""
        ...

    async def save(
        self, notification: Notification, *, expected: NotificationState, audit: AuditRecord
    ) -> None:
        """Replace the stored notification if it is still in ``expected`` at the version read
        (``Conflict`` otherwise)."""
        ...

    async def recall(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
    ) -> None:
        """Save the recalled notification, add it to every copy's recalled ids and take it off
        the live broadcasts, at once."""
        ...

    async def publish_broadcast(
        self,
        notification: Notification,
        *,
        expected: NotificationState,
        audit: AuditRecord,
        broadcast: Broadcast,
        drop: Sequence[str],
    ) -> None:
        """Save the published notification and put the broadcast into every copy of the live
        list (taking the expired ones in ``drop`` out) in one transaction; ``Conflict`` if the
        notification is no longer in ``expected`` at the version read."""
        ...

    async def page_by_state(
        self, state: NotificationState, after: str | None, limit: int
    ) -> list[Notification]:
        """Newest first by listing position, strictly after ``after``."""
        ...

    def all_in_state(self, state: NotificationState) -> AsyncIterator[Notification]: ...


class LiveListReader(Protocol):
    def live_for(self, user_id: str) -> Awaitable[LiveList]:
        """The copy of the live list this member reads: recalled ids (their entries may still be
        in inboxes) and the live broadcasts. An awaitable, as ``MemberReader``'s reads."""
        ...


class LiveListStore(LiveListReader, Protocol):
    """The live list, kept in several copies (shards) so no one item is hot; broadcasts enter
    it with ``NotificationStore.publish_broadcast`` and leave it with ``recall``."""

    def shard_of(self, user_id: str) -> int: ...

    async def live_in_shard(self, shard: int) -> LiveList: ...

    async def add(self, notification_id: str) -> None:
        """Add a recalled id to every copy at once."""
        ...

    async def remove(self, notification_id: str) -> None:
        """Forget a recalled id once its entries are gone."""
        ...


# -- segments and the audiences they describe --------------------------------------------------


class SegmentStore(Protocol):
    """Named segments, the member lists behind them and the member indexes of an audience."""

    async def create(self, segment: Segment) -> None:
        """``Conflict`` when the name is taken."""
        ...

    async def get(self, name: str) -> Segment | None: ...

    async def all(self) -> list[Segment]: ...

    async def put(self, segment: Segment) -> None: ...

    async def add_list_members(self, name: str, user_ids: Sequence[str]) -> None: ...

    async def size(self, rule: SegmentRule, name: str | None = None) -> int: ...

    async def partition_size(self, partition: AudiencePartition) -> int:
        """Members in one partition now (a COUNT of its index)."""
        ...

    def partitions(self, rule: SegmentRule, name: str | None) -> list[AudiencePartition]: ...

    def member_pages(
        self, partition: AudiencePartition, after: str | None, page_size: int = 500
    ) -> AsyncIterator[list[str]]:
        """Member ids in ascending order, strictly after ``after``, a page at a time."""
        ...


# -- delivery of a notification to its audience ------------------------------------------------


class FanoutStore(Protocol):
    """Deliveries in batches, their checkpoints, the delivery log and failure records."""

    batch_size: int  # members per delivery transaction

    async def checkpoints(self, notification_id: str) -> dict[str, Checkpoint]: ...

    async def deliver_batch(
        self,
        notification_id: str,
        partition: str,
        members: Sequence[str],
        entry: InboxEntry,
        *,
        checkpointed: bool = True,
    ) -> BatchResult: ...

    async def retry_failed(
        self,
        notification_id: str,
        entry: InboxEntry,
        owns: Callable[[str], bool] | None = None,
    ) -> BatchResult: ...

    async def has_failed(self, notification_id: str, member: str) -> bool: ...

    async def retry_member(
        self, notification_id: str, member: str, entry: InboxEntry
    ) -> BatchResult: ...

    async def finish_partition(self, notification_id: str, partition: str) -> None: ...

    async def remove_delivered(
        self,
        notification_id: str,
        entry: InboxEntry,
        progress: Callable[[int], None] | None = None,
    ) -> int: ...

    async def delivery_totals(
        self, notification_ids: Sequence[str]
    ) -> Mapping[str, DeliveryFigures]: ...


# -- the point ledger and the club read model --------------------------------------------------


class LedgerStore(Protocol):
    """Ledger entries with their id claims, the club record they change (versioned), and the
    member counts per rank that every change of a rank moves."""

    batch_size: int  # entries per transaction

    async def club_for_update(self, user_id: str) -> tuple[ClubRecord | None, int]: ...

    async def save(
        self,
        user_id: str,
        entries: Sequence[LedgerEntry],
        record: ClubRecord,
        version: int,
        run_id: str,
        *,
        rank_was: str | None,
        missions: Mapping[str, int] | None = None,
    ) -> Mapping[str, EntryClaim]:
        """Write the entries and the record (if still at ``version``, whose rank was
        ``rank_was``) in one transaction with the member counts per rank and the progress the
        entries make in ``missions``; nothing is written when an id is claimed already, and
        those claims come back."""
        ...

    async def save_club(
        self, user_id: str, record: ClubRecord, version: int, *, rank_was: str | None
    ) -> None: ...

    async def put_club(
        self, user_id: str, record: ClubRecord, *, only_if_absent: bool = False
    ) -> bool:
        """Write the record and move the counts per rank with it (seeding, tests)."""
        ...

    async def rank_counts(self) -> Mapping[str, int]:
        """Members per rank, as every write above has kept them."""
        ...

    async def set_rank_counts(self, shard: int, counts: Mapping[str, int]) -> None:
        """Replace one shard's counts (``ranks recount``, with no rank job running)."""
        ...

    async def put_ledger(self, user_id: str, entries: Sequence[LedgerEntry]) -> None: ...


class MissionStore(Protocol):
    """Missions (their items and the live list's copies) and members' progress items."""

    async def listed(self, user_id: str | None = None) -> tuple[Mission, ...]:
        """The running and upcoming missions (from the member's copy of the live list)."""
        ...

    async def create(
        self, mission: Mission, now: datetime, claim: IdempotencyClaim | None = None
    ) -> Mission:
        """``Conflict`` when as many missions as allowed are listed; with a claim, the key's
        first mission (``Conflict`` if the key was used with another input)."""
        ...

    async def prune(self, now: datetime) -> int:
        """Unlist missions ended long enough ago; how many."""
        ...

    async def get(self, mission_id: str) -> Mission | None: ...

    async def progress(self, user_id: str) -> MemberMissions: ...

    async def record_events(
        self,
        user_id: str,
        events: Sequence[tuple[str, str, datetime]],
        run_id: str,
        adds: Mapping[str, int],
    ) -> Mapping[str, EntryClaim]:
        """Claim each (event id, fingerprint, occurred at) and add ``adds`` to the progress at
        once; the claims of ids held already come back and nothing is written."""
        ...

    async def complete(
        self,
        user_id: str,
        mission: Mission,
        entry: LedgerEntry,
        record: ClubRecord,
        version: int,
        *,
        rank_was: str | None,
        at: datetime,
    ) -> bool:
        """The reward entry, its claim, the club record (if still at ``version``) and the
        completion mark in one transaction; False if the mission was completed already."""
        ...

    async def mark_noticed(self, user_id: str, mission_id: str) -> None: ...

    async def settle(self, user_id: str, seq: int, forget: Sequence[str]) -> bool:
        """Off the due index if the progress is still at ``seq``; False if it moved."""
        ...

    async def members_due(self, shard: int) -> list[str]: ...

    def due_shards(self) -> range: ...


# -- counters ----------------------------------------------------------------------------------


class ReadStats(Protocol):
    """Per-notification read counters, fed from each member's queue of reads."""

    async def count_pending_reads(self, user_id: str, missions: Sequence[Mission] = ()) -> int:
        """Add this member's queued reads to the per-notification counters, each once, and
        each read to the member's progress in the READ_NOTIFICATIONS ``missions`` open now."""
        ...

    async def read_counts(self, notification_ids: Sequence[str]) -> Mapping[str, int]: ...

    def pending_shards(self) -> range: ...

    async def members_with_pending_reads(self, shard: int) -> list[str]: ...


# -- the process's own items -------------------------------------------------------------------


class SystemStore(Protocol):
    async def create_table(self) -> bool:
        """Create the store's table unless it exists; True if created."""
        ...

    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the store answers."""
        ...

    async def claim_anchor(self, proposed: datetime) -> datetime:
        """The demo data's reference time: ``proposed`` on the first run, the stored one after."""
        ...


# -- live inbox events -------------------------------------------------------------------------


class InboxEvents(Protocol):
    """Tell the servers that what some members see has changed (after the change committed).

    A publish never fails the work it reports: an event that cannot be published is logged, and
    subscribers find out by the sequence number (a GAP) or by their connection closing."""

    async def to_members(self, user_ids: Sequence[str], change: InboxChange) -> None:
        """One message per member, on the member's own channel."""
        ...

    async def to_everyone(self, change: InboxChange) -> None:
        """One message, whatever the audience: every server delivers it to its subscribers."""
        ...

    async def announce(self, notification_id: str) -> None:
        """A broadcast is visible: NEW_ITEM for everyone, once however many processes say so."""
        ...

    async def upcoming(self, notification_id: str, visible_from: datetime) -> None:
        """A broadcast published ahead of its visibleFrom: servers announce it then."""
        ...


class EventFeeds(Protocol):
    """A server's side of live events: the feeds of the subscriptions it holds."""

    @property
    def status(self) -> str:
        """``ok``, ``unavailable`` (the broker is away) or ``off`` (none configured)."""
        ...

    @property
    def subscriptions(self) -> int: ...

    def feed(self, user_id: str) -> AbstractAsyncContextManager[Feed]:
        """The member's events from now on (``EventsUnavailable`` when there are none)."""
        ...

    async def start(self, *, wait: float = 0.0) -> None: ...

    def end_feeds(self) -> None:
        """Tell every open feed the server is stopping (``ServerStopping``); ``stop`` does too."""
        ...

    async def stop(self) -> None: ...
