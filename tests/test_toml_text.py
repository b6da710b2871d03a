"""core/toml_text.py: while a watcher starts, a TOML text parsed before gives its kept value (a fresh copy
each time, equal to tomllib's), a new one is parsed and kept, one with a date is parsed every time,
and a text that is not TOML is refused with tomllib's own message."""

from __future__ import annotations

import datetime
import tomllib

import pytest
from teamctl_supervisor.core import toml_text

PRICES = '[models."claude-x"]\ninput = 3.0\noutput = 15.0\naliases = ["x", "y"]\n[other]\nflag = true\n'


@pytest.fixture(autouse=True)
def _forget() -> None:
    yield
    toml_text.taught()


def test_a_kept_text_gives_tomllibs_value_as_a_fresh_copy() -> None:
    toml_text.learn({})
    first = toml_text.loads(PRICES)
    assert first == tomllib.loads(PRICES)
    used, kept = toml_text.taught()
    assert used == {} and list(kept) == [PRICES]
    toml_text.learn(kept)
    again = toml_text.loads(PRICES)
    assert again == first and again is not first
    again["models"]["claude-x"]["input"] = 99.0  # a caller that changes its copy changes no one else's
    assert toml_text.loads(PRICES)["models"]["claude-x"]["input"] == 3.0
    assert toml_text.taught() == (kept, {})  # read from what was kept, nothing new


def test_a_text_with_a_date_is_parsed_each_time_and_a_damaged_value_is_parsed_again() -> None:
    dated = "when = 2026-12-07T10:00:00Z\n"
    toml_text.learn({PRICES: b"\x00 not marshal"})
    assert toml_text.loads(dated)["when"] == datetime.datetime(2026, 12, 7, 10, tzinfo=datetime.UTC)
    assert toml_text.loads(PRICES) == tomllib.loads(PRICES)
    used, new = toml_text.taught()
    assert dated not in new and PRICES in new and used == {}


def test_a_text_that_is_not_toml_is_refused_with_tomllibs_message() -> None:
    with pytest.raises(tomllib.TOMLDecodeError) as tomllib_says:
        tomllib.loads("a = [1,\n")
    with pytest.raises(toml_text.TomlSyntaxError) as refused:
        toml_text.loads("a = [1,\n")
    assert str(refused.value) == str(tomllib_says.value)
    assert isinstance(refused.value, ValueError)
