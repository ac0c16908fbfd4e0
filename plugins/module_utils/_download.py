# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Downloading file segments from presigned object-store URLs into one file. Private to this collection.

A presigned URL carries its own authorization in its query string, so the Cloud66 token must never go with it, and
the URL itself is a secret: it is never put into a message, and callers hide it from Ansible's output (``hide``).
The segments are streamed in chunks, in order, into one temporary file beside the destination; the caller renames
it into place once every segment is complete. A segment cut short, or refused with a transient status, is
requested again from its start with a fresh URL, a bounded number of times.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._errors import Cloud66Error, excerpt

try:
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:  # _module.py reports the missing library before this is used
    pass

CHUNK = 256 * 1024
# How much of an error answer is read, for its code and message.
ERROR_BODY_BYTES = 64 * 1024
TRANSIENT_STATUSES = frozenset([408, 429, 500, 502, 503, 504])
XML_FIELD = "<%s>([^<]{0,300})</%s>"


@dataclass
class Segment:
    """One file of a backup: its ``label`` for messages, and how to get a fresh URL for it (an API request)."""

    label: str
    fresh_url: Callable[[], str]


@dataclass
class Downloaded:
    """A complete temporary file: where it is, its size and SHA-1, and how many object-store requests it took."""

    path: str
    size: int
    sha1: str
    requests: int


class _Retry(Exception):
    """A segment that may succeed when requested again; its message is safe to show."""


class _Refused(Exception):
    """A segment the object store refused for good; its message is safe to show."""


def plain_session(user_agent: str) -> requests.Session:
    """A session for presigned URLs: no Authorization header, and none of the environment's credentials either
    (``trust_env`` off: no .netrc). Proxies and CA bundles from the environment are applied per request instead."""
    session = requests.Session()
    session.trust_env = False
    session.headers.clear()
    session.headers.update(
        {"User-Agent": user_agent, "Accept": "*/*", "Accept-Encoding": "identity"}
    )
    return session


def _verify(validate_certs: bool) -> bool | str:
    if not validate_certs:
        return False
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def store_message(data: bytes) -> str:
    """The code and message of an object store's XML error (never its other fields, which may echo the request)."""
    body = data.decode("utf-8", "replace")
    fields = []
    for name in ("Code", "Message"):
        found = re.search(XML_FIELD % (name, name), body)
        if found:
            fields.append(found.group(1).strip())
    return ": ".join(fields)


class Downloader:
    """Streams segments into one temporary file. ``timeout`` bounds the connection and every wait for more data;
    ``retries`` is how often one segment is requested again; ``hide(url)`` is called with every URL before it is
    used."""

    def __init__(
        self,
        timeout: float,
        retries: int,
        validate_certs: bool,
        user_agent: str,
        hide: Callable[[str], None],
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 1.0,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = validate_certs
        self.hide = hide
        self.session = session if session is not None else plain_session(user_agent)
        self.sleep = sleep
        self.backoff_base = backoff_base
        self.requests = 0

    def download(self, segments: list[Segment], folder: str) -> Downloaded:
        """Every segment, in order, into one new temporary file in ``folder``; nothing is left behind on failure."""
        handle, path = tempfile.mkstemp(dir=folder, prefix=".cloud66-backup-", suffix=".part")
        digest = hashlib.sha1()
        try:
            with os.fdopen(handle, "wb") as out:
                for number, segment in enumerate(segments, start=1):
                    digest = self._segment(segment, number, len(segments), out, digest)
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
        except BaseException:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        return Downloaded(path, size, digest.hexdigest(), self.requests)

    def _segment(self, segment: Segment, number: int, total: int, out: Any, digest: Any) -> Any:
        what = "file %s (%d of %d)" % (segment.label, number, total)
        start, saved = out.tell(), digest.copy()
        attempt = 0
        while True:
            attempt += 1
            url = segment.fresh_url()
            self.hide(url)
            try:
                self._stream(url, out, digest)
                return digest
            except _Refused as exc:
                raise Cloud66Error("Downloading %s failed: %s" % (what, exc)) from None
            except _Retry as exc:
                if attempt > self.retries:
                    raise Cloud66Error(
                        "Downloading %s failed: %s Gave up after %d attempts."
                        % (what, exc, attempt),
                        transient=True,
                        attempts=attempt,
                    ) from None
                out.seek(start)
                out.truncate()
                digest = saved.copy()
                ceiling = min(30.0, self.backoff_base * 2 ** (attempt - 1))
                self.sleep(random.uniform(ceiling / 2, ceiling))

    def _stream(self, url: str, out: Any, digest: Any) -> None:
        """One request of ``url`` into ``out``; raises _Retry or _Refused with a message that never holds the URL."""
        host = urlsplit(url).hostname or "?"
        store = "the object store (%s)" % host
        self.requests += 1
        try:
            proxies = requests.utils.get_environ_proxies(url)
            response = self.session.get(
                url,
                stream=True,
                timeout=self.timeout,
                verify=_verify(self.validate_certs),
                proxies=proxies,
            )
        except requests.exceptions.SSLError as exc:
            raise _Refused(
                "TLS verification of %s failed (%s). Check the CA bundle (REQUESTS_CA_BUNDLE)."
                % (store, exc.__class__.__name__)
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _Retry(
                "%s could not be reached or did not answer (%s)." % (store, exc.__class__.__name__)
            ) from None
        except requests.exceptions.RequestException as exc:
            raise _Refused(
                "the request to %s failed (%s)." % (store, exc.__class__.__name__)
            ) from None
        try:
            if response.status_code != 200:
                said = store_message(
                    response.raw.read(ERROR_BODY_BYTES, decode_content=True) or b""
                )
                said = excerpt(said, urlsplit(url).query) if said else ""
                reason = "%s answered HTTP %d%s" % (
                    store,
                    response.status_code,
                    ": %s" % said if said else "",
                )
                if response.status_code in TRANSIENT_STATUSES:
                    raise _Retry(reason + ".")
                hint = ""
                if response.status_code in (400, 403):
                    hint = (
                        " The download URL Cloud66 gave was refused: it may have expired, or a proxy changed "
                        "the request."
                    )
                raise _Refused(reason + "." + hint)
            expected = response.headers.get("Content-Length")
            received = 0
            while True:
                try:
                    chunk = response.raw.read(CHUNK, decode_content=False)
                except (Urllib3Error, OSError, ValueError) as exc:
                    raise _Retry(
                        "the answer of %s was cut off (%s)." % (store, exc.__class__.__name__)
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
            if expected is not None and expected.strip().isdigit() and received < int(expected):
                raise _Retry(
                    "the answer of %s was cut off after %d of %s bytes."
                    % (store, received, expected.strip())
                )
        finally:
            response.close()
