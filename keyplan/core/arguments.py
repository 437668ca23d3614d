"""Bounded command-line values: argparse types that refuse what a command cannot sensibly do.

A value out of bounds is a usage error: argparse prints ``argument --years: …`` (the
argument's name and the reason) and exits with status 2, before anything is loaded or
written. Only the standard library here, so that ``keyplan --help`` stays quick.
"""

import argparse
import datetime

EARLIEST_DAY = datetime.date(1900, 1, 1)
LATEST_DAY = datetime.date(2199, 12, 31)
LARGEST_ID = 2**63 - 1  # a database integer key; larger numbers would overflow the driver


def whole_number(low: int, high: int):
    """An int from ``low`` to ``high`` (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {text}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def identifier(text: str) -> int:
    """A database id: a whole number from 1 up."""
    return whole_number(1, LARGEST_ID)(text)


def number(low: float, high: float, *, above_low: bool = False):
    """A float from ``low`` (or above it, with ``above_low``) to ``high``; nan and infinities are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (low < value if above_low else low <= value) or not value <= high:
            bound = f"above {low:g}" if above_low else f"from {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound} to {high:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def day(*, latest: datetime.date | None = None):
    """A date written as YYYY-MM-DD, from 1900-01-01 to ``latest`` (2199-12-31 unless given)."""
    last = latest or LATEST_DAY

    def parse(text: str) -> datetime.date:
        try:
            value = datetime.date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
        if not EARLIEST_DAY <= value <= last:
            raise argparse.ArgumentTypeError(f"must be from {EARLIEST_DAY} to {last}, got {value}")
        return value

    parse.__name__ = "date"
    return parse
