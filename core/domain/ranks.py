"""Point-club ranks: codes, names per locale, thresholds in qualifying points, point-back rates
(``config/ranks.json``), validated once when the process starts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rank:
    code: str
    names: Mapping[str, str]
    threshold: int
    point_back_rate: float

    def name_for(self, locales: tuple[str, ...], fallback: str) -> str:
        for locale in (*locales, fallback):
            for candidate in (locale, locale.split("-")[0]):
                if candidate in self.names:
                    return self.names[candidate]
        return self.code


class RankTable:
    """The configured ranks, lowest first; validated once at start."""

    def __init__(self, ranks: Sequence[Rank]) -> None:
        if not ranks:
            raise ValueError("rank table is empty")
        ordered = sorted(ranks, key=lambda rank: rank.threshold)
        if ordered[0].threshold != 0 or sum(1 for rank in ordered if rank.threshold == 0) != 1:
            raise ValueError("rank table needs exactly one rank with threshold 0")
        thresholds = [rank.threshold for rank in ordered]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("rank thresholds must be distinct")
        codes = [rank.code for rank in ordered]
        if len(set(codes)) != len(codes):
            raise ValueError("rank codes must be unique")
        self.ranks: tuple[Rank, ...] = tuple(ordered)
        self._by_code = {rank.code: rank for rank in ordered}

    @classmethod
    def from_file(cls, path: Path) -> RankTable:
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            [
                Rank(
                    code=item["code"],
                    names=dict(item["names"]),
                    threshold=int(item["threshold"]),
                    point_back_rate=float(item["pointBackRate"]),
                )
                for item in document["ranks"]
            ]
        )

    @property
    def base(self) -> Rank:
        return self.ranks[0]

    def get(self, code: str) -> Rank:
        return self._by_code.get(code, self.base)

    def for_points(self, qualifying: int) -> Rank:
        reached = [rank for rank in self.ranks if rank.threshold <= qualifying]
        return reached[-1]

    def next_after(self, rank: Rank) -> Rank | None:
        index = self.ranks.index(self.get(rank.code))
        return self.ranks[index + 1] if index + 1 < len(self.ranks) else None
