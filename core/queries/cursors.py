"""Pages: their sizes, and opaque, stable cursors (a cursor is the sort key of the last item of
a page)."""

from __future__ import annotations

import base64
import binascii
import re

from core.errors import InvalidInput

_VERSION = "c1:"
MAX_PAGE = 100
DEFAULT_PAGE = 20


def check_first(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode((_VERSION + position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, pattern: re.Pattern[str], field: str = "after") -> str:
    """The position inside ``cursor``; ``InvalidInput`` unless it is one of ours of this kind."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (UnicodeError, ValueError, binascii.Error) as error:
        raise InvalidInput("malformed cursor", field=field) from error
    if not text.startswith(_VERSION) or not pattern.fullmatch(text[len(_VERSION) :]):
        raise InvalidInput("malformed cursor", field=field)
    return text[len(_VERSION) :]
