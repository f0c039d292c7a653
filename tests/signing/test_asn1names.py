"""asn1crypto's name comparisons, kept per process by epolicy.signing.asn1names: asn1crypto's answers."""

from __future__ import annotations

import pytest
from asn1crypto import x509 as asn1_x509

from epolicy.signing import asn1names


def _name(**attrs: str) -> asn1_x509.Name:
    return asn1_x509.Name.build(attrs)


def _parsed(name: asn1_x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.dump())


PAIRS = [
    (_name(common_name="示例财险 Seal"), _name(common_name="示例财险 Seal")),
    # RFC 4518: case and inner spaces do not count; a different value does.
    (_name(common_name="Example  CA"), _name(common_name="example ca")),
    (_name(common_name="Example CA"), _name(common_name="Example CB")),
    (_name(common_name="A", organization_name="O"), _name(common_name="A")),
    (_name(common_name="A"), _name(organization_name="A")),
]


def test_installed_when_the_signing_app_starts():
    assert asn1names.installed()


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_the_same_answers_as_asn1crypto(a, b):
    kept = (a == b, a != b, a.hashable, b.hashable, _parsed(a) == _parsed(b))
    again = (a == b, a != b, a.hashable, b.hashable, _parsed(a) == _parsed(b))  # now from the tables
    asn1names.uninstall()
    try:
        fresh_a, fresh_b = _parsed(a), _parsed(b)
        shipped = (
            fresh_a == fresh_b,
            fresh_a != fresh_b,
            fresh_a.hashable,
            fresh_b.hashable,
            fresh_a == fresh_b,
        )
    finally:
        asn1names.install()
    assert kept == again == shipped


def test_a_name_is_never_equal_to_something_else():
    name = _name(common_name="A")
    assert name != "A"
    assert name != _name(common_name="A").chosen


def test_an_input_asn1crypto_refuses_is_still_refused():
    # U+FFFD is prohibited by RFC 4518 (2.4): the comparison raises, and raises again (nothing kept).
    bad = _name(common_name="bad\ufffdname")
    for _ in range(2):
        with pytest.raises(ValueError):
            _ = bad == _name(common_name="other")


def test_the_tables_are_bounded(monkeypatch):
    monkeypatch.setattr(asn1names, "MAX_ENTRIES", 3)
    for i in range(10):
        assert _name(common_name=f"n{i}") == _name(common_name=f"n{i}")
    assert len(asn1names._equal) <= 3
