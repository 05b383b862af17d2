"""What every command shares: settings, the container inside ``asyncio.run``, error reporting."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from core.errors import PointclubError
from core.settings import Settings

if TYPE_CHECKING:
    from core.bootstrap import Container
    from core.usecases.segments import BadLine

T = TypeVar("T")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"bad configuration: {first['msg']}")


MAX_REPORTED = 50


def report_bad_lines(file: Path, bad: Sequence[BadLine]) -> None:
    """``file:line: reason: 'text'`` on stderr for the first bad lines of an import."""
    for line in bad[:MAX_REPORTED]:
        typer.echo(f"{file}:{line.number}: {line.reason}: {line.text[:80]!r}", err=True)
    if len(bad) > MAX_REPORTED:
        typer.echo(f"... and {len(bad) - MAX_REPORTED} more bad lines", err=True)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter("use a number and a unit, like 30m, 1h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def run_with_container(settings: Settings, job: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``job`` with a container opened inside this command's event loop."""
    # Imported here so that light commands (token, --help) do not pay for aioboto3.
    from core.bootstrap import open_container
    from core.endpoints import require_reachable

    async def main() -> T:
        require_reachable(settings)
        async with open_container(settings) as container:
            return await job(container)

    try:
        return asyncio.run(main())
    except PointclubError as error:
        fail(str(error))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
