# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The download transport's reactions to the object store: what it sends, what it retries, what it leaves behind,
and that a presigned URL never shows in a message."""

from __future__ import annotations

import hashlib
import os

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.module_utils._download import Downloader, Segment
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error

STORE = "https://bucket.s3.store.test/backups/shop.tar"
SIGNATURE = "Zm9vYmFyYmF6cXV4c2lnbmF0dXJl"


def url(name, attempt=1):
    return "%s-%s?AWSAccessKeyId=AKIDEXAMPLE&Expires=%d&Signature=%s" % (
        STORE,
        name,
        attempt,
        SIGNATURE,
    )


class Urls:
    """Fresh URLs for a segment, as the API would hand them out: one more each time."""

    def __init__(self, name):
        self.name, self.given = name, 0

    def __call__(self):
        self.given += 1
        return url(self.name, self.given)


@pytest.fixture
def downloader():
    hidden = []
    loader = Downloader(
        timeout=5,
        retries=2,
        validate_certs=True,
        user_agent="test",
        hide=hidden.append,
        sleep=[].append,
    )
    loader.hidden = hidden
    return loader


def test_segments_are_joined_in_order_without_any_credential(
    api, downloader, tmp_path, monkeypatch
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine bucket.s3.store.test login someone password leaked\n")
    monkeypatch.setenv("NETRC", str(netrc))
    api.add(responses.GET, STORE + "-aa", body=b"first-")
    api.add(responses.GET, STORE + "-ab", body=b"second")

    done = downloader.download(
        [Segment("tar-aa", Urls("aa")), Segment("tar-ab", Urls("ab"))], str(tmp_path)
    )

    with open(done.path, "rb") as stream:
        assert stream.read() == b"first-second"
    assert (done.size, done.sha1, done.requests) == (
        12,
        hashlib.sha1(b"first-second").hexdigest(),
        2,
    )
    assert os.path.dirname(done.path) == str(tmp_path) and os.path.basename(done.path).startswith(
        ".cloud66-backup-"
    )
    assert all("Authorization" not in call.request.headers for call in api.calls)
    assert downloader.hidden == [url("aa"), url("ab")]


def test_a_cut_segment_is_fetched_again_from_its_start_with_a_fresh_url(api, downloader, tmp_path):
    api.add(responses.GET, STORE + "-aa", body=b"first-")
    api.add(responses.GET, STORE + "-ab", body=b"sec", headers={"Content-Length": "6"})
    api.add(responses.GET, STORE + "-ab", body=b"second")
    second = Urls("ab")

    done = downloader.download(
        [Segment("tar-aa", Urls("aa")), Segment("tar-ab", second)], str(tmp_path)
    )

    with open(done.path, "rb") as stream:
        assert stream.read() == b"first-second"
    assert done.sha1 == hashlib.sha1(b"first-second").hexdigest()
    assert second.given == 2 and done.requests == 3


def test_transient_refusals_are_retried_a_bounded_number_of_times_and_leave_nothing(
    api, downloader, tmp_path
):
    api.add(responses.GET, STORE + "-aa", status=503, body=b"<Error><Code>SlowDown</Code></Error>")

    with pytest.raises(Cloud66Error) as failed:
        downloader.download([Segment("tar-aa", Urls("aa"))], str(tmp_path))

    assert failed.value.message == (
        "Downloading file tar-aa (1 of 1) failed: the object store (bucket.s3.store.test) answered HTTP 503: "
        "SlowDown. Gave up after 3 attempts."
    )
    assert len(api.calls) == 3 and os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "status, body, words",
    [
        (
            403,
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
            "<Signature>%s</Signature></Error>" % SIGNATURE,
            "HTTP 403: AccessDenied: Request has expired.",
        ),
        (
            400,
            "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
            "HTTP 400: InvalidArgument: Only one auth mechanism allowed.",
        ),
        (404, "not xml", "HTTP 404."),
    ],
)
def test_a_refusal_fails_at_once_naming_the_stores_reason_never_the_url(
    api, downloader, tmp_path, status, body, words
):
    api.add(responses.GET, STORE + "-aa", body=b"first-")
    api.add(responses.GET, STORE + "-ab", status=status, body=body.encode())

    with pytest.raises(Cloud66Error) as failed:
        downloader.download(
            [Segment("tar-aa", Urls("aa")), Segment("tar-ab", Urls("ab"))], str(tmp_path)
        )

    assert failed.value.message.startswith(
        "Downloading file tar-ab (2 of 2) failed: the object store"
    )
    assert words in failed.value.message
    assert SIGNATURE[:8] not in failed.value.message and "AKID" not in failed.value.message
    assert len(api.calls) == 2 and os.listdir(tmp_path) == []


def test_a_connection_error_never_shows_the_url(api, downloader, tmp_path):
    with pytest.raises(Cloud66Error) as failed:
        downloader.download([Segment("tar-aa", Urls("aa"))], str(tmp_path))

    assert failed.value.message == (
        "Downloading file tar-aa (1 of 1) failed: the object store (bucket.s3.store.test) could not be reached or did "
        "not answer (ConnectionError). Gave up after 3 attempts."
    )
    assert os.listdir(tmp_path) == []
