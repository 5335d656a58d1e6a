"""WHEN expressions: parse_when and describe_relative across time zones and calendar edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskcli.core.dates import describe_relative, parse_when, utc_now
from taskcli.core.errors import InvalidInputError

NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)  # a Wednesday
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2026-06-17T23:59:59Z"),
        ("eod", "2026-06-17T23:59:59Z"),
        ("  TODAY \n", "2026-06-17T23:59:59Z"),
        ("tomorrow", "2026-06-18T23:59:59Z"),
        ("Yesterday", "2026-06-16T23:59:59Z"),
        ("now", "2026-06-17T12:00:00Z"),
        ("NOW", "2026-06-17T12:00:00Z"),
        # weekdays: the next such day strictly after today (a Wednesday)
        ("wednesday", "2026-06-24T23:59:59Z"),
        ("wed", "2026-06-24T23:59:59Z"),
        ("Thursday", "2026-06-18T23:59:59Z"),
        ("thu", "2026-06-18T23:59:59Z"),
        ("fri", "2026-06-19T23:59:59Z"),
        ("saturday", "2026-06-20T23:59:59Z"),
        ("sun", "2026-06-21T23:59:59Z"),
        ("MON", "2026-06-22T23:59:59Z"),
        ("tuesday", "2026-06-23T23:59:59Z"),
        ("+0d", "2026-06-17T23:59:59Z"),
        ("+3d", "2026-06-20T23:59:59Z"),
        ("+3D", "2026-06-20T23:59:59Z"),
        ("-3d", "2026-06-14T23:59:59Z"),
        ("+20d", "2026-07-07T23:59:59Z"),
        ("+2w", "2026-07-01T23:59:59Z"),
        ("-1w", "2026-06-10T23:59:59Z"),
        ("+1m", "2026-07-17T23:59:59Z"),
        ("-1m", "2026-05-17T23:59:59Z"),
        ("+1y", "2027-06-17T23:59:59Z"),
        ("+007d", "2026-06-24T23:59:59Z"),
        # ends of the week (Sunday), the month and the year
        ("eow", "2026-06-21T23:59:59Z"),
        ("EOW", "2026-06-21T23:59:59Z"),
        ("eom", "2026-06-30T23:59:59Z"),
        ("eoy", "2026-12-31T23:59:59Z"),
        # hours count from now, to the second; the other units from today, to its end
        ("+4h", "2026-06-17T16:00:00Z"),
        ("-2h", "2026-06-17T10:00:00Z"),
        ("+36h", "2026-06-19T00:00:00Z"),
        ("+0h", "2026-06-17T12:00:00Z"),
        ("in 5 hours", "2026-06-17T17:00:00Z"),
        ("in 1 hour", "2026-06-17T13:00:00Z"),
        ("in 1 day", "2026-06-18T23:59:59Z"),
        ("in 3 days", "2026-06-20T23:59:59Z"),
        ("In  2  Weeks", "2026-07-01T23:59:59Z"),
        ("in 1 month", "2026-07-17T23:59:59Z"),
        ("in 1 year", "2027-06-17T23:59:59Z"),
        # next WEEKDAY: the same day as the weekday alone (the next one after today)
        ("next friday", "2026-06-19T23:59:59Z"),
        ("next thu", "2026-06-18T23:59:59Z"),
        ("next wednesday", "2026-06-24T23:59:59Z"),
        ("Next  Sun", "2026-06-21T23:59:59Z"),
        ("2026-12-01", "2026-12-01T23:59:59Z"),
        ("2026-12-01T17:00", "2026-12-01T17:00:00Z"),
        ("2026-12-01 17:00", "2026-12-01T17:00:00Z"),
        ("2026-12-01T17:00:30", "2026-12-01T17:00:30Z"),
        ("2026-12-01t17:00:30z", "2026-12-01T17:00:30Z"),
        ("2026-12-01T17:00:30.999", "2026-12-01T17:00:30Z"),
        ("2028-02-29", "2028-02-29T23:59:59Z"),
        ("2000-02-29", "2000-02-29T23:59:59Z"),
        ("9999-12-31", "9999-12-31T23:59:59Z"),
        ("0001-01-02", "0001-01-02T23:59:59Z"),
    ],
)
def test_parse_when_in_utc(local_zone, text, expected):
    local_zone("UTC")
    result = parse_when(text, now=NOW)
    assert result == utc(expected)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        ("2028-01-31T12:00Z", "+1m", "2028-02-29T23:59:59Z"),
        ("2027-01-31T12:00Z", "+1m", "2027-02-28T23:59:59Z"),
        ("2028-03-31T12:00Z", "-1m", "2028-02-29T23:59:59Z"),
        ("2026-12-31T12:00Z", "+1m", "2027-01-31T23:59:59Z"),
        ("2026-12-31T12:00Z", "+2m", "2027-02-28T23:59:59Z"),
        ("2026-04-30T12:00Z", "+1m", "2026-05-30T23:59:59Z"),
        ("2026-01-31T12:00Z", "+13m", "2027-02-28T23:59:59Z"),
        ("2026-03-31T12:00Z", "-13m", "2025-02-28T23:59:59Z"),
        ("2026-01-15T12:00Z", "-1m", "2025-12-15T23:59:59Z"),
        ("2028-02-29T12:00Z", "+1y", "2029-02-28T23:59:59Z"),
        ("2028-02-29T12:00Z", "+4y", "2032-02-29T23:59:59Z"),
        ("2028-02-29T12:00Z", "-1y", "2027-02-28T23:59:59Z"),
        ("2028-02-29T12:00Z", "+12m", "2029-02-28T23:59:59Z"),
        ("2028-02-28T12:00Z", "+1d", "2028-02-29T23:59:59Z"),
        ("2028-02-28T12:00Z", "tomorrow", "2028-02-29T23:59:59Z"),
        ("2027-02-28T12:00Z", "+1d", "2027-03-01T23:59:59Z"),
        ("2028-03-01T12:00Z", "yesterday", "2028-02-29T23:59:59Z"),
        ("2026-12-31T12:00Z", "tomorrow", "2027-01-01T23:59:59Z"),
        ("2027-01-01T12:00Z", "yesterday", "2026-12-31T23:59:59Z"),
        ("2026-12-28T12:00Z", "+1w", "2027-01-04T23:59:59Z"),
        ("2026-12-31T12:00Z", "fri", "2027-01-01T23:59:59Z"),
        ("2028-02-26T12:00Z", "tue", "2028-02-29T23:59:59Z"),
        ("2026-06-17T23:59:59Z", "today", "2026-06-17T23:59:59Z"),
        ("2026-06-18T00:00:00Z", "today", "2026-06-18T23:59:59Z"),
    ],
)
def test_parse_when_calendar_edges(local_zone, now, text, expected):
    local_zone("UTC")
    assert parse_when(text, now=utc(now)) == utc(expected)


@pytest.mark.parametrize(
    ("zone", "now", "text", "expected"),
    [
        # Berlin springs forward on 2026-03-29 and falls back on 2026-10-25
        ("Europe/Berlin", "2026-03-29T10:00Z", "today", "2026-03-29T21:59:59Z"),
        ("Europe/Berlin", "2026-03-29T10:00Z", "yesterday", "2026-03-28T22:59:59Z"),
        ("Europe/Berlin", "2026-03-28T10:00Z", "tomorrow", "2026-03-29T21:59:59Z"),
        ("Europe/Berlin", "2026-03-28T22:30Z", "today", "2026-03-28T22:59:59Z"),
        ("Europe/Berlin", "2026-03-28T23:30Z", "today", "2026-03-29T21:59:59Z"),
        ("Europe/Berlin", "2026-10-25T10:00Z", "today", "2026-10-25T22:59:59Z"),
        ("Europe/Berlin", "2026-10-24T10:00Z", "+1d", "2026-10-25T22:59:59Z"),
        # hours are elapsed time: across the spring-forward night 3 hours are 3 hours
        ("Europe/Berlin", "2026-03-29T00:30Z", "+3h", "2026-03-29T03:30:00Z"),
        ("Europe/Berlin", "2026-03-29T00:30Z", "in 3 hours", "2026-03-29T03:30:00Z"),
        ("Europe/Berlin", "2026-03-27T10:00Z", "eow", "2026-03-29T21:59:59Z"),
        ("Europe/Berlin", "2026-06-16T22:30Z", "today", "2026-06-17T21:59:59Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-03-29", "2026-03-29T21:59:59Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-03-29T01:30", "2026-03-29T00:30:00Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-03-29T03:30", "2026-03-29T01:30:00Z"),
        # 02:30 happens twice on 2026-10-25: the first one (still summer time) wins
        ("Europe/Berlin", NOW.isoformat(), "2026-10-25T02:30", "2026-10-25T00:30:00Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-10-25T03:30", "2026-10-25T02:30:00Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-12-01T17:00", "2026-12-01T16:00:00Z"),
        ("Europe/Berlin", NOW.isoformat(), "2026-06-01T17:00", "2026-06-01T15:00:00Z"),
        # New York springs forward on 2026-03-08 and falls back on 2026-11-01
        ("America/New_York", "2026-03-08T12:00Z", "today", "2026-03-09T03:59:59Z"),
        ("America/New_York", "2026-03-08T12:00Z", "yesterday", "2026-03-08T04:59:59Z"),
        ("America/New_York", "2026-11-01T12:00Z", "today", "2026-11-02T04:59:59Z"),
        ("America/New_York", "2026-10-31T12:00Z", "+1d", "2026-11-02T04:59:59Z"),
        ("America/New_York", "2026-06-18T02:00Z", "today", "2026-06-18T03:59:59Z"),
        ("America/New_York", "2026-06-18T02:00Z", "thu", "2026-06-19T03:59:59Z"),
        ("America/New_York", NOW.isoformat(), "2026-12-01 17:00", "2026-12-01T22:00:00Z"),
        # at NOW it is already Thursday 02:00 on Kiritimati (UTC+14)
        ("Pacific/Kiritimati", NOW.isoformat(), "today", "2026-06-18T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "yesterday", "2026-06-17T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "thursday", "2026-06-25T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "fri", "2026-06-19T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "+1m", "2026-07-18T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "eow", "2026-06-21T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "eom", "2026-06-30T09:59:59Z"),
        ("Pacific/Kiritimati", "2026-12-31T12:00Z", "eoy", "2027-12-31T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "+2h", "2026-06-17T14:00:00Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "2026-12-01", "2026-12-01T09:59:59Z"),
        ("Pacific/Kiritimati", NOW.isoformat(), "2026-12-01T00:30", "2026-11-30T10:30:00Z"),
        # ... and still Wednesday 01:00 on Pago Pago (UTC-11)
        ("Pacific/Pago_Pago", NOW.isoformat(), "today", "2026-06-18T10:59:59Z"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "-1d", "2026-06-17T10:59:59Z"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "wednesday", "2026-06-25T10:59:59Z"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "thu", "2026-06-19T10:59:59Z"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "2026-12-01T17:00", "2026-12-02T04:00:00Z"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "now", "2026-06-17T12:00:00Z"),
    ],
)
def test_parse_when_in_local_zones(local_zone, zone, now, text, expected):
    local_zone(zone)
    result = parse_when(text, now=utc(now))
    assert result == utc(expected)
    assert result.tzinfo is UTC


def test_nonexistent_local_time_still_parses(local_zone):
    # 02:30 does not exist in Berlin on 2026-03-29; either neighbouring reading is fine
    local_zone("Europe/Berlin")
    result = parse_when("2026-03-29T02:30", now=NOW)
    assert result in {utc("2026-03-29T00:30Z"), utc("2026-03-29T01:30Z")}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T17:00+02:00", "2026-12-01T15:00:00Z"),
        ("2026-12-01T17:00Z", "2026-12-01T17:00:00Z"),
        ("2026-12-01 17:00:30-05:00", "2026-12-01T22:00:30Z"),
        ("2026-12-01T17:00+0530", "2026-12-01T11:30:00Z"),
        ("2026-12-01T17:00-03", "2026-12-01T20:00:00Z"),
        ("2026-12-01T08:00+14:00", "2026-11-30T18:00:00Z"),
    ],
)
def test_an_offset_in_the_input_beats_the_local_zone(local_zone, zone, text, expected):
    local_zone(zone)
    assert parse_when(text, now=NOW) == utc(expected)


def test_naive_now_is_utc(local_zone):
    local_zone("Europe/Berlin")
    # 23:30 UTC is already the 18th in Berlin
    assert parse_when("today", now=datetime(2026, 6, 17, 23, 30)) == utc("2026-06-18T21:59:59Z")


def test_now_is_cut_to_the_second(local_zone):
    local_zone("UTC")
    assert parse_when("now", now=NOW.replace(microsecond=654321)) == NOW


def test_now_defaults_to_the_current_time():
    before = utc_now()
    result = parse_when("now")
    assert before <= result <= utc_now()
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n\t",
        "tomorow",
        "todays",
        "next funday",
        "next",
        "next  ",
        "next today",
        "in x days",
        "in 3",
        "in 3 fortnights",
        "in -3 days",
        "in3days",
        "+3x",
        "+3hours",
        "eo w",
        "eoq",
        "mond",
        "monday2",
        "tues",
        "2026-02-30",
        "2026-02-29",
        "1900-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-12-00",
        "2026-12-01T25:00",
        "2026-12-01T17:60",
        "2026-12-01T17:00:60",
        "2026-12-01T17",
        "2026-12-01x17:00",
        "2026-12-01  17:00",
        "2026-12-01T17:00+25:00",
        "2026-12-01T17:00+02:00:00",
        "2026-12-01+02:00",
        "2026-12-01Z",
        "20261201",
        "2026-W48-1",
        "2026-335",
        "12/01/2026",
        "2026-1-5",
        "+d",
        "+3x",
        "3d",
        "+3",
        "++3d",
        "+-3d",
        "+3.5d",
        "+ 3d",
        "+3 d",
        "+3dd",
        "+٣d",
        "٢٠٢٦-١٢-٠١",
        "d+3",
        "+" + "9" * 5000 + "d",
        "garbage",
        "null",
    ],
)
def test_parse_when_rejects(local_zone, text):
    local_zone("UTC")
    with pytest.raises(InvalidInputError) as caught:
        parse_when(text, now=NOW)
    message = caught.value.message
    assert len(message.splitlines()) == 1
    assert "YYYY-MM-DD" in message
    assert "+3d" in message


def test_rejection_names_the_input():
    with pytest.raises(InvalidInputError, match=r"^invalid date 'tomorow': use YYYY-MM-DD"):
        parse_when("  tomorow ", now=NOW)


@pytest.mark.parametrize(
    ("zone", "now", "text"),
    [
        ("UTC", NOW, "+99999999999d"),
        ("UTC", NOW, "-999999999d"),
        ("UTC", NOW, "+9999999w"),
        ("UTC", NOW, "+99999m"),
        ("UTC", NOW, "-30000m"),
        ("UTC", NOW, "+8000y"),
        ("UTC", NOW, "-3000y"),
        ("UTC", NOW, "9999-12-31T23:59:59-01:00"),
        ("UTC", NOW, "0001-01-01T00:00+01:00"),
        ("UTC", datetime(9999, 12, 31, 12, tzinfo=UTC), "tomorrow"),
        ("UTC", datetime(9999, 12, 31, 12, tzinfo=UTC), "+1m"),
        ("UTC", datetime(1, 1, 1, 12, tzinfo=UTC), "yesterday"),
        # Python's local-time conversion looks a day back, so no zone reaches 0001-01-01
        ("UTC", NOW, "0001-01-01"),
        ("Pacific/Pago_Pago", NOW, "9999-12-31"),
        ("Pacific/Pago_Pago", NOW, "9999-12-31T20:00"),
        ("Pacific/Kiritimati", NOW, "0001-01-01"),
        ("Pacific/Kiritimati", NOW, "0001-01-01T05:00"),
    ],
)
def test_parse_when_rejects_out_of_range(local_zone, zone, now, text):
    local_zone(zone)
    with pytest.raises(InvalidInputError, match=r"^date '.*' is out of range$"):
        parse_when(text, now=now)


WHEN_LIKE = st.one_of(
    st.text(),
    st.from_regex(r"\s*[+-]?[0-9]{1,25}[dwmyx]?\s*", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2})?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
        fullmatch=True,
    ),
    st.datetimes().map(datetime.isoformat),
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    st.sampled_from(["today", "tomorrow", "yesterday", "eod", "now", "monday", "sun"]),
)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=WHEN_LIKE, now=st.datetimes(timezones=st.just(UTC)))
def test_parse_when_returns_utc_or_invalid_input(local_zone, zone, text, now):
    local_zone(zone)
    try:
        result = parse_when(text, now=now)
    except InvalidInputError as error:
        assert len(error.message.splitlines()) == 1
        return
    assert result.tzinfo is UTC
    assert result.microsecond == 0


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (NOW, "now"),
        (NOW + timedelta(seconds=59), "now"),
        (NOW - timedelta(seconds=59), "now"),
        (NOW + timedelta(minutes=1), "in 1 minute"),
        (NOW + timedelta(minutes=45, seconds=30), "in 45 minutes"),
        (NOW - timedelta(minutes=2), "2 minutes ago"),
        (NOW + timedelta(hours=1), "in 1 hour"),
        (NOW + timedelta(hours=5, minutes=30), "in 5 hours"),
        (NOW - timedelta(hours=3), "3 hours ago"),
        (NOW - timedelta(hours=1), "1 hour ago"),
        (utc("2026-06-17T23:59:59Z"), "today"),
        (utc("2026-06-17T23:00:00Z"), "in 11 hours"),
        (utc("2026-06-18T00:00:00Z"), "tomorrow"),
        (utc("2026-06-18T23:59:59Z"), "tomorrow"),
        (utc("2026-06-16T23:59:59Z"), "yesterday"),
        (utc("2026-06-16T00:00:00Z"), "yesterday"),
        (utc("2026-06-20T23:59:59Z"), "in 3 days"),
        (utc("2026-06-14T08:00:00Z"), "3 days ago"),
        (utc("2026-06-30T23:59:59Z"), "in 13 days"),
        (utc("2026-07-01T23:59:59Z"), "in 2 weeks"),
        (utc("2026-08-15T23:59:59Z"), "in 8 weeks"),
        (utc("2026-08-16T23:59:59Z"), "in 2 months"),
        (utc("2028-06-15T23:59:59Z"), "in 24 months"),
        (utc("2028-06-16T23:59:59Z"), "in 2 years"),
        (utc("2025-06-17T23:59:59Z"), "12 months ago"),
        (utc("2020-01-01T23:59:59Z"), "6 years ago"),
    ],
)
def test_describe_relative(local_zone, when, expected):
    local_zone("UTC")
    assert describe_relative(when, now=NOW) == expected


@pytest.mark.parametrize(
    ("zone", "now", "when", "expected"),
    [
        # 23:30 and 00:30 in Berlin: different days, though an hour apart
        ("Europe/Berlin", "2026-06-17T21:30Z", "2026-06-17T22:30Z", "tomorrow"),
        ("UTC", "2026-06-17T21:30Z", "2026-06-17T22:30Z", "in 1 hour"),
        ("Europe/Berlin", NOW.isoformat(), "2026-06-17T21:59:59Z", "today"),
        ("UTC", NOW.isoformat(), "2026-06-17T21:59:59Z", "in 9 hours"),
        ("Pacific/Kiritimati", NOW.isoformat(), "2026-06-18T09:59:59Z", "today"),
        ("UTC", NOW.isoformat(), "2026-06-18T09:59:59Z", "tomorrow"),
        ("Pacific/Pago_Pago", NOW.isoformat(), "2026-06-17T10:59:59Z", "yesterday"),
    ],
)
def test_describe_relative_counts_local_days(local_zone, zone, now, when, expected):
    local_zone(zone)
    assert describe_relative(utc(when), now=utc(now)) == expected


def test_describe_relative_takes_naive_values_as_utc(local_zone):
    local_zone("UTC")
    assert describe_relative(datetime(2026, 6, 20, 12), now=NOW) == "in 3 days"
    assert describe_relative(NOW, now=datetime(2026, 6, 17, 9)) == "in 3 hours"


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "today"),
        ("eod", "today"),
        ("tomorrow", "tomorrow"),
        ("yesterday", "yesterday"),
        ("+3d", "in 3 days"),
        ("-3d", "3 days ago"),
        ("+2w", "in 2 weeks"),
        ("now", "now"),
    ],
)
def test_describe_relative_reads_back_parse_when(local_zone, zone, text, expected):
    local_zone(zone)
    assert describe_relative(parse_when(text, now=NOW), now=NOW) == expected
