"""SemVer 2.0 precedence (semver.org section 11), every comparison operator."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artiflow import InvalidRefError, SemVer

CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_the_spec_example_chain_with_every_operator() -> None:
    versions = [SemVer.parse(v) for v in CHAIN]
    for (i, a), (j, b) in itertools.product(enumerate(versions), repeat=2):
        assert (a < b, a <= b, a > b, a >= b, a == b) == (i < j, i <= j, i > j, i >= j, i == j)
    assert sorted(reversed(versions)) == versions


def test_numeric_identifiers_compare_numerically() -> None:
    assert SemVer.parse("1.0.0-rc.10") > SemVer.parse("1.0.0-rc.2")
    assert SemVer.parse("1.0.0-2") < SemVer.parse("1.0.0-10") < SemVer.parse("1.0.0-a")


def test_build_metadata_is_ignored_for_precedence() -> None:
    a, b = SemVer.parse("1.0.0+a"), SemVer.parse("1.0.0+b")
    assert a <= b and a >= b and not a < b and not a > b
    assert a != b  # two distinct labels
    assert SemVer.parse("1.0.0-rc.1+build.9") < SemVer.parse("1.0.0")


def test_compares_with_label_strings() -> None:
    assert SemVer.parse("1.2.0") >= "1.2.0-rc.1"


@pytest.mark.parametrize(
    "bad", ["1\u0663.0.0", "\u0661.0.0", " 1.0.0", "1.0.0\n", "1.0.0-01", "01.0.0"]
)
def test_non_ascii_digits_whitespace_and_leading_zeros_refused(bad: str) -> None:
    with pytest.raises(InvalidRefError):
        SemVer.parse(bad)


_ident = st.one_of(
    st.integers(0, 10**6).map(str),
    st.from_regex(r"[0-9]*[A-Za-z-][0-9A-Za-z-]{0,5}", fullmatch=True),
)
_versions = st.builds(
    lambda ma, mi, pa, pre: f"{ma}.{mi}.{pa}" + (f"-{'.'.join(pre)}" if pre else ""),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.lists(_ident, max_size=4),
)


def _spec_cmp(a: str, b: str) -> int:
    """An independent reading of semver.org section 11."""

    def split(v: str) -> tuple[list[int], list[str] | None]:
        core, _, pre = v.partition("-")
        return [int(x) for x in core.split(".")], pre.split(".") if pre else None

    (ca, pa), (cb, pb) = split(a), split(b)
    if ca != cb:
        return -1 if ca < cb else 1
    if pa is None or pb is None:
        return 0 if pa == pb else (1 if pa is None else -1)
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


@given(_versions, _versions)
def test_ordering_agrees_with_the_spec(a: str, b: str) -> None:
    va, vb = SemVer.parse(a), SemVer.parse(b)
    c = _spec_cmp(a, b)
    assert (va < vb, va == vb or va.precedence() == vb.precedence(), va > vb) == (
        c < 0,
        c == 0,
        c > 0,
    )
    assert str(va) == a


@given(st.text(max_size=20))
def test_parse_accepts_only_ascii_labels(text: str) -> None:
    try:
        v = SemVer.parse(text)
    except InvalidRefError:
        return
    assert text.isascii() and str(v) == text
