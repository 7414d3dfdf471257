"""HTTP calls to department systems that survive flaky networks and busy servers.

Department systems time out, answer 502 during deployments and throttle with 429. Every call the
hub makes goes through :func:`request_with_retries`, so retry policy, logging of each attempt and
the steward-facing error on giving up are the same for pulling data and for delivering reports.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypedDict

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.response
from requests.adapters import HTTPAdapter

from connectors.text import RawRow, value_as_text
from hub_errors import HubError, SourceError

AttemptCallback = Callable[[int, "requests.Response | BaseException"], None]

BODY_EXCERPT_CHARS = 300
READ_CHUNK_BYTES = 64 * 1024
DEFAULT_PULL_DEADLINE_SECONDS = 900.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

BodyReadErrors = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
)


_WATCHED_SOCKETS: ContextVar[list[socket.socket] | None] = ContextVar("hub_watched_sockets", default=None)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """Lends its socket to the running request's deadline watchdog before waiting for the answer."""

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """A transport whose connections a request's deadline can cut, even while the server trickles
    the status line and headers a byte at a time (which per-read timeouts never stop)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _watch(sock: socket.socket | None) -> None:
    watched = _WATCHED_SOCKETS.get()
    if watched is not None and sock is not None:
        watched.append(sock)


def _shut_down(sockets: list[socket.socket]) -> None:
    for sock in list(sockets):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def deadline_watchdog(deadline: float) -> Iterator[None]:
    """Until the block ends, shut down the sockets of requests sent through a DeadlineAdapter once
    ``deadline`` (a ``time.monotonic()`` instant) passes; the blocked read then fails at once."""
    watched: list[socket.socket] = []
    token = _WATCHED_SOCKETS.set(watched)
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut_down, (watched,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _WATCHED_SOCKETS.reset(token)


def make_session(token: str | None = None) -> requests.Session:
    """A session carrying the department's bearer token on every request."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def is_retryable_status(status: int) -> bool:
    """Throttling and server-side failures may pass; client errors (4xx) will not."""
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(response: requests.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), if it said."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def body_excerpt(response: requests.Response) -> str:
    """The start of an answer's body, enough for a steward to recognise the server's complaint."""
    try:
        text = response.text
    except Exception:  # a broken body must not hide the real error
        return ""
    text = " ".join(text.split())
    return text[:BODY_EXCERPT_CHARS] + ("…" if len(text) > BODY_EXCERPT_CHARS else "")


def describe_answer(response: requests.Response) -> str:
    """Status, content type and size of an answer, without a byte of its body (which may hold records)."""
    size = response.headers.get("Content-Length")
    if size is None and response._content not in (None, False):
        size = str(len(response.content))
    kind = response.headers.get("Content-Type") or "no content type"
    return f"HTTP {response.status_code} ({kind}, {size or 'unknown'} bytes)"


def read_body(
    response: requests.Response,
    *,
    deadline: float,
    max_bytes: int,
    what: str,
    error_cls: type[HubError] = SourceError,
) -> bytes:
    """The whole body of a streamed answer, cut off when ``deadline`` (a ``time.monotonic()`` instant)
    passes or the body grows past ``max_bytes``.

    A per-read timeout cannot stop a server that trickles a byte every few seconds; this can. Each
    read returns whatever has arrived (``read1``) and the deadline is checked between reads; a read
    blocked at the deadline is cut by :func:`deadline_watchdog` (DeadlineAdapter connections).
    """
    chunks: list[bytes] = []
    size = 0

    def too_late() -> HubError:
        return error_cls(
            f"{what}: the answer was still arriving when the pull's deadline passed "
            f"({size} bytes received, {response.headers.get('Content-Length') or 'unknown'} announced). "
            "The department system is answering too slowly; ask its operator, then run again."
        )

    try:
        while True:
            if time.monotonic() > deadline:
                raise too_late()
            try:
                chunk = response.raw.read1(READ_CHUNK_BYTES, decode_content=True)
            except BodyReadErrors:
                if time.monotonic() > deadline:  # the watchdog cut the connection
                    raise too_late() from None
                raise
            if not chunk and time.monotonic() <= deadline:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise error_cls(
                    f"{what}: the answer is larger than {max_bytes} bytes; a page should never be. "
                    "Lower page_size or ask the department system's operator what it is sending."
                )
            chunks.append(chunk)
    finally:
        response.close()


def request_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    attempts: int = 5,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float | tuple[float, float] = (5, 60),
    on_attempt: AttemptCallback | None = None,
    error_cls: type[HubError] = SourceError,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    quote_body: bool = True,
    **kwargs: Any,
) -> requests.Response:
    """Send one request, retrying connection errors, timeouts, 429 and 5xx with exponential backoff.

    The wait before attempt n+1 is ``backoff * 2**(n-1)`` capped at ``max_backoff``; a Retry-After
    header overrides it (also capped). ``on_attempt(attempt_no, response_or_exception)`` is called
    after every attempt so callers can log each one. A non-retryable answer (e.g. 401, 404) or the
    last failed attempt raises ``error_cls`` naming the URL and status.

    With ``deadline`` (a ``time.monotonic()`` instant) the body is streamed and read under it, and
    no attempt or wait runs past it, so a trickling server cannot hold a pull forever. With
    ``quote_body=False`` errors give status, content type and size only: the body of a data
    endpoint may hold the very records the hub must not spill into logs.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    describe = body_excerpt if quote_body else (lambda answer: "")
    last_problem = ""
    for attempt_no in range(1, attempts + 1):
        wait = min(max_backoff, backoff * 2 ** (attempt_no - 1))
        try:
            if deadline is None:
                response = session.request(method, url, timeout=timeout, **kwargs)
            else:
                with deadline_watchdog(deadline):
                    response = session.request(
                        method, url, timeout=_timeout_within(timeout, deadline), stream=True, **kwargs
                    )
                    if response.ok:
                        response._content = read_body(
                            response,
                            deadline=deadline,
                            max_bytes=max_body_bytes,
                            what=f"{method.upper()} {url}",
                            error_cls=error_cls,
                        )
        except BodyReadErrors as exc:
            if on_attempt is not None:
                on_attempt(attempt_no, exc)
            if deadline is not None and time.monotonic() > deadline:
                raise error_cls(
                    f"{method.upper()} {url}{_params_note(kwargs)}: no complete answer when the pull's deadline "
                    f"passed ({type(exc).__name__}). The department system is answering too slowly; ask its "
                    "operator, then run again."
                ) from None
            last_problem = f"connection failed ({type(exc).__name__}: {exc})"
        else:
            if on_attempt is not None:
                on_attempt(attempt_no, response)
            if response.ok:
                return response
            excerpt = describe(response)
            last_problem = describe_answer(response) + (f": {excerpt}" if excerpt else "")
            response.close()
            if not is_retryable_status(response.status_code):
                raise error_cls(
                    f"{method.upper()} {url} was refused with HTTP {response.status_code} (not retried)"
                    + (f": {excerpt!r}" if excerpt else f" [{describe_answer(response)}]")
                    + f"{_params_note(kwargs)}. Check the address, the token and the request parameters."
                )
            asked = retry_after_seconds(response)
            if asked is not None:
                wait = min(max_backoff, asked)
        if attempt_no < attempts:
            if deadline is not None and time.monotonic() + wait > deadline:
                raise error_cls(
                    f"{method.upper()} {url}{_params_note(kwargs)} failed ({last_problem}) and the pull's deadline "
                    f"passes before attempt {attempt_no + 1} could start. Check that the department system is up, "
                    "then run again."
                )
            sleep(wait)
    raise error_cls(
        f"{method.upper()} {url}{_params_note(kwargs)} still failed after {attempts} attempts; last: {last_problem}. "
        "Check that the department system is up, then run again."
    )


def _timeout_within(timeout: float | tuple[float, float], deadline: float | None) -> float | tuple[float, float]:
    """The request's (connect, read) timeouts, each no longer than what is left until ``deadline``."""
    if deadline is None:
        return timeout
    left = max(0.001, deadline - time.monotonic())
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (min(connect, left), min(read, left))


def _params_note(kwargs: dict[str, Any]) -> str:
    """The query parameters we sent (ours, never record content), for the steward to see which page failed."""
    params = kwargs.get("params")
    if not params:
        return ""
    return " (" + ", ".join(f"{key}={value}" for key, value in params.items()) + ")"


def json_object(response: requests.Response, *, source: str, describe: str) -> dict[str, Any]:
    """The answer's JSON object, or a SourceError saying which call returned something else.

    The error never quotes the body: on a data endpoint it is made of residents' records.
    """
    try:
        body = response.json()
    except ValueError as exc:
        raise SourceError(
            f"{source}: {describe} did not return valid JSON [{describe_answer(response)}]: "
            f"{_json_problem(exc)}. The department system sent a broken answer; run again, and if it "
            "persists ask its operator."
        ) from None
    if not isinstance(body, dict):
        raise SourceError(
            f"{source}: {describe} returned a JSON {type(body).__name__}, not an object [{describe_answer(response)}]."
        )
    return body


def _json_problem(exc: ValueError) -> str:
    """Where the JSON broke (line, column), without the text around it."""
    if hasattr(exc, "msg"):
        return f"{exc.msg} (line {getattr(exc, 'lineno', '?')}, column {getattr(exc, 'colno', '?')})"
    return type(exc).__name__


def as_raw_row(item: Any, *, source: str, url: str, position: str = "") -> RawRow:
    """One API item as a raw row: the source's own keys, every value a string, '' for empty."""
    if not isinstance(item, dict):
        where = f" ({position})" if position else ""
        raise SourceError(
            f"{source}: {url}{where} returned an item that is a JSON {type(item).__name__}, not an object."
        )
    return {str(key): value_as_text(value) for key, value in item.items()}


class ClientOptions(TypedDict, total=False):
    """Connection options every department API client accepts."""

    timeout: float | tuple[float, float]
    attempts: int
    backoff: float
    on_attempt: AttemptCallback | None
    session: requests.Session | None
    pull_deadline: float
    max_pages: int
    max_page_bytes: int


class JsonApiClient:
    """Shared plumbing of the department API clients: one session, one retry policy, JSON answers.

    ``pull_deadline`` (seconds) bounds a whole pull, every page, retry and wait included;
    ``max_pages`` bounds any pull (the server's ``total`` usually bounds it tighter, see
    connectors.paging); ``max_page_bytes`` bounds one answer.
    """

    source = "api"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | tuple[float, float] = (5, 60),
        attempts: int = 5,
        backoff: float = 0.5,
        on_attempt: AttemptCallback | None = None,
        session: requests.Session | None = None,
        pull_deadline: float = DEFAULT_PULL_DEADLINE_SECONDS,
        max_pages: int = 100_000,
        max_page_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.on_attempt = on_attempt
        self.session = session or make_session()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, DeadlineAdapter())
        self.pull_deadline = pull_deadline
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes

    def get_json(
        self, path: str, params: dict[str, str | int], *, deadline: float | None = None, page: int | None = None
    ) -> dict[str, Any]:
        """GET ``base_url + path`` with retries, done by ``deadline`` (monotonic; default: one pull's
        allowance from now); the answer must be a JSON object. Errors name the source and ``page``
        and never quote the body."""
        url = self.base_url + path
        where = f"{url}{_params_note({'params': params})}" + (f" page {page}" if page is not None else "")
        try:
            response = request_with_retries(
                self.session,
                "GET",
                url,
                params=params,
                attempts=self.attempts,
                backoff=self.backoff,
                timeout=self.timeout,
                on_attempt=self.on_attempt,
                deadline=time.monotonic() + self.pull_deadline if deadline is None else deadline,
                max_body_bytes=self.max_page_bytes,
                quote_body=False,
            )
        except SourceError as exc:
            prefix = f"{self.source}: " + (f"page {page}: " if page is not None else "")
            raise SourceError(prefix + str(exc)) from None
        return json_object(response, source=self.source, describe=where)

    def get_page(
        self,
        path: str,
        params: dict[str, str | int],
        items_key: str,
        *,
        deadline: float | None = None,
        page: int | None = None,
    ) -> tuple[dict[str, Any], list[Any]]:
        """GET one page of a listing: the whole answer and its records, which must be a list under ``items_key``."""
        body = self.get_json(path, params, deadline=deadline, page=page)
        items = body.get(items_key)
        if not isinstance(items, list):
            raise SourceError(
                f"{self.source}: {self.base_url + path}{_params_note({'params': params})} has no {items_key!r} list; "
                f"got keys {sorted(body)}."
            )
        return body, items
