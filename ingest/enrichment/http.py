"""One keyless web service as the enrichment asks it: a meaningful User-Agent, a pace of its own,
bounded waits for its rate limits, retries for its outages, and what happened, by name.

A 429 waits `Retry-After` (or ListenBrainz's `X-RateLimit-Reset-In`) up to
SPOTIFY_BRAIN_MAX_RETRY_AFTER, once; longer, or a second one, stops the provider for this run
(ProviderStopped). Timeouts, refused connections and 5xx are retried with backoff, then the
provider is unreachable (ProviderStopped). A host name that does not resolve, or no route to any
network, is unreachable at once: the machine is offline, and retrying cost an offline refresh
14 s of backoff for the same answer (the next run asks again). A remaining allowance of 0 waits
for the window to reset, within the same bound. Every request counts against the provider's
budget for the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import requests

from ingest.network import offline_reason
from warehouse.settings import Settings


class ProviderStopped(RuntimeError):
    """The provider is done for this run: unreachable, rate-limited past the cap, or its budget
    spent. `kind` is unreachable | rate_limited | budget; the message says why, by name."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class ProviderReport:
    """What one provider did this run, for the run's output, raw.enrichment_runs and the export."""

    name: str
    requests: int = 0
    asked: int = 0
    found: int = 0
    stopped: str | None = None      # why it stopped early, if it did
    unreachable: bool = False
    events: list[str] = field(default_factory=list)

    def line(self) -> str:
        state = f"UNREACHABLE: {self.stopped}" if self.unreachable else (
            f"stopped early: {self.stopped}" if self.stopped else "ok")
        return f"{self.name}: {self.asked} asked, {self.found} found, {self.requests} requests ({state})"

    def as_json(self) -> dict:
        return {"requests": self.requests, "asked": self.asked, "found": self.found, "stopped": self.stopped,
                "reachable": not self.unreachable}


def user_agent(settings: Settings) -> str:
    """MusicBrainz and ListenBrainz ask every client to say who it is (and how to reach its owner)."""
    try:
        ours = version("spotify-brain")
    except PackageNotFoundError:
        ours = "dev"
    contact = f" ( {settings.contact} )" if settings.contact else " ( self-hosted listening warehouse )"
    return f"spotify-brain/{ours}{contact}"


class Provider:
    """Requests to one service within a per-run budget, at most one every `min_interval_s`."""

    def __init__(self, name: str, settings: Settings, min_interval_s: float, budget: int, sleep=time.sleep,
                 session: requests.Session | None = None):
        self.name, self.settings, self.min_interval_s, self.budget = name, settings, min_interval_s, budget
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent(settings)
        self.report = ProviderReport(name)
        self._last = 0.0
        self._wait_before_next = 0.0

    def get(self, url: str, params: dict | None = None) -> tuple[int, object]:
        return self._request("GET", url, params=params)

    def post(self, url: str, body: object) -> tuple[int, object]:
        return self._request("POST", url, json=body)

    def _request(self, method: str, url: str, **kwargs) -> tuple[int, object]:
        """(status, JSON body or None) of a request that got an answer; ProviderStopped otherwise."""
        if self.report.requests >= self.budget:
            raise ProviderStopped("budget", f"{self.name}: {self.budget} requests this run (SPOTIFY_BRAIN_LOOKUPS_PER_RUN), "
                                            "the rest next run")
        limited = False
        for attempt in range(self.settings.api_retries + 1):
            self._pace()
            self.report.requests += 1
            try:
                response = self.session.request(method, url, timeout=self.settings.api_timeout_s, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                problem = f"{type(exc).__name__} ({_short(exc)})"
                if offline := offline_reason(exc):
                    self.report.events.append(f"{self.name}: {offline}")
                    raise ProviderStopped("unreachable", f"{self.name} unreachable at {url.split('?')[0]}: "
                                                         f"{offline}, so not retried (is this machine offline?)") from None
            else:
                self._note_allowance(response)
                if response.status_code == 429:
                    wait = _seconds(response.headers.get("Retry-After")) or _seconds(
                        response.headers.get("X-RateLimit-Reset-In"))
                    if limited or wait is None or wait > self.settings.max_retry_after_s:
                        raise ProviderStopped("rate_limited", f"{self.name}: 429 Too Many Requests (wait {wait} s, "
                                              f"at most {self.settings.max_retry_after_s:.0f} s); the rest next run")
                    limited = True
                    self.sleep(wait)
                    continue
                if response.status_code < 500:
                    return response.status_code, _json(response)
                problem = f"HTTP {response.status_code}"
            self.report.events.append(f"{self.name}: {problem}, attempt {attempt + 1}")
            if attempt < self.settings.api_retries:
                self.sleep(min(30.0, 0.5 * 2 ** attempt))
        raise ProviderStopped("unreachable", f"{self.name} unreachable at {url.split('?')[0]}: {problem}, "
                                             f"{self.settings.api_retries + 1} attempts")

    def _pace(self) -> None:
        wait = max(self.min_interval_s - (time.monotonic() - self._last), self._wait_before_next, 0.0)
        if wait > 0:
            self.sleep(wait)
        self._wait_before_next = 0.0
        self._last = time.monotonic()

    def _note_allowance(self, response: requests.Response) -> None:
        """An allowance spent waits for its window (ListenBrainz says both), within the cap."""
        if _seconds(response.headers.get("X-RateLimit-Remaining")) == 0:
            reset = _seconds(response.headers.get("X-RateLimit-Reset-In")) or 0.0
            self._wait_before_next = min(reset, self.settings.max_retry_after_s)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:120] + "..."
