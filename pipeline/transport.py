"""One HTTP request at a time to Customer.io: requests' settings, urllib3's speed.

Delivery sends up to --rate_limit requests a second from one worker. A
`requests.Session.request` does much more per call than the urllib3
connection pool underneath (preparing the request, merging settings,
cookies, hooks, building a Response), so at a high request rate next to the
pipeline's own work the difference is a large share of a core
(bench/bench_pipeline.py, its delivery part, reports CPU per request).

So `Transport` lets requests decide everything once per host, as it would
for each request: proxy (HTTPS_PROXY/HTTP_PROXY/NO_PROXY, with credentials
in the proxy URL), CA bundle (REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, else
certifi), TLS verification always on, through requests' own HTTPAdapter; and
then sends each request straight on the urllib3 pool that adapter chose.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import requests
import urllib3

# What a failed attempt raises, from the most specific: no connection (refused,
# reset, dropped, TLS or proxy failure; urllib3 makes a refused connection a
# kind of timeout, so this is checked first), no answer in time, anything
# else urllib3 or requests can raise (e.g. a malformed URL).
CONNECTION_ERRORS = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError,
                     urllib3.exceptions.ProxyError, urllib3.exceptions.SSLError, ConnectionError)
TIMEOUT_ERRORS = (urllib3.exceptions.TimeoutError,)
TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, requests.RequestException)


class Response:
    """What delivery needs of an answer: status, body text, Retry-After."""

    __slots__ = ("status", "text", "retry_after")

    def __init__(self, status: int, text: str, retry_after: str | None):
        self.status = status
        self.text = text
        self.retry_after = retry_after


class Transport:
    """Sends requests over pooled connections, configured the way requests would.

    The environment is read once, here, not per request: proxies for
    `base_url` and the CA bundle. Thread-safe; `max_connections` should be
    the most requests that may be in flight at once.
    """

    def __init__(self, base_url: str, max_connections: int, timeout: float):
        self.session = requests.Session()
        self.adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max_connections, max_retries=0)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
        self.session.verify = True  # TLS verification is never turned off.
        self.session.proxies.update(requests.utils.get_environ_proxies(base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle
        self.session.trust_env = False  # read above, once
        self.timeout_seconds = timeout
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._routes: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _route(self, parts) -> tuple:
        """(connection pool, whether it wants the full URL) for the origin of `parts` (urlsplit)."""
        origin = f"{parts.scheme}://{parts.netloc}"
        route = self._routes.get(origin)
        if route is None:
            with self._lock:
                prepared = requests.Request("GET", origin + "/").prepare()
                pool = self.adapter.get_connection_with_tls_context(
                    prepared, self.session.verify, self.session.proxies)
                # Through a plain-HTTP proxy the request line carries the full URL.
                full_url = self.adapter.request_url(prepared, self.session.proxies) != "/"
                route = self._routes[origin] = (pool, full_url)
        return route

    def request(self, method: str, url: str, body: bytes, headers: dict) -> Response:
        """One attempt, no retries or redirects; raises one of TRANSPORT_ERRORS."""
        parts = urlsplit(url)
        pool, full_url = self._route(parts)
        target = url if full_url else parts.path + ("?" + parts.query if parts.query else "")
        answer = pool.urlopen(method, target, body=body, headers=headers, retries=False, redirect=False,
                              assert_same_host=False, timeout=self.timeout, preload_content=True)
        return Response(answer.status, answer.data.decode("utf-8", "replace"), answer.headers.get("Retry-After"))

    def close(self) -> None:
        self.session.close()
