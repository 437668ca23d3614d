"""Reading amounts as exports write them: plain numbers take a short way, everything else the clean-up."""

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyplan.revenue.reading import amount_expr


def parse(values: list[str | None], decimal: str) -> list[float | None]:
    return pl.DataFrame({"a": values}, schema={"a": pl.String}).select(amount_expr("a", decimal)).to_series().to_list()


@pytest.mark.parametrize(("text", "decimal", "expected"), [
    ("1234.50", ".", 1234.5),
    ("-120", ".", -120.0),
    ("+5", ".", 5.0),
    (".5", ".", 0.5),
    ("1,234.50", ".", 1234.5),
    ("1.234,50", ",", 1234.5),
    ("1.234", ",", 1234.0),  # a thousands point, not a decimal one
    ("12,5", ",", 12.5),
    ("€ 1 234,50", ",", 1234.5),
    ("(120.00)", ".", -120.0),
    (" 12 ", ".", 12.0),
    ("EUR 12", ".", 12.0),
    ("1e5", ".", None),  # no exponents: an export never writes them, a typo might
    ("inf", ".", None),
    ("nan", ".", None),
    ("abc", ",", None),
    ("12.3.4", ".", None),
    (None, ".", None),
])
def test_amount_formats(text, decimal, expected):
    assert parse([text], decimal) == [expected]


@given(st.lists(st.decimals(min_value=-10**12, max_value=10**12, places=2, allow_nan=False), min_size=1, max_size=30),
       st.sampled_from([".", ","]))
def test_plain_and_formatted_amounts_read_the_same(values, decimal):
    """A number written plainly and with thousands separators and a currency sign is the same number."""
    thousands = "," if decimal == "." else "."
    plain = [f"{v:.2f}".replace(".", decimal) for v in values]
    formatted = [f"€ {v:,.2f}".replace(",", "_").replace(".", decimal).replace("_", thousands) for v in values]
    expected = [float(v) for v in values]
    assert parse(plain, decimal) == pytest.approx(expected)
    assert parse(formatted, decimal) == pytest.approx(expected)


@given(st.lists(st.text(max_size=300), max_size=20))
def test_dedupe_keys_are_xxh3_of_the_utf8_text(texts):
    """Stored keys depend on this hash: it must stay XXH3-64 of the UTF-8 bytes (short, mid and long inputs
    take different paths through the algorithm), as the reference implementation computes it."""
    import numpy as np
    import xxhash

    from keyplan.revenue.importing.validate import line_id_keys

    expected = [int(np.uint64(xxhash.xxh3_64_intdigest(("#" + t).encode())).astype(np.int64)) for t in texts]
    assert line_id_keys(pl.Series(texts, dtype=pl.String)).to_list() == expected
