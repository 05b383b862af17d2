"""Time helpers shared by the domain: UTC instants, JST calendar months, ISO-8601 keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in pointclub carries an offset")
    return moment.astimezone(UTC)


# What ``iso_key`` writes, for patterns of the sort keys that start with one.
ISO_KEY_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


def iso_key(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with milliseconds: sorts lexically in time order."""
    # isoformat is several times faster than strftime (a key per entry on every inbox page).
    return utc(moment).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(text: str) -> datetime:
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def to_epoch_ms(moment: datetime) -> int:
    return int(utc(moment).timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def jst_month(moment: datetime) -> str:
    """The JST calendar month of an instant, as ``YYYY-MM``."""
    return moment.astimezone(JST).strftime("%Y-%m")


def shift_month(month: str, delta: int) -> str:
    year, mon = (int(part) for part in month.split("-"))
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(month: str) -> datetime:
    """The first instant of a JST calendar month, in UTC."""
    year, mon = (int(part) for part in month.split("-"))
    return datetime(year, mon, 1, tzinfo=JST).astimezone(UTC)


def month_end(month: str) -> datetime:
    """The last second of a JST calendar month (23:59:59 JST on its last day), in UTC."""
    return month_start(shift_month(month, 1)) - timedelta(seconds=1)
