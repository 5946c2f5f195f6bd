"""``biovae variants design --positions``: residue numbers and ranges in the focus numbering."""

from __future__ import annotations

import pytest

from biovae.cli.variants_design import parse_positions
from biovae.errors import ConfigError

MATCH = (-5, -4, -3, -1, 1, 2, 40, 41)  # a focus numbered from -5 ('/-5-...'), an insert at -2


def test_ranges_and_numbers():
    assert parse_positions("40-41,2", MATCH) == (40, 41, 2)
    assert parse_positions(None, MATCH) is None


def test_negative_numbers_and_ranges():
    assert parse_positions("-5--3", MATCH) == (-5, -4, -3)
    assert parse_positions("-3-1, -1", MATCH) == (-3, -1, 1, -1)


@pytest.mark.parametrize("bad", ["-", "4-", "a-3", "", "1--"])
def test_malformed(bad):
    with pytest.raises(ConfigError, match="expected residue numbers"):
        parse_positions(bad, MATCH)


def test_a_range_backwards_is_refused():
    with pytest.raises(ConfigError, match="write -3--1"):
        parse_positions("-1--3", MATCH)
