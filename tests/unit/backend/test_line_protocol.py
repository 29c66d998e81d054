"""Ingest's fast line-protocol serializer gives the points influxdb_client's Point gives: the same series,
timestamps, field names, strings and booleans, and numbers InfluxDB reads as the same floats (the text of
a number may differ: `20.0` for Point's `20`, `1e16` for `1e+16`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from backend.adapters.influx import (
    MEASUREMENT,
    FieldValue,
    _as_written,
    _series_prefix,
    telemetry_line,
    telemetry_lines,
)


def point_line(platform: str, resource: str, ts_ns: int, fields: dict[str, FieldValue]) -> str:
    """The reference: one line serialized by influxdb_client's Point (a test dependency only: the package
    and what it imports, numpy and reactivex among them, would cost ingest 100 MB of memory)."""
    point = Point(MEASUREMENT)  # type: ignore[no-untyped-call]
    point.tag("platform", platform)  # type: ignore[no-untyped-call]
    point.tag("resource", resource)  # type: ignore[no-untyped-call]
    for name, value in fields.items():
        point.field(name, _as_written(value))  # type: ignore[no-untyped-call]
    point.time(ts_ns, WritePrecision.NS)  # type: ignore[no-untyped-call]
    line: str = point.to_line_protocol()  # type: ignore[no-untyped-call]
    return line


def read_back(body: str) -> tuple[dict[str, tuple[str, object]], str]:
    """(fields, timestamp) of a line after its series, whose names and strings hold no escapes (the only
    lines whose text may differ from Point's: anything escaped is written value by value, as Point does);
    numbers as floats, strings and booleans as written."""
    body, _, ts = body.rpartition(" ")
    fields: dict[str, tuple[str, object]] = {}
    while body:
        key, _, body = body.partition("=")
        if body.startswith('"'):
            text, _, body = body[1:].partition('"')
            fields[key] = ("str", text)
            body = body.removeprefix(",")
        else:
            text, _, body = body.partition(",")
            fields[key] = ("bool", text) if text in ("true", "false") else ("number", float(text))
    return fields, ts


def same_points(platform: str, resource: str, ours: list[str], points: list[str]) -> None:
    series = _series_prefix(platform, resource)
    expected = [line for line in points if line]
    assert len(ours) == len(expected)
    for mine, theirs in zip(ours, expected, strict=True):
        if mine != theirs:
            assert mine.startswith(series) and theirs.startswith(series)
            mine, theirs = mine.removeprefix(series), theirs.removeprefix(series)
            assert "\\" not in mine + theirs, (mine, theirs)
            assert read_back(mine) == read_back(theirs)


HOSTILE = [",", "=", " ", "\n", "\t", "\r", '"', "\\", "'", "#", "温度", "a\\", "\\ ", "é", "\x00"]

names = st.text(min_size=1, max_size=12).filter(lambda n: n != "time") | st.sampled_from(HOSTILE)
values = (
    st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE)
)
codes = st.text(min_size=1, max_size=10) | st.sampled_from(HOSTILE)


@settings(max_examples=500, deadline=None)
@given(
    platform=codes,
    resource=codes,
    ts=st.integers(min_value=10**17, max_value=2**62),
    fields=st.dictionaries(names, values, min_size=1, max_size=6),
)
def test_same_points_as_point(
    platform: str, resource: str, ts: int, fields: dict[str, bool | int | float | str]
) -> None:
    ours = telemetry_line(platform, resource, ts, fields)
    same_points(platform, resource, [ours] if ours else [], [point_line(platform, resource, ts, fields)])


def test_known_line() -> None:
    line = telemetry_line(
        "jinan-bio", "F50-1", 1796083200000000000, {"temp_c": 37, "on": True, "s": 'a "b"', "x": 1.5}
    )
    assert (
        line == "telemetry,platform=jinan-bio,resource=F50-1 "
        'on=true,s="a \\"b\\"",temp_c=37,x=1.5 1796083200000000000'
    )


def test_numbers_are_floats_and_non_finite_values_are_left_out() -> None:
    assert (
        telemetry_line("p", "r", 10**18, {"a": 20, "b": 1e308 * 10})
        == "telemetry,platform=p,resource=r a=20 1000000000000000000"
    )
    assert telemetry_line("p", "r", 10**18, {"b": float("nan")}) == ""
    assert (
        telemetry_line("p", "r", 10**18, {"a": 10**400, "b": 1.0})
        == "telemetry,platform=p,resource=r b=1 1000000000000000000"
    )


@settings(max_examples=300, deadline=None)
@given(
    platform=codes,
    resource=codes,
    points=st.lists(
        st.tuples(
            st.integers(min_value=10**17, max_value=2**62),
            st.dictionaries(names, values | st.integers() | st.just(float("inf")), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_batch_serializer_gives_points_lines(
    platform: str, resource: str, points: list[tuple[int, dict[str, bool | int | float | str]]]
) -> None:
    expected = [point_line(platform, resource, ts, fields) for ts, fields in points]
    same_points(platform, resource, telemetry_lines(platform, resource, points), expected)


EDGES = st.sampled_from([0.0, -0.0, 20.0, 1e16, 1e22, 2.5, float("nan"), float("inf"), -float("inf")])
TEXTS = st.sampled_from(
    ["idle", "v1.0", "a.0,b", ".0", "x=nan", ",", "a,", ":", ":a", "a:", '":"', '"q"', "a\\"]
) | st.text(max_size=8)
INTS = st.sampled_from([0, -1, 400, 2**53 - 1, 2**53, -(2**53), 10**16, 2**70])


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(names, min_size=1, max_size=5, unique=True),
    rows=st.lists(
        st.lists(EDGES | TEXTS | INTS | st.booleans() | st.floats(), min_size=5, max_size=5), max_size=8
    ),
)
def test_samples_of_one_shape_give_points_points(names: list[str], rows: list[list[FieldValue]]) -> None:
    """Whole floats, exponents, strings holding ".0", integers around 2**53 and values that are no finite
    number, sample after sample."""
    points = [(10**18 + i, dict(zip(names, row, strict=False))) for i, row in enumerate(rows)]
    expected = [point_line("p", "r", ts, fields) for ts, fields in points]
    same_points("p", "r", telemetry_lines("p", "r", points), expected)
