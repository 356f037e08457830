"""The address a request came from: whose rate limit it counts against, whose sign-in pauses.

django-ratelimit (RATELIMIT_IP_META_KEY) and django-axes (AXES_CLIENT_IP_CALLABLE) both ask
`client_address`, so the public forms and the staff login agree on who a client is.

Behind reverse proxies, REMOTE_ADDR is the proxy's address and every patron would share one
budget. X-Forwarded-For holds the real one, but a client can send the header with anything in
it. Each proxy appends the address it was connected from, so only the right-hand end, written
by the library's own proxies, can be believed; it is read from the right:

- TRUSTED_PROXY_COUNT = N (0 by default: REMOTE_ADDR alone, the header is ignored). The request
  passed through N proxies of ours; the Nth entry from the right is the client's. Entries
  further left are the client's own to write and are never read, so a client that makes up a
  new first entry on every request is still counted as itself.
- TRUSTED_PROXIES: the proxies' addresses or networks, used instead of a count. The header is
  read only when REMOTE_ADDR is one of them; from the right, entries that are proxies of ours
  too are skipped, and the first that is not is the client's.

An entry that is not an address, an empty or missing header, or fewer entries than proxies
falls back to REMOTE_ADDR. Nothing a client sends can turn into an error page.

IPv6 addresses are reduced to their /64 network: a home or phone connection is handed a whole
/64 and changes its address within it at will, so counting single IPv6 addresses would let one
person pass for billions. A whole household or office then shares one budget, as it does behind
one IPv4 address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Only when REMOTE_ADDR itself is not an address (a proxy connected over a Unix socket, with
# TRUSTED_PROXY_COUNT unset): such requests share one budget rather than fail.
UNKNOWN_ADDRESS = "0.0.0.0"


def client_address(request: HttpRequest) -> str:
    peer = parse_address(request.META.get("REMOTE_ADDR", ""))
    client = _forwarded_client(request.META.get("HTTP_X_FORWARDED_FOR", ""), peer) or peer
    if client is None:
        return UNKNOWN_ADDRESS
    if client.version == 6:
        return str(ipaddress.IPv6Network((int(client), 64), strict=False).network_address)
    return str(client)


def parse_address(text: str) -> Address | None:
    """One address as a proxy may write it: "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]:5678".

    IPv4 addresses written as IPv6 ("::ffff:1.2.3.4", from a dual-stack socket) come back as
    IPv4, so that they match IPv4 proxy networks and are not all put in one IPv6 /64.
    """
    text = text.strip()
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_client(header: str, peer: Address | None) -> Address | None:
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))
    if proxies:
        if peer is None or not _is_proxy(peer, proxies):
            return None
        for entry in reversed(header.split(",")):
            address = parse_address(entry)
            if address is None:
                return None
            if not _is_proxy(address, proxies):
                return address
        return None
    count = settings.TRUSTED_PROXY_COUNT
    if count < 1:
        return None
    entries = header.rsplit(",", count)
    if len(entries) < count:
        return None
    return parse_address(entries[-count])


def _is_proxy(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    """The settings check every entry at start-up; one that slipped past is left out here."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)
