"""One POST to an alert endpoint, only where the operator allowed it, and what to do next.

Why the address checks: a webhook URL comes from configuration, but an alert carries API names and
ARNs from the input, so a URL that points inside the network (a metadata service, an admin port) must
be an explicit choice. By default only ``https`` to public addresses is allowed; ``allow_private``
opens loopback, private and link-local ranges and plain ``http`` to them (``http://127.0.0.1`` for
local tests). Plain ``http`` to a public address is never allowed: the bodies carry account ids and
the URLs carry tokens. The host is resolved again before each POST (DNS may change) and redirects are
not followed, since a redirect could lead anywhere.

Only ``scheme://host:port`` is ever shown (:attr:`Endpoint.shown`): webhook paths and queries are
secrets (Slack's and Alertmanager proxies' tokens live there).
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
RESPONSE_BYTES = 4096


class EndpointRefusedError(ValueError):
    """The URL is not one alerts may go to; the message says why (never the URL's path)."""


@dataclass(frozen=True)
class Endpoint:
    """Where one alert sink posts: the URL, whether private addresses are allowed, the timeout and
    the CA bundle for a private certificate authority (``None``: the system's)."""

    url: str
    allow_private: bool = False
    timeout_s: float = 10.0
    ca_file: str | None = None

    @property
    def shown(self) -> str:
        """The URL without path, query or credentials, for logs and errors."""
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    def check(self, resolve: bool = True) -> None:
        """``EndpointRefusedError`` unless the scheme and (with ``resolve``) every address are allowed."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise EndpointRefusedError(f"{self.shown}: not an http(s) URL")
        if parts.username or parts.password:
            raise EndpointRefusedError(f"{self.shown}: credentials in the URL are not supported")
        if parts.scheme == "http" and not self.allow_private:
            raise EndpointRefusedError(
                f"{self.shown}: plain http needs allow_private (and a private address)"
            )
        if not resolve:
            return
        for address in _addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
            private = not address.is_global
            if private and not self.allow_private:
                raise EndpointRefusedError(f"{self.shown}: {address} is not a public address (allow_private)")
            if parts.scheme == "http" and not private:
                raise EndpointRefusedError(f"{self.shown}: plain http to a public address ({address})")


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise EndpointRefusedError(f"{host}: cannot resolve: {exc}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


@dataclass(frozen=True)
class Outcome:
    """What one POST came to: ``delivered``; else whether trying again may help (``retry``), how long
    the server asked to wait (``retry_after_s``), and a short ``detail`` without the URL's secrets."""

    delivered: bool
    retry: bool = False
    retry_after_s: float | None = None
    detail: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def post(endpoint: Endpoint, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """POST ``body`` as JSON; never raises for a network or HTTP failure (the outcome says)."""
    try:
        endpoint.check()
    except EndpointRefusedError as exc:
        return Outcome(False, retry="cannot resolve" in str(exc), detail=str(exc))
    context = ssl.create_default_context(cafile=endpoint.ca_file)
    opener = urllib.request.build_opener(_NoRedirects(), urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "trailpulse", **headers},
    )
    try:
        with opener.open(request, timeout=endpoint.timeout_s) as response:
            response.read(RESPONSE_BYTES)
            return Outcome(True, detail=f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        status = exc.code
        text = exc.read(RESPONSE_BYTES).decode("utf-8", "replace").strip()[:200]
        retry_after = retry_after_s(exc.headers.get("Retry-After"), time.time())
        detail = f"HTTP {status}" + (f": {text}" if text else "")
        retry = status in RETRIED_STATUSES or retry_after is not None
        return Outcome(False, retry=retry, retry_after_s=retry_after, detail=detail)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, retry=True, detail=f"{endpoint.shown}: {reason}")


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay seconds or an HTTP date), ``None`` if
    absent or unreadable.

    >>> retry_after_s("120", 0.0), retry_after_s(None, 0.0), retry_after_s("soon", 0.0)
    (120.0, None, None)
    >>> retry_after_s("Thu, 01 Jan 1970 00:01:40 GMT", 40.0)
    60.0
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)
