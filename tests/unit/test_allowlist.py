import pytest

from kirem.tenancy.allowlist import allowed, client_address, networks_of, parse_networks

PROXIES = networks_of(["10.0.0.0/8"])


def test_parse_networks_normalises_and_explains() -> None:
    assert parse_networks(["203.0.113.7", "198.51.100.0/24", "2001:db8::/32"]) == (
        ["198.51.100.0/24", "2001:db8::/32", "203.0.113.7/32"],
        {},
    )
    _, errors = parse_networks(["300.1.1.1", "ok?"])
    assert set(errors) == {"cidrs[0]", "cidrs[1]"}
    assert "cidrs" in parse_networks("203.0.113.7")[1]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.9", None, "198.51.100.9"),
        ("198.51.100.9", "1.2.3.4", "198.51.100.9"),  # an untrusted peer's header is ignored
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),  # rightmost hop that is not a proxy
        ("10.0.0.5", "10.0.0.7", "10.0.0.7"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_allowed() -> None:
    assert allowed("127.0.0.1", [])
    assert allowed("127.0.0.1", ["127.0.0.0/8"])
    assert allowed("::ffff:127.0.0.1", ["127.0.0.0/8"])
    assert not allowed("127.0.0.1", ["10.0.0.0/8"])
    assert not allowed("not-an-ip", ["10.0.0.0/8"])
