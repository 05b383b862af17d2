"""`bench profile`'s cut by layer: a sample goes to the innermost layer on its stack."""

from __future__ import annotations

from bench.layers import ELSE, EVENT_LOOP, layer_of, layer_table, stack_samples

START = "<module> (pointclub:10);serve (cli/serve.py:117);Runner.run (asyncio/runners.py:118)"
RESOLVER = "Viewer.inbox (resolvers/viewer.py:122)"
QUERY = "InboxQueries.page (core/queries/inbox.py:70)"
CALL = "AioBaseClient._make_api_call (aiobotocore/client.py:340)"


def stack(*frames: str) -> list[str]:
    return f"{START};{';'.join(frames)}".split(";") if frames else START.split(";")


def test_the_innermost_layer_wins() -> None:
    assert layer_of(stack(RESOLVER, QUERY, CALL)).startswith("the DynamoDB client")
    assert layer_of(stack(RESOLVER, QUERY)).startswith("the queries and the domain")
    assert layer_of(stack(RESOLVER)).startswith("Strawberry's resolver wrappers")


def test_frames_below_the_event_loop_are_not_the_request() -> None:
    # The CLI's frames (cli/serve.py) would otherwise make every sample pointclub's.
    assert layer_of(stack()) == EVENT_LOOP
    assert layer_of(stack("gather (asyncio/tasks.py:728)")) == ELSE


def test_the_table_gives_shares_and_milliseconds() -> None:
    stacks = "\n".join(
        [f"{';'.join(stack(RESOLVER, QUERY, CALL))} 3", f"{';'.join(stack(RESOLVER))} 1"]
    )
    rows = layer_table(stacks, cpu_ms_per_request=4.0)
    assert rows[2].startswith("| the DynamoDB client") and rows[2].endswith("| 75.0% | 3.00 ms |")
    assert rows[3].endswith("| 25.0% | 1.00 ms |")
    assert layer_table(stacks, None)[2].endswith("| 75.0% |  |")


def test_a_layer_is_the_package_a_path_begins_with() -> None:
    # ddtrace's wrapper of a DynamoDB call is ddtrace's, not the client's it wraps.
    wrapper = "_wrapped_api_call (ddtrace/contrib/internal/aiobotocore/patch.py:150)"
    assert layer_of(stack(RESOLVER, wrapper)) == "ddtrace"
    # Strawberry's own schema module is Strawberry's, not our `schema/` package.
    execute = "Schema.execute (strawberry/schema/schema.py:901)"
    assert layer_of(stack(execute)).startswith("Strawberry's schema and HTTP view")
    assert layer_of(stack("InboxItem.from_view (schema/public.py:60)")).startswith(
        "Strawberry's resolver wrappers"
    )


def test_a_sample_with_no_python_frame_is_the_event_loop() -> None:
    assert layer_of([""]) == EVENT_LOOP
    assert layer_of(stack(QUERY)[len(START.split(";")) :]).startswith("the queries")


def test_lines_without_a_count_are_skipped() -> None:
    stacks = "main (a.py:1);run (resolvers/app.py:2) 3\n\nmain (a.py:1);cut short \n"

    assert list(stack_samples(stacks)) == [(["main (a.py:1)", "run (resolvers/app.py:2)"], 3)]
