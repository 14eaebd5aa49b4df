import pytest

from artiflow import InvalidRefError, SemVer, parse_ref
from artiflow.refs import validate_alias


@pytest.mark.parametrize(
    "text,expected",
    [
        ("bike", ("default", "bike", "latest")),
        ("bike:latest", ("default", "bike", "latest")),
        ("bike:v12", ("default", "bike", "v12")),
        ("team/bike:production", ("team", "bike", "production")),
        ("team/bike.v2_x-y:1.4.0", ("team", "bike.v2_x-y", "1.4.0")),
    ],
)
def test_parse_ref(text, expected):
    r = parse_ref(text)
    assert (r.project, r.name, r.selector) == expected


def test_parse_ref_default_project_and_index():
    r = parse_ref("model:v3", default_project="ml")
    assert r.project == "ml" and r.version_index == 3 and str(r) == "ml/model:v3"
    assert parse_ref("model").is_latest


@pytest.mark.parametrize(
    "bad,part",
    [
        ("", "invalid ref"),
        ("a/b/c", "one '/'"),
        ("-bad", "artifact name"),
        ("x:", "empty selector"),
        ("x:a:b", "more than one"),
        ("pro ject/x", "project"),
        ("x:bad alias", "selector"),
        ("a" * 129, "artifact name"),
        (None, "invalid ref"),
    ],
)
def test_malformed_refs_name_the_bad_part(bad, part):
    with pytest.raises(InvalidRefError, match=part) as info:
        parse_ref(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("alias", ["latest", "v0", "v12", "1.2.3", "", "a b", "-x"])
def test_reserved_or_bad_aliases(alias):
    with pytest.raises(InvalidRefError):
        validate_alias(alias)


def test_semver_labels():
    v = SemVer.parse("1.4.2")
    assert str(v.next_minor()) == "1.5.0"
    assert str(v.next_major()) == "2.0.0"
    assert str(v.next_patch()) == "1.4.3"
    assert SemVer.parse("1.0.0-rc.1") < SemVer.parse("1.0.0")
    with pytest.raises(InvalidRefError, match="MAJOR.MINOR.PATCH"):
        SemVer.parse("1.4")


# ---- issue 11 item 12: look-alike aliases, non-ASCII digits, whitespace ---------------------
@pytest.mark.parametrize("alias", ["v01", "v007", "v00", "V1", "LATEST", "Latest", "lAtEsT"])
def test_look_alike_aliases_refused(alias, registry, tmp_path):
    with pytest.raises(InvalidRefError, match="alias"):
        validate_alias(alias)
    from artiflow import Artifact

    art = Artifact("ds")
    with art.new_file("a.txt") as f:
        f.write("x")
    with pytest.raises(InvalidRefError):
        registry.log(art, aliases=[alias])
    assert registry.collections() == []


@pytest.mark.parametrize(
    "ref", ["ds:v01", "ds:V1", "ds:LATEST", " ds:v1", "ds:v1\n", "ds\t", "ds:1\u0663.0.0"]
)
def test_look_alike_selectors_and_whitespace_refused(ref):
    with pytest.raises(InvalidRefError):
        parse_ref(ref)


def test_non_ascii_semver_refused():
    with pytest.raises(InvalidRefError, match="ASCII"):
        SemVer.parse("1\u0663.0.0")


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text(max_size=40))
def test_parse_ref_round_trips_or_refuses(text):
    try:
        r = parse_ref(text)
    except InvalidRefError:
        return
    assert text.isascii() and text == text.strip()
    assert parse_ref(str(r)) == r


@given(
    st.from_regex(r"[vV][0-9]{1,5}", fullmatch=True)
    | st.sampled_from(["latest"]).map(
        lambda s: "".join(c.upper() if i % 2 else c for i, c in enumerate(s))
    )
)
def test_index_and_latest_look_alikes_never_aliases(alias):
    with pytest.raises(InvalidRefError):
        validate_alias(alias)
