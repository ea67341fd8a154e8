"""infra.local_stack.sigv4 without a server: AWS's published signatures verify, requests signed by
botocore verify, and every way a request can be unsigned, mis-signed or stale is refused."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from infra.local_stack import sigv4

LOCAL = sigv4.Credentials("AKIDLOCAL", "local-secret")
HOST = "127.0.0.1:3000"

# AWS's documented example key pair and time ("Signature Version 4 test suite", and the IAM
# ListUsers example of "Create a signed AWS API request").
EXAMPLE = sigv4.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EXAMPLE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def botocore_signed(
    method: str,
    target: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    key: str = LOCAL.access_key_id,
    secret: str = LOCAL.secret_access_key,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
    payload_signing: bool = True,
) -> tuple[sigv4.SignedRequest, datetime]:
    """A request signed by botocore (AWS's own signer), as the front would receive it, and when
    it was signed. Without ``payload_signing`` botocore signs ``UNSIGNED-PAYLOAD`` (it does so
    only for https URLs; the scheme is not part of the signature)."""
    scheme = "http" if payload_signing else "https"
    request = AWSRequest(
        method=method, url=f"{scheme}://{HOST}{target}", data=body, headers=headers or {}, params=params or {}
    )
    request.context["payload_signing_enabled"] = payload_signing
    SigV4Auth(BotocoreCredentials(key, secret, token), service, region).add_auth(request)
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    received = [("Host", HOST), *((name, str(value)) for name, value in prepared.headers.items())]
    signed_at = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return sigv4.SignedRequest(method, url.path, url.query, received, prepared.body or b""), signed_at


def with_header(request: sigv4.SignedRequest, name: str, value: str) -> sigv4.SignedRequest:
    """``request`` with header ``name`` set to ``value`` (replaced if present, else added)."""
    kept = [(key, old) for key, old in request.headers if key.lower() != name.lower()]
    return replace(request, headers=[*kept, (name, value)])


def test_aws_published_get_vanilla_signature_verifies() -> None:
    # Given the test suite's get-vanilla request and its published signature
    request = sigv4.SignedRequest(
        "GET",
        "/",
        "",
        [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ],
        b"",
    )
    # Then its canonical request is the suite's, and the signature verifies
    assert sigv4.canonical_request(request, ["host", "x-amz-date"], EMPTY_SHA256) == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        + EMPTY_SHA256
    )
    assert sigv4.verify(request, EXAMPLE, now=EXAMPLE_TIME, service="service") == "AKIDEXAMPLE"


def test_aws_published_query_request_signature_verifies() -> None:
    # Given the IAM ListUsers example: a query string and a signed content-type
    request = sigv4.SignedRequest(
        "GET",
        "/",
        "Action=ListUsers&Version=2010-05-08",
        [
            ("Host", "iam.amazonaws.com"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        ],
        b"",
    )
    assert sigv4.verify(request, EXAMPLE, now=EXAMPLE_TIME, service="iam") == "AKIDEXAMPLE"


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("", "/"),
        ("/v1/connections", "/v1/connections"),
        ("/v1/a%20b", "/v1/a%2520b"),  # already encoded on the wire: encoded once more
        ("/v1/caf%C3%A9", "/v1/caf%25C3%25A9"),
        ("/v1/./a/../b", "/v1/b"),
        ("/v1//a/", "/v1/a/"),
        ("/v1/a:b~c", "/v1/a%3Ab~c"),
    ],
)
def test_canonical_uri(raw_path: str, expected: str) -> None:
    assert sigv4.canonical_uri(raw_path) == expected


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("Param-3=3&Param=2&%E1%80%80=1", "%E1%80%80=1&Param=2&Param-3=3"),  # by name, not "name=value"
        ("q=hello+world&r=hello%20world", "q=hello%20world&r=hello%20world"),
        ("x=%7e&y=~&z=%2b", "x=~&y=~&z=%2B"),
        ("flag&a=", "a=&flag="),
    ],
)
def test_canonical_query(raw_query: str, expected: str) -> None:
    assert sigv4.canonical_query(raw_query) == expected


def test_botocore_signed_get_with_query_verifies() -> None:
    # Given a GET with a query string (a space, a non-ASCII value, a repeated key) signed by botocore
    request, signed_at = botocore_signed(
        "GET", "/v1/connections", params={"external_user_id": "user 42", "q": "café", "a": "1"}
    )
    # Then it verifies, and the key id it was signed with is returned
    assert sigv4.verify(request, LOCAL, now=signed_at) == "AKIDLOCAL"


def test_botocore_signed_post_with_json_body_and_session_token_verifies() -> None:
    # Given a POST with a JSON body, signed with temporary credentials (a session token)
    request, signed_at = botocore_signed(
        "POST",
        "/v1/connect-links",
        body=b'{"external_user_id": "42"}',
        headers={"Content-Type": "application/json"},
        token="FQoGZXIvYXdzEXAMPLEsessiontoken",
    )
    assert dict(request.headers)["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLEsessiontoken"
    # Then it verifies: any session token is accepted with the local key pair
    assert sigv4.verify(request, LOCAL, now=signed_at) == "AKIDLOCAL"


def test_a_declared_payload_hash_must_match_the_body() -> None:
    # Given a request that declares its body's SHA-256 (signed, as an x-amz-* header)
    body = b'{"a": 1}'
    request, signed_at = botocore_signed(
        "POST", "/v1/echo", body=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    )
    assert sigv4.verify(request, LOCAL, now=signed_at) == "AKIDLOCAL"
    # When the body is replaced (the declared hash, and so the signature, unchanged)
    tampered = replace(request, body=b'{"a": 2}')
    # Then it is refused for the hash, before the signature is even compared
    with pytest.raises(sigv4.SignatureRejected, match="does not match the body"):
        sigv4.verify(tampered, LOCAL, now=signed_at)


def test_unsigned_payload_leaves_the_body_out_of_the_signature() -> None:
    # Given a request botocore signed with UNSIGNED-PAYLOAD as its payload hash, saying so in its
    # (signed) X-Amz-Content-SHA256
    request, signed_at = botocore_signed(
        "POST",
        "/v1/echo",
        body=b"original",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
        payload_signing=False,
    )
    # Then it verifies whatever the body is
    assert sigv4.verify(request, LOCAL, now=signed_at) == "AKIDLOCAL"
    assert sigv4.verify(replace(request, body=b"anything else"), LOCAL, now=signed_at) == "AKIDLOCAL"
    # But without the header, the same signature covers a hash of the body, and no longer matches
    undeclared = replace(request, headers=[(k, v) for k, v in request.headers if k != "X-Amz-Content-SHA256"])
    with pytest.raises(sigv4.SignatureRejected):
        sigv4.verify(undeclared, LOCAL, now=signed_at)


def _refusal_cases() -> dict[str, tuple[sigv4.SignedRequest, datetime, str]]:
    get, get_at = botocore_signed("GET", "/v1/echo", params={"a": "1"}, headers={"X-Custom": "signed"})
    post, post_at = botocore_signed(
        "POST", "/v1/echo", body=b'{"a": 1}', headers={"Content-Type": "application/json"}
    )
    token, token_at = botocore_signed("GET", "/v1/echo", token="session-token")
    other_service, other_service_at = botocore_signed("GET", "/v1/echo", service="execute-apix")
    other_region, other_region_at = botocore_signed("GET", "/v1/echo", region="eu-west-1")
    other_key, other_key_at = botocore_signed("GET", "/v1/echo", key="AKIDOTHER")
    wrong_secret, wrong_secret_at = botocore_signed("GET", "/v1/echo", secret="not-the-secret")
    authorization = dict(get.headers)["Authorization"]
    return {
        "unsigned": (
            replace(get, headers=[(k, v) for k, v in get.headers if k != "Authorization"]),
            get_at,
            "no Authorization",
        ),
        "wrong secret": (wrong_secret, wrong_secret_at, "signature does not match"),
        "unknown access key id": (other_key, other_key_at, "unknown access key id"),
        "other service": (other_service, other_service_at, "credential scope"),
        "other region": (other_region, other_region_at, "credential scope"),
        "tampered body": (replace(post, body=b'{"a": 2}'), post_at, "signature does not match"),
        "tampered query": (replace(get, raw_query="a=2"), get_at, "signature does not match"),
        "added query parameter": (replace(get, raw_query="a=1&b=2"), get_at, "signature does not match"),
        "tampered path": (replace(get, raw_path="/v1/echo2"), get_at, "signature does not match"),
        "tampered method": (replace(get, method="DELETE"), get_at, "signature does not match"),
        "tampered signed header": (
            with_header(get, "X-Custom", "changed"),
            get_at,
            "signature does not match",
        ),
        "tampered host": (with_header(get, "Host", "evil.example"), get_at, "signature does not match"),
        "signed header removed": (
            replace(get, headers=[(k, v) for k, v in get.headers if k != "X-Custom"]),
            get_at,
            "x-custom is not in the request",
        ),
        "tampered signature": (
            with_header(
                get, "Authorization", authorization[:-1] + ("0" if authorization[-1] != "0" else "1")
            ),
            get_at,
            "signature does not match",
        ),
        "tampered session token": (
            with_header(token, "X-Amz-Security-Token", "other-token"),
            token_at,
            "signature does not match",
        ),
        "session token added unsigned": (
            with_header(get, "X-Amz-Security-Token", "session-token"),
            get_at,
            "X-Amz-Security-Token is not signed",
        ),
        "6 minutes later": (get, get_at + timedelta(minutes=6), "more than 5 minutes"),
        "6 minutes earlier": (get, get_at - timedelta(minutes=6), "more than 5 minutes"),
        "scope date not the request's": (
            with_header(get, "Authorization", authorization.replace(f"/{get_at:%Y%m%d}/", "/20150830/")),
            get_at,
            "credential scope date",
        ),
        "another algorithm": (
            with_header(
                get, "Authorization", authorization.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
            ),
            get_at,
            "is not AWS4-HMAC-SHA256",
        ),
        "host not signed": (
            with_header(get, "Authorization", authorization.replace("host;", "")),
            get_at,
            "Host is not signed",
        ),
        "unsorted signed headers": (
            with_header(get, "Authorization", authorization.replace("host;x-amz-date", "x-amz-date;host")),
            get_at,
            "sorted",
        ),
        "malformed authorization": (
            with_header(get, "Authorization", "AWS4-HMAC-SHA256 nonsense"),
            get_at,
            "malformed",
        ),
        "streaming payload": (
            with_header(post, "X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            post_at,
            "neither a SHA-256 nor UNSIGNED-PAYLOAD",
        ),
        "X-Amz-Date not signed": (
            with_header(get, "Authorization", authorization.replace(";x-amz-date", "")),
            get_at,
            "X-Amz-Date is not signed",
        ),
        "no date": (
            replace(get, headers=[(k, v) for k, v in get.headers if k != "X-Amz-Date"]),
            get_at,
            "no X-Amz-Date",
        ),
    }


REFUSALS = _refusal_cases()


@pytest.mark.parametrize(("request_", "now", "reason"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refused(request_: sigv4.SignedRequest, now: datetime, reason: str) -> None:
    with pytest.raises(sigv4.SignatureRejected, match=reason):
        sigv4.verify(request_, LOCAL, now=now)


def test_within_five_minutes_either_way_is_accepted() -> None:
    request, signed_at = botocore_signed("GET", "/v1/echo")
    for skew in (timedelta(minutes=-5), timedelta(minutes=4, seconds=59), timedelta(minutes=5)):
        assert sigv4.verify(request, LOCAL, now=signed_at + skew) == "AKIDLOCAL"


def test_the_refusal_reason_never_carries_the_secret_or_the_signature() -> None:
    request, signed_at = botocore_signed("GET", "/v1/echo", secret="not-the-secret")
    signature = dict(request.headers)["Authorization"].rsplit("=", 1)[1]
    with pytest.raises(sigv4.SignatureRejected) as refused:
        sigv4.verify(request, LOCAL, now=signed_at)
    assert "local-secret" not in str(refused.value)
    assert signature not in str(refused.value)


def test_local_credentials_default_and_override() -> None:
    assert sigv4.local_credentials({}) == sigv4.Credentials("AKIDLOCAL", "local-secret")
    overridden = sigv4.local_credentials(
        {"LOCAL_SIGV4_ACCESS_KEY_ID": "AKIDMINE", "LOCAL_SIGV4_SECRET_ACCESS_KEY": "mine"}
    )
    assert overridden == sigv4.Credentials("AKIDMINE", "mine")
    assert "mine" not in repr(overridden).replace("AKIDMINE", "")
