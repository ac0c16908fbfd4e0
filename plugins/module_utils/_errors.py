# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The error every API failure becomes, and making server text safe to show. Private to this collection."""

from __future__ import annotations

from typing import Any

# How much server text a message shows.
EXCERPT_LENGTH = 200
# Only this much of a server's text is looked at for an excerpt. A token cut at its end leaves a fragment that is
# either hidden like any other fragment or shorter than SECRET_FRAGMENT.
EXCERPT_SCAN = 64 * 1024
# A token fragment at least this long is hidden from any server text shown to the user.
SECRET_FRAGMENT = 8
HIDDEN = "[hidden]"


class Cloud66Error(Exception):
    """A failed API call, with a message that is safe to show to the user.

    ``transient`` marks failures that a later attempt may not meet (throttling, gateways, network).
    ``ambiguous`` marks a write whose fate is unknown: the server may have acted before the answer was lost.
    """

    message: str
    status: int | None
    error: str | None
    description: str | None
    transient: bool
    ambiguous: bool
    attempts: int
    retry_after: float | None
    # Set on an error met after an earlier attempt of the same write may have gone through.
    resent: bool = False

    def __init__(
        self,
        message: str,
        status: int | None = None,
        error: str | None = None,
        description: str | None = None,
        transient: bool = False,
        ambiguous: bool = False,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.description = description
        self.transient = transient
        self.ambiguous = ambiguous
        self.attempts = attempts
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        """What a module adds to its failure result besides ``msg``."""
        details = {"attempts": self.attempts}
        if self.status is not None:
            details["status_code"] = self.status
        if self.error:
            details["error"] = self.error
        return details


class BudgetSpent(Cloud66Error):
    """A request that was not sent because the run's deadline had passed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True, attempts=0)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with the secret, and every fragment of it of SECRET_FRAGMENT or more characters, replaced.

    Linear in the length of ``text``: every window of SECRET_FRAGMENT characters is looked up in the set of the
    secret's windows, and the characters of every window found are hidden.
    """
    if not text or not secret:
        return text
    size = min(SECRET_FRAGMENT, len(secret))
    windows = set(secret[start : start + size] for start in range(len(secret) - size + 1))
    hidden = [False] * len(text)
    for start in range(len(text) - size + 1):
        if text[start : start + size] in windows:
            hidden[start : start + size] = [True] * size
    if not any(hidden):
        return text
    parts, previous = [], False
    for char, hide in zip(text, hidden, strict=True):
        if not hide:
            parts.append(char)
        elif not previous:
            parts.append(HIDDEN)
        previous = hide
    return "".join(parts)


def scrub_all(value: Any, secret: str | None) -> Any:
    """``value`` with every string in it (keys of objects included, at any depth) scrubbed of ``secret``."""
    if isinstance(value, str):
        return scrub(value, secret)
    if isinstance(value, dict):
        return dict(
            (scrub_all(key, secret), scrub_all(item, secret)) for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return [scrub_all(item, secret) for item in value]
    return value


def strip_tags(text: str) -> str:
    """Replace every <...> with a space, in one pass (an unclosed '<' ends the stripping)."""
    parts, position = [], 0
    while True:
        start = text.find("<", position)
        end = text.find(">", start + 1) if start >= 0 else -1
        if end < 0:
            parts.append(text[position:])
            return " ".join(parts)
        parts.append(text[position:start])
        position = end + 1


def excerpt(text: str, secret: str | None, length: int = EXCERPT_LENGTH) -> str:
    """Server text fit to show: the secret scrubbed first, then tags stripped, spaces folded, and cut."""
    text = " ".join(strip_tags(scrub(text[:EXCERPT_SCAN], secret)).split())
    return text if len(text) <= length else text[:length] + "..."
