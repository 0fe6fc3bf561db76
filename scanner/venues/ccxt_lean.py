"""ccxt's implicit raw endpoints sent without the generic machinery of ``fetch2``/``fetch``
where it does nothing for us: the same request bytes, the same budget, the same hooks.

Why: a steady scan asks the ccxt venues for ~95 order books, each one through ccxt's
``fetch2`` and ``fetch``. Beyond the HTTP exchange itself, those spend ~0.25 ms of CPU a
request on things that never apply to our public calls: the ``maxRetriesOnFailure`` option
lookups (two ``handle_option_and_params`` walks, ~15-30 us), the proxy settings, the fetch
cache, multipart bodies, verbose logging, and the throttle's hand-off through its own task.

What is kept, by calling ccxt's own code in ccxt's order: the cost of the endpoint
(``calculate_rate_limiter_cost``) spent on the exchange's throttle, the request (``sign``,
``prepare_request_headers``), the request and answer of the exchange's own aiohttp session
with ccxt's timeouts (sent by ``scanner.venues.lean_http`` where it mirrors that session
exactly: the same bytes and answers for ~1/6 of the CPU; else by the session), the response
hooks (``on_rest_response``, ``parse_json``, ``handle_errors``, ``handle_http_status_code``:
every status and error body maps as through ccxt), ccxt's mapping of aiohttp's exceptions,
and the last-request/response fields ccxt keeps. Where any skipped part would apply - a
private endpoint, an exchange class that overrides ``fetch2``/``fetch`` (or ``request``
beyond Binance's private-key flag), retry or proxy settings, the fetch cache, verbose mode,
a multipart body - the call goes through ccxt's own implicit method instead.
"""

from __future__ import annotations

import concurrent.futures
import socket
import ssl
import weakref
from dataclasses import dataclass
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import yarl
from ccxt.async_support.base.exchange import Exchange as AsyncExchange
from ccxt.base.errors import ExchangeError, ExchangeNotAvailable, RequestTimeout
from ccxt.base.types import Entry

from scanner.venues.lean_http import LeanHttp, Reply, takes

_PROXY_ATTRS = (
    "proxyUrl",
    "proxy_url",
    "proxyUrlCallback",
    "proxy_url_callback",
    "proxy",
    "httpProxy",
    "http_proxy",
    "httpProxyCallback",
    "http_proxy_callback",
    "httpsProxy",
    "https_proxy",
    "httpsProxyCallback",
    "https_proxy_callback",
    "socksProxy",
    "socks_proxy",
    "socksProxyCallback",
    "socks_proxy_callback",
    "aiohttp_proxy",
)
"""Every proxy setting ccxt's ``fetch`` consults; all unset for the lean path."""

_RETRY_KEYS = (
    "maxRetriesOnFailure",
    "defaultMaxRetriesOnFailure",
    "maxRetriesOnFailureDelay",
    "defaultMaxRetriesOnFailureDelay",
)
"""The options ``fetch2`` reads (from the params, the endpoint's options, the exchange's)."""

_PLAIN_REQUESTS = frozenset({AsyncExchange.request, ccxt_async.binance.request})
"""``request`` implementations that only call ``fetch2`` for an endpoint that is not private
(Binance's sets a flag after a ``private`` call)."""


@dataclass(frozen=True)
class Endpoint:
    """One implicit endpoint as ccxt declares it (``ccxt.base.types.Entry``)."""

    path: str
    api: Any
    method: str
    config: dict[str, Any]


def endpoint_of(exchange: ccxt_async.Exchange, name: str) -> Endpoint | None:
    """The declaration behind ``exchange.<name>``, when calling it means exactly
    ``request(path, api, method, params, config)`` on an endpoint that is not private (ours
    are public: Binance's ``fapiPublic``, OKX's and Gate's ``public``); else None."""
    for klass in type(exchange).__mro__:
        found = klass.__dict__.get(name)
        if found is None:
            continue
        entry = found if isinstance(found, Entry) else _entry_of(found)
        if entry is None or entry.unbound_method is not getattr(found, "unbound_method", found):
            return None
        if not isinstance(entry.api, list) or not entry.api or "private" in str(entry.api[0]):
            return None
        return Endpoint(entry.path, entry.api, entry.method, entry.config)
    return None


def _entry_of(function: Any) -> Entry | None:
    """The ``Entry`` whose generated method ``function`` is (ccxt copies those methods onto
    the exchange classes)."""
    for cell in getattr(function, "__closure__", None) or ():
        if isinstance(cell.cell_contents, Entry) and cell.cell_contents.unbound_method is function:
            return cell.cell_contents
    return None


def _plain_exchange(exchange: ccxt_async.Exchange) -> bool:
    """The exchange sends as ccxt's base ``fetch2``/``fetch`` do (no override of either, a
    ``request`` that only calls ``fetch2``), with no proxy, no verbose log, no fetch cache."""
    klass = type(exchange)
    return (
        klass.fetch2 is AsyncExchange.fetch2
        and klass.fetch is AsyncExchange.fetch
        and klass.request in _PLAIN_REQUESTS
        and not exchange.verbose
        and not exchange.fetchHistoryCacheSize > 0
        and all(getattr(exchange, attr, None) is None for attr in _PROXY_ATTRS)
    )


def _no_retry_options(exchange: ccxt_async.Exchange, path: str, params: Any) -> bool:
    """``fetch2`` would find no retry option for this call: it then sends once, with the
    params as given (its ``handle_option_integer_and_params`` returns them unchanged)."""
    options = exchange.options
    if not isinstance(params, dict) or "callerMethodName" in params or path in options:
        return False
    return not any(key in params or key in options for key in _RETRY_KEYS)


class LeanCall:
    """``await LeanCall(exchange, name)(params)`` is ``await exchange.<name>(params)``: the
    same request on the wire, the same cost on the throttle, the same result or exception,
    for less CPU where the lean path applies (module docstring)."""

    def __init__(self, exchange: ccxt_async.Exchange, name: str) -> None:
        self.exchange = exchange
        self.name = name
        self.endpoint = endpoint_of(exchange, name)

    def applies(self, params: Any) -> bool:
        """The lean path sends this call (else ccxt's implicit method does)."""
        ep = self.endpoint
        return (
            ep is not None
            and _plain_exchange(self.exchange)
            and _no_retry_options(self.exchange, ep.path, params)
        )

    async def __call__(self, params: dict[str, Any]) -> Any:
        ep = self.endpoint
        if ep is None or not self.applies(params):
            return await getattr(self.exchange, self.name)(params)
        ex = self.exchange
        if ex.enableRateLimit:
            await ex.throttle(
                ex.calculate_rate_limiter_cost(ep.api, ep.method, ep.path, params, ep.config)
            )
        ex.set_last_rest_request_timestamp()
        request = ex.sign(ep.path, ep.api, ep.method, params)
        ex.set_last_request(request)
        url, method, headers, body = (request[k] for k in ("url", "method", "headers", "body"))
        return await lean_fetch(ex, url, method, headers, body)


def _multipart(request_headers: dict[str, Any]) -> bool:
    """ccxt's ``fetch`` builds a form for a multipart content type (its first content-type
    header decides); the lean path does not."""
    for key, value in request_headers.items():
        if key.lower() == "content-type":
            return bool(value == "multipart/form-data")
    return False


async def lean_fetch(
    ex: ccxt_async.Exchange, url: str, method: str, headers: Any, body: Any
) -> Any:
    """ccxt 4.5.90's async ``Exchange.fetch`` for an exchange with no proxy and no verbose
    log (``LeanCall.applies``) and a body that is not multipart: the same statements in the
    same order, the branches for those cases left out."""
    request_headers = ex.prepare_request_headers(headers)
    if _multipart(request_headers):  # ccxt's own fetch (preparing the headers again is a no-op)
        return await ex.fetch(url, method, headers, body)
    ex.last_request_headers = request_headers
    ex.open(True)
    ex.logger.debug("%s %s, Request: %s %s", method, url, headers, body)
    encoded_body = body.encode() if body else None
    timeout_s = ex.timeout / 1000
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=timeout_s, sock_read=timeout_s)
    http = lean_http_of(ex, method)
    try:
        if http is not None:  # the same request and answer as aiohttp's (scanner.venues.lean_http)
            lean_url = yarl.URL(url, encoded=True)
            reply = await http.request(method, lean_url, request_headers, encoded_body, timeout)
            got = _received(ex, reply, reply.text(), url, method, request_headers, body)
        else:
            async with getattr(ex.session, method.lower())(
                yarl.URL(url, encoded=True),
                data=encoded_body,
                headers=request_headers,
                timeout=timeout,
                proxy=None,
            ) as response:
                text = await response.text(errors="replace")
                got = _received(ex, response, text, url, method, request_headers, body)
    except socket.gaierror as e:
        raise ExchangeNotAvailable(" ".join([ex.id, method, url])) from e
    except (TimeoutError, concurrent.futures.TimeoutError) as e:
        raise RequestTimeout(" ".join([ex.id, method, url])) from e
    except aiohttp.ClientConnectionError as e:
        raise ExchangeNotAvailable(" ".join([ex.id, method, url])) from e
    except aiohttp.ClientError as e:
        raise ExchangeError(" ".join([ex.id, method, url])) from e
    return _checked(ex, got, url, method, request_headers, body)


@dataclass
class _Received:
    """What ``fetch`` holds once the body is in: status, headers, text and its JSON."""

    response: aiohttp.ClientResponse | Reply
    status: int
    reason: str | None
    headers: dict[str, str]
    text: Any
    json: Any


def _received(
    ex: ccxt_async.Exchange,
    response: aiohttp.ClientResponse | Reply,
    text: str,
    url: str,
    method: str,
    request_headers: Any,
    request_body: Any,
) -> _Received:
    """``fetch``'s handling of a response inside the request's context: the headers as a
    dict (repeated ones joined), the response hook, the JSON, the last-response fields."""
    raw_headers = response.headers
    headers: dict[str, str] = {}
    for header in raw_headers:
        if header in headers:
            headers[header] = headers[header] + ", " + raw_headers[header]
        else:
            headers[header] = raw_headers[header]
    status, reason = response.status, response.reason
    text = ex.on_rest_response(
        status, reason, url, method, headers, text, request_headers, request_body
    )
    json_response = ex.parse_json(text)
    if ex.enableLastHttpResponse:
        ex.last_http_response = text
    if ex.enableLastResponseHeaders:
        ex.last_response_headers = headers
    if ex.enableLastJsonResponse:
        ex.last_json_response = json_response
    if json_response and not isinstance(json_response, list) and ex.returnResponseHeaders:
        json_response["responseHeaders"] = headers
    ex.logger.debug("%s %s, Response: %s %s %s", method, url, status, headers, text)
    return _Received(response, status, reason, headers, text, json_response)


def _checked(
    ex: ccxt_async.Exchange,
    got: _Received,
    url: str,
    method: str,
    request_headers: Any,
    request_body: Any,
) -> Any:
    """``fetch``'s end: the venue's error handlers on the body and the status, then the
    JSON, else the text, else the raw content."""
    ex.handle_errors(
        got.status,
        got.reason,
        url,
        method,
        got.headers,
        got.text,
        got.json,
        request_headers,
        request_body,
    )
    ex.handle_http_status_code(got.status, got.reason, url, method, got.text)
    if got.json is not None:
        return got.json
    if ex.is_text_response(got.headers):
        return got.text
    if got.text == "" or got.text is None:
        return got.text
    if isinstance(got.response, Reply):
        return got.response.body  # aiohttp's stream would give the same bytes
    return got.response.content


_POOLS: weakref.WeakKeyDictionary[ccxt_async.Exchange, LeanHttp] = weakref.WeakKeyDictionary()
"""Each exchange's lean connections (closed by ``close_lean_http``)."""


def lean_http_of(ex: ccxt_async.Exchange, method: str) -> LeanHttp | None:
    """The exchange's ``LeanHttp`` where it sends ``method`` as the exchange's aiohttp session
    would (``lean_http.takes``), else None (the session sends)."""
    if not takes(ex.session, method):
        return None
    http = _POOLS.get(ex)
    if http is None:
        tls = ex.ssl_context if isinstance(ex.ssl_context, ssl.SSLContext) else ex.verify
        http = _POOLS[ex] = LeanHttp.beside(ex.session, tls)
    return http


async def close_lean_http(ex: ccxt_async.Exchange) -> None:
    """Close the exchange's lean connections (its adapter's ``close``)."""
    http = _POOLS.pop(ex, None)
    if http is not None:
        await http.close()
