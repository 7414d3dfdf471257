"""HTTP calls to department systems that survive flaky networks and busy servers.

Department systems time out, answer 502 during deployments and throttle with 429. Every call the
hub makes goes through :func:`request_with_retries`, so retry policy, logging of each attempt and
the steward-facing error on giving up are the same for pulling data and for delivering reports.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict

import requests

from connectors.text import RawRow, value_as_text
from hub_errors import HubError, SourceError

AttemptCallback = Callable[[int, "requests.Response | BaseException"], None]

BODY_EXCERPT_CHARS = 300


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
    **kwargs: Any,
) -> requests.Response:
    """Send one request, retrying connection errors, timeouts, 429 and 5xx with exponential backoff.

    The wait before attempt n+1 is ``backoff * 2**(n-1)`` capped at ``max_backoff``; a Retry-After
    header overrides it (also capped). ``on_attempt(attempt_no, response_or_exception)`` is called
    after every attempt so callers can log each one. A non-retryable answer (e.g. 401, 404) or the
    last failed attempt raises ``error_cls`` naming the URL, status and the start of the body.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    last_problem = ""
    for attempt_no in range(1, attempts + 1):
        wait = min(max_backoff, backoff * 2 ** (attempt_no - 1))
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if on_attempt is not None:
                on_attempt(attempt_no, exc)
            last_problem = f"connection failed ({type(exc).__name__}: {exc})"
        else:
            if on_attempt is not None:
                on_attempt(attempt_no, response)
            if response.ok:
                return response
            last_problem = f"HTTP {response.status_code}: {body_excerpt(response)}"
            if not is_retryable_status(response.status_code):
                raise error_cls(
                    f"{method.upper()} {url} was refused with HTTP {response.status_code} (not retried): "
                    f"{body_excerpt(response)!r}. Check the address, the token and the request parameters."
                )
            asked = retry_after_seconds(response)
            if asked is not None:
                wait = min(max_backoff, asked)
        if attempt_no < attempts:
            sleep(wait)
    raise error_cls(
        f"{method.upper()} {url} still failed after {attempts} attempts; last: {last_problem}. "
        "Check that the department system is up, then run again."
    )


def json_object(response: requests.Response, *, source: str, describe: str) -> dict[str, Any]:
    """The answer's JSON object, or a SourceError saying which call returned something else."""
    try:
        body = response.json()
    except ValueError:
        raise SourceError(
            f"{source}: {describe} did not return JSON "
            f"(Content-Type {response.headers.get('Content-Type')!r}): {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise SourceError(f"{source}: {describe} returned JSON that is not an object: {body!r:.200}")
    return body


def as_raw_row(item: Any, *, source: str, url: str) -> RawRow:
    """One API item as a raw row: the source's own keys, every value a string, '' for empty."""
    if not isinstance(item, dict):
        raise SourceError(f"{source}: {url} returned an item that is not a JSON object: {item!r:.200}")
    return {str(key): value_as_text(value) for key, value in item.items()}


class ClientOptions(TypedDict, total=False):
    """Connection options every department API client accepts."""

    timeout: float | tuple[float, float]
    attempts: int
    backoff: float
    on_attempt: AttemptCallback | None
    session: requests.Session | None


class JsonApiClient:
    """Shared plumbing of the department API clients: one session, one retry policy, JSON answers."""

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.on_attempt = on_attempt
        self.session = session or make_session()

    def get_json(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        """GET ``base_url + path`` with retries; the answer must be a JSON object."""
        url = self.base_url + path
        response = request_with_retries(
            self.session,
            "GET",
            url,
            params=params,
            attempts=self.attempts,
            backoff=self.backoff,
            timeout=self.timeout,
            on_attempt=self.on_attempt,
        )
        return json_object(response, source=self.source, describe=f"{url} {params}")

    def get_page(self, path: str, params: dict[str, str | int], items_key: str) -> tuple[dict[str, Any], list[Any]]:
        """GET one page of a listing: the whole answer and its records, which must be a list under ``items_key``."""
        body = self.get_json(path, params)
        items = body.get(items_key)
        if not isinstance(items, list):
            raise SourceError(
                f"{self.source}: {self.base_url + path} {params} has no {items_key!r} list; "
                f"got keys {sorted(body)}."
            )
        return body, items
