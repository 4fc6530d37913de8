"""Hypothesis strategies for values a request (or a template author) could bind into a query."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

# Fragments that break naive SQL building or driver formatting, mixed into arbitrary text.
HOSTILE_FRAGMENTS = [
    "'",
    '"',
    "`",
    "\\",
    "\\'",
    "%",
    "%s",
    "%%",
    "%(v)s",
    "{}",
    "{{ v }}",
    "{% raw %}",
    "\x00",
    "--",
    "-- ",
    "/*",
    "*/",
    "/*!",
    "#",
    ";",
    "'; DROP TABLE orders; --",
    "' OR '1'='1",
    "\n",
    "\r\n",
    "é",
    "한글",
    "🙂",
    "<!channel>",
]

# Any Unicode except lone surrogates, which no UTF-8 connection can carry.
plain_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
hostile_text = st.lists(st.sampled_from(HOSTILE_FRAGMENTS) | plain_text, min_size=1, max_size=6).map("".join)
texts = hostile_text | plain_text

scalars: st.SearchStrategy[Any] = st.one_of(
    texts,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.dates(min_value=dt.date(1000, 1, 1)),
    st.datetimes(min_value=dt.datetime(1000, 1, 1)),
    st.booleans(),
)
values = scalars | st.lists(scalars, min_size=1, max_size=6)
