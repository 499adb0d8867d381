"""What a failed request says about this machine's network."""

from __future__ import annotations

import errno

from urllib3.exceptions import NameResolutionError


def offline_reason(exc: BaseException) -> str | None:
    """Why no request can reach the host from this machine (its name did not resolve, or no network
    route), or None. requests wraps urllib3's error in its own, so the causes are followed."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen or not isinstance(cause, BaseException):
            continue
        seen.add(id(cause))
        if isinstance(cause, NameResolutionError):
            return "its host name did not resolve"
        if getattr(cause, "errno", None) == errno.ENETUNREACH:
            return "no network route to it"
        todo += [*cause.args[:1], getattr(cause, "reason", None), cause.__cause__, cause.__context__]
    return None
