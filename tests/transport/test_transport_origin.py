"""URL → (origin, :path): what connections are keyed by."""

from __future__ import annotations

import pytest

from cursor_bridge.transport.origin import Origin, parse_url


def test_default_ports_are_implied_and_left_out_of_the_authority() -> None:
    origin, path = parse_url("https://Agent.Example.COM/agent.v1.AgentService/Run")
    assert origin == Origin("https", "agent.example.com", 443)
    assert origin.authority == "agent.example.com"
    assert path == "/agent.v1.AgentService/Run"


def test_explicit_port_query_and_ipv6() -> None:
    origin, path = parse_url("http://[::1]:8080/x?y=1")
    assert origin == Origin("http", "::1", 8080)
    assert origin.authority == "[::1]:8080"
    assert path == "/x?y=1"
    assert parse_url("http://127.0.0.1:9")[1] == "/"


@pytest.mark.parametrize("url", ["ftp://host/", "/relative", "http:///nohost"])
def test_rejects_what_is_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)
