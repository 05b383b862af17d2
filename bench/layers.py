"""`bench profile`'s cut of the samples by layer: each sample goes to the innermost layer on its
stack, so a DynamoDB call made from a resolver counts as the DynamoDB client, and the resolver's
own work as the resolver. The same cut of the GraphQL server and of the reference
(``BENCH_PROFILE_SERVER=reference``) says where the GraphQL tax is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

# Innermost first wins: a frame's layer is the first whose markers begin its file's path (py-spy
# prints paths relative to their sys.path entry: `ddtrace/contrib/internal/aiobotocore/...` is
# ddtrace's, `strawberry/schema/...` Strawberry's, `schema/public.py` ours).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "the DynamoDB client (aiobotocore, botocore, aiohttp, the store code)",
        ("aiobotocore/", "botocore/", "aiohttp/", "core/infra/"),
    ),
    ("the queries and the domain (`core/queries`, `core/domain`)", ("core/queries", "core/domain")),
    ("the DataLoaders", ("resolvers/dataloaders.py", "resolvers/loader.py")),
    (
        "Strawberry's resolver wrappers, our resolvers, the plain-fields plans",
        (
            "resolvers/viewer.py",
            "resolvers/read_state.py",
            "schema/",
            "resolvers/plain_fields.py",
            "strawberry/schema/schema_converter.py",
            "strawberry/types/arguments.py",
            "strawberry/permission.py",
        ),
    ),
    ("graphql-core's executor", ("graphql/",)),
    (
        "Strawberry's extensions and ours (hooks, caches, limits)",
        (
            "strawberry/extensions",
            "resolvers/cost.py",
            "resolvers/tracing.py",
            "resolvers/errors.py",
            "resolvers/trusted.py",
            "resolvers/schemas.py",
        ),
    ),
    (
        "Strawberry's schema and HTTP view (body, context, result, encoding)",
        ("strawberry/", "resolvers/view.py", "cross_web/"),
    ),
    ("ddtrace", ("ddtrace/",)),
    ("uvicorn, Starlette and the middleware", ("uvicorn/", "starlette/", "resolvers/limits.py")),
    ("logging", ("logging/", "structlog/")),
    ("the reference's handler", ("bench/reference.py",)),
]
EVENT_LOOP = "the event loop's own C code (uvloop) and samples with no Python frame"
ELSE = "anything else (asyncio tasks and gathers, the standard library)"
LOOP_FRAME = "Runner.run (asyncio/runners.py"


def layer_of(frames: list[str]) -> str:
    # Frames up to the event loop's run are the CLI and uvicorn's start: not the request's.
    for index, frame in enumerate(frames):
        if frame.startswith(LOOP_FRAME):
            frames = frames[index + 1 :]
            break
    frames = [frame for frame in frames if frame]
    if not frames:
        return EVENT_LOOP
    for frame in reversed(frames):
        where = frame.partition(" (")[2]
        for name, markers in LAYERS:
            if where.startswith(markers):
                return name
    return ELSE


def stack_samples(stacks: str) -> Iterator[tuple[list[str], int]]:
    """py-spy's raw lines (``frame;frame;… count``) as frames and count. A line without a count
    (a blank one, or one py-spy was still writing when it was stopped) is skipped."""
    for line in stacks.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def layer_table(stacks: str, cpu_ms_per_request: float | None) -> list[str]:
    """Markdown rows: each layer's share of the samples and, given the CPU per request, its ms."""
    counts: Counter[str] = Counter()
    for frames, samples in stack_samples(stacks):
        counts[layer_of(frames)] += samples
    total = sum(counts.values()) or 1
    rows = [
        "| layer (the innermost on the stack) | share of samples | CPU per request |",
        "|---|---|---|",
    ]
    for name, count in counts.most_common():
        share = count / total
        ms = "" if cpu_ms_per_request is None else f"{share * cpu_ms_per_request:.2f} ms"
        rows.append(f"| {name} | {100 * share:.1f}% | {ms} |")
    return rows
