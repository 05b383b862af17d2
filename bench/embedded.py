"""The embedded store under a demo's load, as the README runs it: `pointclub serve` with nothing
configured (moto's engine, in the server's process), then `pointclub segments import-list` and
`pointclub prepare-notification` of 10,000 and 50,000 members, each a separate process. A fresh
server for each size; the server's peak RSS is the store's memory too.

`--engine` is ignored: the embedded store is what this measures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from bench.harness import machine
from tests.e2e.test_cli import cli_env, run_cli, serving
from tests.engines import free_port

SIZES = (10_000, 50_000)
CREATE = """mutation($segment: String!) {
  createNotification(input: {category: "campaign",
    contents: [{locale: "ja", title: "デモ", body: "埋め込みストアの負荷"}],
    audience: {kind: SEGMENT, segment: $segment}}) {
    notification { id } userErrors { message } } }"""


@dataclass
class Row:
    members: int
    import_seconds: float
    prepare_seconds: float
    server_rss_mb: float

    @property
    def total(self) -> float:
        return self.import_seconds + self.prepare_seconds


async def main(*, engine: str) -> None:
    rows = [one_size(size) for size in SIZES]
    print("\n### The embedded store: import-list and prepare-notification beside `serve`\n")
    print(f"Machine: {machine()}. Command: `uv run python -m bench embedded`.\n")
    print(
        "| members | import-list s | members/s | prepare-notification s | members/s "
        "| both s | serve peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        import_rate = row.members / row.import_seconds
        prepare_rate = row.members / row.prepare_seconds
        print(
            f"| {row.members:,} | {row.import_seconds:.1f} | {import_rate:,.0f}"
            f" | {row.prepare_seconds:.1f} | {prepare_rate:,.0f}"
            f" | {row.total:.1f} | {row.server_rss_mb:,.0f} |"
        )
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        growth = (large.total / small.total) / (large.members / small.members)
        print(
            f"\nTime per member at {large.members:,} against {small.members:,}: {growth:.2f}x "
            "(1.00 is linear)."
        )


def one_size(members: int) -> Row:
    store_port = free_port()
    # The default timeout, not the tests' longer one: what a user of the demo gets.
    env = cli_env(POINTCLUB_EMBEDDED_PORT=str(store_port), POINTCLUB_DYNAMODB_TIMEOUT_SECONDS="10")
    with serving(env, store_port) as server, TemporaryDirectory() as tmp:
        listing = Path(tmp) / "members.txt"
        listing.write_text("".join(f"member-{n:07d}\n" for n in range(members)))
        segment = f"demo-{members}"

        started = time.monotonic()
        imported = run_cli("segments", "import-list", segment, str(listing), env=env, timeout=900)
        import_seconds = time.monotonic() - started
        if imported.returncode != 0:
            raise SystemExit(f"import-list failed: {imported.stderr}")

        token = run_cli("token", "--user", "bench-operator", "--admin", env=env).stdout.strip()
        answer = httpx.post(
            f"{server.url}/admin/graphql",
            json={"query": CREATE, "variables": {"segment": segment}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        created = answer["data"]["createNotification"]
        if created["notification"] is None:
            raise SystemExit(f"createNotification failed: {created['userErrors']}")

        started = time.monotonic()
        prepared = run_cli(
            "prepare-notification", created["notification"]["id"], env=env, timeout=1800
        )
        prepare_seconds = time.monotonic() - started
        if prepared.returncode != 0 or "PUBLISHED" not in prepared.stdout:
            raise SystemExit(f"prepare-notification failed: {prepared.stdout}{prepared.stderr}")
        return Row(members, import_seconds, prepare_seconds, peak_rss_mb(server.process.pid))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
