"""Tests for supervisor.resets: reset-time text from agent CLIs -> aware datetimes."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from teamctl_supervisor.core.resets.parse import (
    ABBREVIATIONS,
    JUST_PASSED,
    KINDS,
    parse_duration,
    parse_reset,
    resolve_zone,
    zone_from_abbreviation,
)
from teamctl_supervisor.core.resets.zones import _host_zone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
ZUTC = ZoneInfo("UTC")
ZONES = [BERLIN, NEW_YORK, KOLKATA, LORD_HOWE, ZUTC]
ZONE_IDS = [str(z) for z in ZONES]

# A fixed sample (fast) covering DST north/south, 30/45-minute offsets, midnight transitions, no DST.
SAMPLE_ZONES = sorted(
    {
        "UTC", "Europe/Berlin", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Moscow",
        "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
        "America/Phoenix", "America/Anchorage", "America/St_Johns", "America/Sao_Paulo",
        "America/Santiago", "America/Havana", "America/Asuncion", "Asia/Kolkata", "Asia/Kathmandu",
        "Asia/Tokyo", "Asia/Shanghai", "Asia/Tehran", "Asia/Beirut", "Australia/Lord_Howe",
        "Australia/Adelaide", "Australia/Sydney", "Pacific/Auckland", "Pacific/Chatham",
        "Pacific/Kiritimati", "Africa/Cairo",
    }
    & available_timezones()
)


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def is_gap(zone: ZoneInfo, day: date, hour: int, minute: int) -> bool:
    naive = datetime.combine(day, time(hour, minute))
    back = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back != naive


def occurrences(zone: ZoneInfo, day: date, hour: int, minute: int) -> set[datetime]:
    naive = datetime.combine(day, time(hour, minute))
    folds = (0,) if is_gap(zone, day, hour, minute) else (0, 1)
    return {naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in folds}


# --------------------------------------------------------------------------- bare clock times

CLOCK_1600 = ["4pm", "4 pm", "4PM", "16:00", "4:00 p.m.", "4:00\u202fPM", "resets 4pm", "at 16:00."]
CLOCK_1630 = ["4:30pm", "4:30 pm", "4:30 PM", "4:30\u202fPM", "4:30\u00a0PM", "4:30\u00a0pm", "16:30"]


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
@pytest.mark.parametrize("text", CLOCK_1600)
def test_bare_clock_later_today_resolves_to_today(zone: ZoneInfo, text: str) -> None:
    now = at(zone, 2026, 6, 15, 10, 0)
    assert parse_reset(text, "clock", now, zone) == at(zone, 2026, 6, 15, 16, 0)


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
@pytest.mark.parametrize("text", CLOCK_1630)
def test_minutes_and_unicode_spaces_before_am_pm_are_read(zone: ZoneInfo, text: str) -> None:
    now = at(zone, 2026, 1, 15, 10, 0)
    assert parse_reset(text, "clock", now, zone) == at(zone, 2026, 1, 15, 16, 30)
    assert parse_reset(text, "auto", now, zone) == at(zone, 2026, 1, 15, 16, 30)


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_bare_clock_already_past_today_means_tomorrow(zone: ZoneInfo) -> None:
    now = at(zone, 2026, 6, 15, 17, 0)
    assert parse_reset("4pm", "clock", now, zone) == at(zone, 2026, 6, 16, 16, 0)
    assert parse_reset("16:00", "auto", now, zone) == at(zone, 2026, 6, 16, 16, 0)


def test_bare_clock_equal_to_now_is_the_reset_that_just_passed() -> None:
    now = at(BERLIN, 2026, 6, 15, 16, 0)
    assert parse_reset("16:00", "clock", now, BERLIN) == at(BERLIN, 2026, 6, 15, 16, 0)


def test_minute_rounded_clock_seen_just_after_it_is_not_tomorrow() -> None:
    """A reset at 21:26:14 shown as "resets 9:26pm", seen again at 21:26:40: it just passed."""
    now = at(BERLIN, 2026, 12, 1, 21, 26) + timedelta(seconds=40)
    assert parse_reset("resets 9:26pm", "clock", now, BERLIN) == at(BERLIN, 2026, 12, 1, 21, 26)
    now = at(BERLIN, 2026, 12, 1, 9, 0) + timedelta(seconds=30)  # "resets 9am" seen at 09:00:30
    assert parse_reset("9am", "clock", now, BERLIN) == at(BERLIN, 2026, 12, 1, 9, 0)
    later = at(BERLIN, 2026, 12, 1, 9, 11)  # more than a few minutes past: the next one
    assert parse_reset("9am", "clock", later, BERLIN) == at(BERLIN, 2026, 12, 2, 9, 0)


def test_bare_clock_past_on_last_day_of_year_rolls_into_new_year() -> None:
    now = at(KOLKATA, 2026, 12, 31, 23, 0)
    assert parse_reset("9:15am", "clock", now, KOLKATA) == at(KOLKATA, 2027, 1, 1, 9, 15)


def test_now_in_another_zone_is_converted_before_comparing() -> None:
    now = utc(2026, 6, 15, 12, 0)  # 17:30 in Kolkata: 4pm there is past
    assert parse_reset("4pm", "clock", now, KOLKATA) == at(KOLKATA, 2026, 6, 16, 16, 0)


# --------------------------------------------------------------------------- named zones


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_utc_suffix_wins_over_runtime_zone(zone: ZoneInfo) -> None:
    now = utc(2026, 6, 15, 4, 30)
    assert parse_reset("16:00 UTC", "clock", now, zone) == utc(2026, 6, 15, 16, 0)
    assert parse_reset("16:00Z", "clock", now, zone) == utc(2026, 6, 15, 16, 0)


@pytest.mark.parametrize("text", ["4pm (Europe/Berlin)", "4pm Europe/Berlin", "16:00 (Europe/Berlin)"])
@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_iana_zone_in_text_wins_over_runtime_zone(text: str, zone: ZoneInfo) -> None:
    now = utc(2026, 6, 15, 9, 0)  # 11:00 in Berlin
    assert parse_reset(text, "clock", now, zone) == utc(2026, 6, 15, 14, 0)


def test_unknown_zone_name_makes_text_unreadable() -> None:
    now = utc(2026, 6, 15, 9, 0)
    assert parse_reset("4pm (Mars/Olympus_Mons)", "clock", now, BERLIN) is None
    assert parse_reset("4pm XYZQ", "clock", now, BERLIN) is None


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_pst_abbreviation_is_utc_minus_eight(zone: ZoneInfo) -> None:
    now = utc(2026, 6, 15, 12, 0)  # 04:00 PST
    assert parse_reset("1:40 PM PST", "clock", now, zone) == utc(2026, 6, 15, 21, 40)


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_gmt_minus_three_is_utc_minus_three(zone: ZoneInfo) -> None:
    now = utc(2026, 6, 15, 12, 0)  # 09:00 at UTC-3
    assert parse_reset("10:57 PM GMT-3", "clock", now, zone) == utc(2026, 6, 16, 1, 57)


def test_half_hour_offset_suffix() -> None:
    now = utc(2026, 6, 15, 0, 0)
    assert parse_reset("10:57 PM UTC+05:30", "clock", now, ZUTC) == utc(2026, 6, 15, 17, 27)


def test_pst_in_los_angeles_winter_is_the_runtime_zone() -> None:
    la = ZoneInfo("America/Los_Angeles")
    now = at(la, 2026, 1, 15, 9, 0)
    assert parse_reset("1:40 PM PST", "clock", now, la) == at(la, 2026, 1, 15, 13, 40)


def test_results_are_utc_so_subtraction_is_elapsed_time() -> None:
    now = at(BERLIN, 2026, 3, 28, 17, 0)
    for text, kind in [("4pm", "clock"), ("5h", "duration"), ("1764345600", "epoch"), ("2026-11-27", "iso")]:
        result = parse_reset(text, kind, now, BERLIN)
        assert result is not None and result.tzinfo is UTC


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_date_without_year_still_ahead_is_this_year(zone: ZoneInfo) -> None:
    now = at(zone, 2026, 6, 15, 10, 0)
    got = parse_reset("Dec 2, 9am (America/New_York)", "clock", now, zone)
    assert got == at(NEW_YORK, 2026, 12, 2, 9, 0)
    assert got == utc(2026, 12, 2, 14, 0)


def test_date_without_year_already_past_means_next_year() -> None:
    now = at(NEW_YORK, 2026, 12, 2, 9, 30)
    assert parse_reset("Dec 2, 9am (America/New_York)", "clock", now, BERLIN) == at(NEW_YORK, 2027, 12, 2, 9)


def test_date_with_year_is_taken_as_is() -> None:
    now = utc(2026, 6, 15)
    expected = utc(2027, 1, 2, 23, 45)
    assert parse_reset("Jan 2, 2027, 6:45pm (America/New_York)", "clock", now, KOLKATA) == expected


def test_date_with_year_in_the_past_is_returned_not_rolled() -> None:
    now = utc(2026, 6, 15)
    got = parse_reset("Jan 2, 2020, 6:45pm (America/New_York)", "clock", now, BERLIN)
    assert got == utc(2020, 1, 2, 23, 45)


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_month_day_time_in_runtime_zone(zone: ZoneInfo) -> None:
    now = at(zone, 2026, 6, 15, 10, 0)
    assert parse_reset("Apr 17, 4:00 AM", "clock", now, zone) == at(zone, 2027, 4, 17, 4, 0)
    assert parse_reset("Jul 23rd, 2026 4:15 AM", "clock", now, zone) == at(zone, 2026, 7, 23, 4, 15)


def test_lord_howe_winter_date_uses_half_hour_standard_offset() -> None:
    got = parse_reset("Jul 23rd, 2026 4:15 AM", "clock", utc(2026, 6, 15), LORD_HOWE)
    assert got == utc(2026, 7, 22, 17, 45)  # +10:30


def test_day_first_date_and_http_date() -> None:
    now = utc(2026, 6, 15)
    assert parse_reset("2 Dec 9am", "clock", now, BERLIN) == at(BERLIN, 2026, 12, 2, 9)
    http = "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_reset(http, "auto", now, BERLIN) == utc(2015, 10, 21, 7, 28)


def test_feb_29_without_year_goes_to_next_leap_year() -> None:
    now = utc(2026, 6, 15)
    assert parse_reset("Feb 29, 9am", "clock", now, ZUTC) == utc(2028, 2, 29, 9)


def test_invalid_calendar_date_is_unreadable() -> None:
    now = utc(2026, 6, 15)
    assert parse_reset("Feb 30, 9am", "clock", now, ZUTC) is None
    assert parse_reset("Feb 29, 2027, 9am", "clock", now, ZUTC) is None


# --------------------------------------------------------------------------- weekdays


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
@pytest.mark.parametrize("text", ["Mon 9am", "Monday 9:00", "mon, 9 AM", "Mon at 9am"])
def test_weekday_means_next_such_weekday(zone: ZoneInfo, text: str) -> None:
    now = at(zone, 2026, 6, 17, 10, 0)  # a Wednesday
    assert parse_reset(text, "clock", now, zone) == at(zone, 2026, 6, 22, 9, 0)


def test_weekday_today_still_ahead_is_today_and_past_is_next_week() -> None:
    now = at(BERLIN, 2026, 6, 17, 10, 0)  # Wednesday
    assert parse_reset("Wed 11:00", "clock", now, BERLIN) == at(BERLIN, 2026, 6, 17, 11)
    assert parse_reset("Wednesday 9am", "clock", now, BERLIN) == at(BERLIN, 2026, 6, 24, 9)


# --------------------------------------------------------------------------- DST transitions


def test_berlin_spring_forward_gap_shifts_forward() -> None:
    now = at(BERLIN, 2026, 3, 29, 0, 30)
    got = parse_reset("2:30", "clock", now, BERLIN)
    assert got == utc(2026, 3, 29, 1, 30)
    assert got is not None and got.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"


def test_berlin_fall_back_overlap_picks_first_occurrence() -> None:
    now = at(BERLIN, 2026, 10, 25, 0, 30)
    assert parse_reset("2:30", "clock", now, BERLIN) == utc(2026, 10, 25, 0, 30)


def test_berlin_overlap_between_occurrences_takes_the_repeated_one() -> None:
    now = utc(2026, 10, 25, 0, 45)  # 02:45 CEST, first 02:30 already gone
    assert parse_reset("2:30", "clock", now, BERLIN) == utc(2026, 10, 25, 1, 30)


def test_berlin_overlap_after_both_occurrences_means_tomorrow() -> None:
    now = utc(2026, 10, 25, 1, 45)  # 02:45 CET
    assert parse_reset("2:30", "clock", now, BERLIN) == utc(2026, 10, 26, 1, 30)


def test_berlin_clock_across_spring_forward_keeps_wall_time() -> None:
    now = at(BERLIN, 2026, 3, 28, 17, 0)
    got = parse_reset("4pm", "clock", now, BERLIN)
    assert got == utc(2026, 3, 29, 14, 0)
    assert got is not None and got - now == timedelta(hours=22)


def test_berlin_dated_gap_and_overlap_with_year() -> None:
    now = utc(2026, 1, 1)
    assert parse_reset("Mar 29, 2026, 2:30am", "clock", now, BERLIN) == utc(2026, 3, 29, 1, 30)
    overlap = parse_reset("Oct 25, 2026, 2:30am (Europe/Berlin)", "clock", now, NEW_YORK)
    assert overlap == utc(2026, 10, 25, 0, 30)  # first occurrence, CEST


def test_new_york_spring_forward_gap_shifts_forward() -> None:
    now = at(NEW_YORK, 2026, 3, 8, 0, 0)
    assert parse_reset("2:30am", "clock", now, NEW_YORK) == utc(2026, 3, 8, 7, 30)


def test_new_york_fall_back_overlap_picks_first_then_repeated() -> None:
    midnight = at(NEW_YORK, 2026, 11, 1, 0, 0)
    assert parse_reset("1:30am", "clock", midnight, NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert parse_reset("1:30am", "clock", utc(2026, 11, 1, 5, 45), NEW_YORK) == utc(2026, 11, 1, 6, 30)


def test_new_york_clock_across_fall_back_is_25_hours_away() -> None:
    now = at(NEW_YORK, 2026, 10, 31, 16, 11)
    got = parse_reset("4pm", "clock", now, NEW_YORK)
    assert got == at(NEW_YORK, 2026, 11, 1, 16, 0)
    assert got is not None and got - now == timedelta(hours=24, minutes=49)


def test_lord_howe_half_hour_gap_shifts_forward_thirty_minutes() -> None:
    now = at(LORD_HOWE, 2026, 10, 4, 0, 0)
    got = parse_reset("2:15am", "clock", now, LORD_HOWE)
    assert got == utc(2026, 10, 3, 15, 45)
    assert got is not None and got.astimezone(LORD_HOWE).strftime("%H:%M") == "02:45"


def test_lord_howe_half_hour_overlap() -> None:
    first = parse_reset("1:45am", "clock", at(LORD_HOWE, 2026, 4, 5, 0, 0), LORD_HOWE)
    assert first == utc(2026, 4, 4, 14, 45)
    repeated = parse_reset("1:45am", "clock", utc(2026, 4, 4, 14, 56), LORD_HOWE)
    assert repeated == utc(2026, 4, 4, 15, 15)


# --------------------------------------------------------------------------- durations

DURATIONS = {
    "in 5 days 22 hours 11 minutes": 5 * 86400 + 22 * 3600 + 11 * 60,
    "5h 15m": 18900,
    "30s": 30,
    "2m30s": 150,
    "1h5m": 3900,
    "1 hour": 3600,
    "try again in 1.5 seconds": 1.5,
    "Retry-After: 120": 120,
    "retry after 2.5s": 2.5,
    "1m 30s": 90,
    "retrying in 3 mins": 180,
    "retry in 2 hrs, 5 secs": 7205,
    "1 week and 1 day": 8 * 86400,
    "250ms": 0.25,
}


@pytest.mark.parametrize(("text", "seconds"), DURATIONS.items())
def test_parse_duration_reads_units_and_prefixes(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), DURATIONS.items())
@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_duration_reset_is_now_plus_duration(text: str, seconds: float, zone: ZoneInfo) -> None:
    now = at(zone, 2026, 3, 29, 1, 30)  # Berlin springs forward inside most of these durations
    expected = now.astimezone(UTC) + timedelta(seconds=seconds)
    assert parse_reset(text, "duration", now, zone) == expected
    assert parse_reset(text, "auto", now, zone) == expected


def test_bare_number_duration_is_seconds() -> None:
    assert parse_duration("120") == 120.0


@pytest.mark.parametrize(
    "text", ["", "   ", "soon", "5 parsecs", "h5", "5h garbage", "1" + "0" * 30 + " hours", "-5s", "5..5s"]
)
def test_unreadable_duration_is_none(text: str) -> None:
    assert parse_duration(text) is None
    assert parse_reset(text, "duration", utc(2026, 1, 1), ZUTC) is None


def test_duration_past_year_9999_is_none() -> None:
    assert parse_reset("99999999 days", "duration", utc(2026, 1, 1), ZUTC) is None
    assert parse_duration("999999999 weeks") is None


# --------------------------------------------------------------------------- epoch / iso


def test_epoch_seconds_and_milliseconds() -> None:
    now = utc(2025, 11, 1)
    assert parse_reset("1764345600", "epoch", now, BERLIN) == utc(2025, 11, 28, 16, 0)
    assert parse_reset("1764345600123", "epoch", now, BERLIN) == utc(2025, 11, 28, 16, 0, 0, 123000)
    assert parse_reset("1764345600", "auto", now, BERLIN) == utc(2025, 11, 28, 16, 0)
    assert parse_reset("1764345600123", "auto", now, BERLIN) == utc(2025, 11, 28, 16, 0, 0, 123000)


def test_auto_does_not_read_short_numbers_as_epoch_or_duration() -> None:
    assert parse_reset("120", "auto", utc(2026, 1, 1), ZUTC) is None
    assert parse_reset("12345678901", "auto", utc(2026, 1, 1), ZUTC) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T16:00:00+01:00", utc(2026, 11, 27, 15, 0)),
        ("2026-11-27T16:00:00Z", utc(2026, 11, 27, 16, 0)),
        ("2026-11-27 16:00:00Z", utc(2026, 11, 27, 16, 0)),
        ("2026-11-27T16:00:00.123456789-05:00", utc(2026, 11, 27, 21, 0, 0, 123456)),
        ("2026-11-27 16:00 UTC", utc(2026, 11, 27, 16, 0)),
        ("2026-11-27T16:00:00 (Asia/Kolkata)", utc(2026, 11, 27, 10, 30)),
    ],
)
def test_iso_with_offset_or_zone_is_exact(text: str, expected: datetime) -> None:
    for kind in ("iso", "auto"):
        assert parse_reset(text, kind, utc(2026, 1, 1), LORD_HOWE) == expected


@pytest.mark.parametrize("zone", ZONES, ids=ZONE_IDS)
def test_iso_without_offset_is_read_in_runtime_zone(zone: ZoneInfo) -> None:
    assert parse_reset("2026-11-27T16:00:00", "iso", utc(2026, 1, 1), zone) == at(zone, 2026, 11, 27, 16)


def test_iso_without_offset_in_gap_shifts_forward() -> None:
    assert parse_reset("2026-03-29T02:30:00", "iso", utc(2026, 1, 1), BERLIN) == utc(2026, 3, 29, 1, 30)


@pytest.mark.parametrize(
    "text", ["2026-13-01T00:00:00Z", "2026-02-30", "10000-01-01T00:00:00Z", "2026-11-27T25:00"]
)
def test_invalid_iso_is_none(text: str) -> None:
    assert parse_reset(text, "iso", utc(2026, 1, 1), ZUTC) is None
    assert parse_reset(text, "auto", utc(2026, 1, 1), ZUTC) is None


def test_kind_restricts_the_reader() -> None:
    now = utc(2026, 1, 1)
    assert parse_reset("4pm", "duration", now, ZUTC) is None
    assert parse_reset("5h", "clock", now, ZUTC) is None
    assert parse_reset("2026-11-27T16:00:00Z", "epoch", now, ZUTC) is None


# --------------------------------------------------------------------------- abbreviations


@pytest.mark.parametrize(
    ("abbr", "offset"),
    [
        ("PST", timedelta(hours=-8)),
        ("pdt", timedelta(hours=-7)),
        ("EST", timedelta(hours=-5)),
        ("CET", timedelta(hours=1)),
        ("CEST", timedelta(hours=2)),
        ("Z", timedelta(0)),
        ("UTC", timedelta(0)),
        ("GMT+1", timedelta(hours=1)),
        ("GMT-3", timedelta(hours=-3)),
        ("UTC+05:30", timedelta(hours=5, minutes=30)),
        ("UTC-0930", timedelta(hours=-9, minutes=-30)),
        ("+01:00", timedelta(hours=1)),
        ("(IST)", timedelta(hours=5, minutes=30)),
        ("NST", timedelta(hours=-3, minutes=-30)),
    ],
)
def test_abbreviation_table_and_offsets(abbr: str, offset: timedelta) -> None:
    zone = zone_from_abbreviation(abbr, KOLKATA if abbr == "(IST)" else BERLIN, utc(2026, 1, 15))
    assert zone is not None
    assert zone.utcoffset(datetime(2026, 1, 15)) == offset


def test_runtime_zone_wins_when_it_uses_the_abbreviation() -> None:
    summer = utc(2026, 7, 1)
    dublin = ZoneInfo("Europe/Dublin")
    assert zone_from_abbreviation("IST", dublin, summer) is dublin
    assert zone_from_abbreviation("IST", BERLIN, summer) == timezone(timedelta(hours=5, minutes=30), "IST")
    shanghai = ZoneInfo("Asia/Shanghai")
    assert zone_from_abbreviation("CST", shanghai, summer) is shanghai
    assert zone_from_abbreviation("CEST", BERLIN, summer) is BERLIN


def test_generic_abbreviation_follows_dst() -> None:
    zone = zone_from_abbreviation("ET", BERLIN, utc(2026, 1, 1))
    assert zone == NEW_YORK


@pytest.mark.parametrize("abbr", ["XYZQ", "", "GMT+25", "UTC+5:75", "Europe/Berlin", "P" * 100])
def test_unknown_abbreviation_is_none(abbr: str) -> None:
    assert zone_from_abbreviation(abbr, BERLIN, utc(2026, 1, 1)) is None


def test_abbreviation_table_is_read_only_and_consistent() -> None:
    with pytest.raises(TypeError):
        ABBREVIATIONS["XX"] = timedelta(0)  # type: ignore[index]
    for key, value in ABBREVIATIONS.items():
        assert key == key.upper()
        if isinstance(value, str):
            assert isinstance(ZoneInfo(value), ZoneInfo)
        else:
            assert abs(value) <= timedelta(hours=14)


# --------------------------------------------------------------------------- resolve_zone


def test_resolve_zone_prefers_the_agent_setting() -> None:
    assert resolve_zone("Asia/Kolkata", {"TZ": "Europe/Berlin"}) == KOLKATA
    assert resolve_zone(":Asia/Kolkata") == KOLKATA


def test_resolve_zone_uses_env_tz_with_or_without_glibc_colon() -> None:
    assert resolve_zone(None, {"TZ": "Europe/Berlin"}) == BERLIN
    assert resolve_zone(None, {"TZ": ":Europe/Berlin"}) == BERLIN
    assert resolve_zone("", {"TZ": ":/usr/share/zoneinfo/Asia/Kolkata"}) == KOLKATA


def test_resolve_zone_skips_invalid_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert resolve_zone("Not/AZone", {"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"}) == NEW_YORK
    assert resolve_zone("../../etc/passwd", {"TZ": "../x"}) == NEW_YORK


def test_resolve_zone_falls_back_to_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Australia/Lord_Howe")
    assert resolve_zone(None, None) == LORD_HOWE
    monkeypatch.delenv("TZ")
    assert isinstance(resolve_zone(None, {}), ZoneInfo)


def test_host_zone_reads_localtime_symlink(tmp_path: os.PathLike[str]) -> None:
    link = os.path.join(tmp_path, "localtime")
    os.symlink("/usr/share/zoneinfo/Asia/Kolkata", link)
    assert _host_zone(link, {}) == KOLKATA
    relative = os.path.join(tmp_path, "relative")
    os.symlink("../usr/share/zoneinfo/Europe/Berlin", relative)
    assert _host_zone(relative, {}) == BERLIN


def test_host_zone_falls_back_to_utc(tmp_path: os.PathLike[str]) -> None:
    plain = os.path.join(tmp_path, "plain")
    with open(plain, "w") as handle:
        handle.write("not a link")
    assert _host_zone(plain, {}) == ZUTC
    assert _host_zone(os.path.join(tmp_path, "missing"), {"TZ": "bogus"}) == ZUTC
    assert _host_zone(plain, {"TZ": "Asia/Kolkata"}) == KOLKATA


# --------------------------------------------------------------------------- robustness


def test_unknown_kind_and_naive_now_are_caller_bugs() -> None:
    with pytest.raises(ValueError):
        parse_reset("4pm", "weekly", utc(2026, 1, 1), ZUTC)
    with pytest.raises(ValueError):
        parse_reset("4pm", "clock", datetime(2026, 1, 1), ZUTC)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "text",
    [
        "1" * 10000,
        "1h" * 5000,
        " " * 5000 + "x",
        "Dec " * 200,
        "(" * 300,
        "1:" * 300,
        "Mon, " * 100 + "9am",
        "in " * 200 + "5s",
        "9" * 40 + "h",
        "Dec 31, 9999, 11:59pm (Pacific/Kiritimati)",
        "99999999999999999",
        "4pm (../../../../etc/passwd)",
        "4pm (leapseconds)",
        "\x00\ud800\U0010ffff",
    ],
)
@pytest.mark.timeout(10)  # bounded (a catastrophic regex would hang here); speed is bench/'s job
def test_hostile_text_is_bounded_and_never_raises(kind: str, text: str) -> None:
    result = parse_reset(text, kind, utc(2026, 1, 1), BERLIN)
    assert result is None or result.tzinfo is not None


def test_overflow_near_datetime_max_is_none() -> None:
    late = utc(9999, 12, 31, 23, 0)
    assert parse_reset("4pm", "clock", late, ZUTC) is None
    assert parse_reset("Dec 1, 9am", "clock", late, ZUTC) is None
    assert parse_reset("2h", "duration", late, ZUTC) is None


def test_text_is_capped_before_parsing() -> None:
    assert parse_reset(" " * 300 + "4pm", "clock", utc(2026, 1, 1), ZUTC) is None


# --------------------------------------------------------------------------- properties

zones = st.sampled_from(SAMPLE_ZONES).map(ZoneInfo)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
TOKENS = [
    "4", "16", ":", "30", "pm", "AM", " ", ",", "Dec", "2", "2026", "Mon", "(", ")", "Europe/Berlin",
    "GMT-3", "PST", "h", "m", "s", "in", "retry-after:", "1.5", "Z", "T", "-", "+", "\u202f",
    "1764345600", "days", "at", "resets", "rd",
]


@settings(max_examples=300, deadline=None)
@given(zone=zones, now=instants, hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_bare_clock_is_next_occurrence_within_25_hours(
    zone: ZoneInfo, now: datetime, hour: int, minute: int
) -> None:
    result = parse_reset(f"{hour}:{minute:02d}", "clock", now, zone)
    assert result is not None
    assert now - JUST_PASSED < result <= now + timedelta(hours=25)
    local = result.astimezone(zone)
    if (local.hour, local.minute) != (hour, minute):
        assert is_gap(zone, local.date(), hour, minute) or is_gap(
            zone, local.date() - timedelta(days=1), hour, minute
        )
    # It is the next one: every occurrence of that wall time before it is not after now.
    for day in (local.date() - timedelta(days=1), local.date()):
        for occurrence in occurrences(zone, day, hour, minute):
            assert occurrence >= result or occurrence <= now - JUST_PASSED


@settings(max_examples=200, deadline=None)
@given(zone=zones, now=instants, hour=st.integers(1, 12), minute=st.integers(0, 59), pm=st.booleans())
def test_twelve_hour_clock_matches_24_hour_clock(
    zone: ZoneInfo, now: datetime, hour: int, minute: int, pm: bool
) -> None:
    h24 = hour % 12 + (12 if pm else 0)
    twelve = parse_reset(f"{hour}:{minute:02d}\u202f{'PM' if pm else 'AM'}", "auto", now, zone)
    assert twelve == parse_reset(f"{h24}:{minute:02d}", "clock", now, zone)


@settings(max_examples=150, deadline=None)
@given(zone=zones, now=instants, month=st.integers(1, 12), day=st.integers(1, 28), hour=st.integers(0, 23))
def test_date_without_year_is_within_the_next_year(
    zone: ZoneInfo, now: datetime, month: int, day: int, hour: int
) -> None:
    text = f"{date(2001, month, 1):%b} {day}, {hour}:00"
    result = parse_reset(text, "clock", now, zone)
    assert result is not None
    assert now - JUST_PASSED < result <= now + timedelta(days=367)


UNITS = {"s": 1, "sec": 1, "seconds": 1, "m": 60, "min": 60, "minutes": 60, "h": 3600, "hrs": 3600,
         "hours": 3600, "d": 86400, "days": 86400, "w": 604800, "weeks": 604800}
parts = st.tuples(
    st.integers(0, 500), st.one_of(st.none(), st.integers(0, 999)), st.sampled_from(sorted(UNITS))
)


@settings(max_examples=200, deadline=None)
@given(
    zone=zones,
    now=instants,
    items=st.lists(parts, min_size=1, max_size=4),
    sep=st.sampled_from(["", " ", ", "]),
    prefix=st.sampled_from(["", "in ", "try again in ", "retry in ", "retrying in "]),
)
def test_duration_reset_minus_now_equals_parse_duration(
    zone: ZoneInfo, now: datetime, items: list[tuple[int, int | None, str]], sep: str, prefix: str
) -> None:
    pieces = [f"{whole}{'' if frac is None else f'.{frac:03d}'}{unit}" for whole, frac, unit in items]
    text = prefix + sep.join(pieces)
    seconds = parse_duration(text)
    expected_ms = sum((whole * 1000 + (frac or 0)) * UNITS[unit] for whole, frac, unit in items)
    assert seconds == expected_ms / 1000
    result = parse_reset(text, "duration", now.astimezone(zone), zone)
    assert result is not None
    assert (result - now).total_seconds() == seconds
    assert result - now == timedelta(milliseconds=expected_ms)


@settings(max_examples=200, deadline=None)
@given(seconds=st.integers(10**9, 10**10 - 1), millis=st.integers(0, 999), zone=zones)
def test_epoch_round_trips(seconds: int, millis: int, zone: ZoneInfo) -> None:
    now = utc(2026, 1, 1)
    for kind in ("epoch", "auto"):
        as_seconds = parse_reset(str(seconds), kind, now, zone)
        assert as_seconds is not None and as_seconds.timestamp() == seconds
        ms = seconds * 1000 + millis
        if len(str(ms)) == 13:
            as_ms = parse_reset(str(ms), kind, now, zone)
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            assert as_ms is not None and as_ms - epoch == timedelta(milliseconds=ms)


@settings(max_examples=150, deadline=None)
@given(zone=zones, when=instants)
def test_iso_round_trips(zone: ZoneInfo, when: datetime) -> None:
    when = when.replace(microsecond=0)
    local = when.astimezone(zone)
    assert parse_reset(local.isoformat(), "iso", utc(2026, 1, 1), BERLIN) == when
    assert parse_reset(local.isoformat(sep=" "), "auto", utc(2026, 1, 1), BERLIN) == when
    naive = local.replace(tzinfo=None).isoformat()
    assert parse_reset(naive, "iso", utc(2026, 1, 1), zone) in {
        naive_as.astimezone(UTC) for naive_as in (local.replace(fold=0), local.replace(fold=1))
    }


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), kind=st.sampled_from(KINDS), zone=zones, now=instants)
def test_garbage_text_never_raises(text: str, kind: str, zone: ZoneInfo, now: datetime) -> None:
    result = parse_reset(text, kind, now, zone)
    assert result is None or result.utcoffset() is not None
    parse_duration(text)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=12),
    kind=st.sampled_from(KINDS),
    zone=zones,
    now=instants,
)
def test_near_miss_token_soup_never_raises(
    tokens: list[str], kind: str, zone: ZoneInfo, now: datetime
) -> None:
    result = parse_reset("".join(tokens), kind, now, zone)
    assert result is None or result.utcoffset() is not None
