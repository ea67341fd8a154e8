"""Signature Version 4 verification, as API Gateway checks a route with ``AWS_IAM`` authorization.

The verifier rebuilds the request's canonical form from what arrived and compares HMACs; it never
trusts the client's view of the request. Reference: "Create a signed AWS API request" and "Elements
of an AWS API request signature" (AWS IAM user guide, Signature Version 4):

- canonical URI: the path as received (still percent-encoded), dot segments and repeated slashes
  removed, then percent-encoded once more (every service but S3 "double-encodes");
- canonical query: each name and value decoded as a form is (``+`` is a space: botocore sends a
  space as ``+`` and signs it as ``%20``) and re-encoded with only RFC 3986's unreserved characters
  left bare, sorted by name then value;
- canonical headers: the ``SignedHeaders`` (lower-case, sorted, ``host`` and the date header among
  them), each value trimmed with inner runs of spaces collapsed, repeated fields joined with ``,``;
- payload hash: ``X-Amz-Content-SHA256`` when sent (it must then equal the body's SHA-256, or be
  ``UNSIGNED-PAYLOAD``, which leaves the body outside the signature), else the body's SHA-256;
- date: ``X-Amz-Date``, signed, the same day as the credential scope, and within
  ``MAX_CLOCK_SKEW`` of the server's clock (SigV4 also allows an HTTP ``Date`` instead; every
  SDK, awscurl and curl send ``X-Amz-Date``, so that form is refused here);
- scope: the configured access key id, region, service and ``aws4_request``;
- ``X-Amz-Security-Token`` (temporary credentials) may be sent and must then be signed; its value
  is not checked, as there is no STS locally.

Only the ``Authorization`` header form is accepted, not presigned query strings. Every refusal is
a ``SignatureRejected`` whose message says why, for the local log; the client only ever gets API
Gateway's 403.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_SECRET_ACCESS_KEY",
    "MAX_CLOCK_SKEW",
    "REGION",
    "SERVICE",
    "UNSIGNED_PAYLOAD",
    "Credentials",
    "SignatureRejected",
    "SignedRequest",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "local_credentials",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
REGION = "us-east-1"
MAX_CLOCK_SKEW = timedelta(minutes=5)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_ACCESS_KEY_ID = "AKIDLOCAL"
DEFAULT_SECRET_ACCESS_KEY = "local-secret"
ACCESS_KEY_VARIABLE = "LOCAL_SIGV4_ACCESS_KEY_ID"
SECRET_KEY_VARIABLE = "LOCAL_SIGV4_SECRET_ACCESS_KEY"

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNRESERVED = "-_.~"


class SignatureRejected(Exception):
    """The request is not signed, or not signed right; the message says which part failed."""


@dataclass(frozen=True)
class Credentials:
    """The one key pair the local front accepts."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=...)"


def local_credentials(environment: Mapping[str, str]) -> Credentials:
    """``AKIDLOCAL`` / ``local-secret``, unless ``LOCAL_SIGV4_ACCESS_KEY_ID`` /
    ``LOCAL_SIGV4_SECRET_ACCESS_KEY`` say otherwise."""
    return Credentials(
        access_key_id=environment.get(ACCESS_KEY_VARIABLE) or DEFAULT_ACCESS_KEY_ID,
        secret_access_key=environment.get(SECRET_KEY_VARIABLE) or DEFAULT_SECRET_ACCESS_KEY,
    )


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived: ``raw_path`` and ``raw_query`` exactly as in the request line,
    ``headers`` as received (repeated names repeated)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]

    def value(self, name: str) -> str | None:
        found = self.values(name)
        if len(found) > 1:
            raise SignatureRejected(f"more than one {name} header")
        return found[0] if found else None


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def _parse_authorization(header: str | None) -> _Authorization:
    if header is None:
        raise SignatureRejected("no Authorization header")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRejected(f"Authorization is not {ALGORITHM}")
    components: dict[str, str] = {}
    for part in rest.split(","):
        key, equals, value = part.strip().partition("=")
        if not equals or key in components:
            raise SignatureRejected("malformed Authorization header")
        components[key] = value.strip()
    if set(components) != {"Credential", "SignedHeaders", "Signature"}:
        raise SignatureRejected("Authorization needs exactly Credential, SignedHeaders and Signature")
    scope = components["Credential"].split("/")
    if len(scope) != 5:
        raise SignatureRejected("malformed credential scope")
    signed = tuple(components["SignedHeaders"].split(";"))
    if list(signed) != sorted(set(signed)) or any(name != name.lower() or not name for name in signed):
        raise SignatureRejected("SignedHeaders must be lower-case, sorted and unique")
    if not _HEX_SHA256.fullmatch(components["Signature"]):
        raise SignatureRejected("Signature is not 64 lower-case hex digits")
    access_key_id, date, region, service, terminator = scope
    return _Authorization(access_key_id, date, region, service, terminator, signed, components["Signature"])


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and empty segments dropped too (AWS normalizes ``//`` to ``/``)."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    normalized = "/" + "/".join(output)
    if path.endswith("/") and output:
        normalized += "/"
    return normalized


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a path as it arrived (percent-encoded): normalized, encoded again."""
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def _encode(component: str) -> str:
    return quote(unquote_to_bytes(component.replace("+", " ")), safe=_UNRESERVED)


def canonical_query(raw_query: str) -> str:
    """Names and values decoded and re-encoded (unreserved characters bare), sorted."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _trim(value: str) -> str:
    return " ".join(value.split())


def canonical_request(request: SignedRequest, signed_headers: Sequence[str], payload_hash: str) -> str:
    lines = []
    for name in signed_headers:
        values = request.values(name)
        if not values:
            raise SignatureRejected(f"signed header {name} is not in the request")
        lines.append(f"{name}:{','.join(_trim(value) for value in values)}\n")
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def _payload_hash(request: SignedRequest) -> str:
    declared = request.value("x-amz-content-sha256")
    if declared == UNSIGNED_PAYLOAD:
        return declared
    actual = hashlib.sha256(request.body).hexdigest()
    if declared is None:
        return actual
    if not _HEX_SHA256.fullmatch(declared):
        raise SignatureRejected("X-Amz-Content-SHA256 is neither a SHA-256 nor UNSIGNED-PAYLOAD")
    if not hmac.compare_digest(declared, actual):
        raise SignatureRejected("X-Amz-Content-SHA256 does not match the body")
    return declared


def _request_time(request: SignedRequest, signed_headers: Sequence[str]) -> tuple[str, datetime]:
    """The request's ``X-Amz-Date``, as written in the string to sign and as a time."""
    amz_date = request.value("x-amz-date")
    if amz_date is None:
        raise SignatureRejected("no X-Amz-Date")
    if "x-amz-date" not in signed_headers:
        raise SignatureRejected("X-Amz-Date is not signed")
    try:
        when = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected("X-Amz-Date is not YYYYMMDDTHHMMSSZ") from None
    return amz_date, when


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(
    request: SignedRequest,
    credentials: Credentials,
    *,
    now: datetime,
    region: str = REGION,
    service: str = SERVICE,
) -> str:
    """Check ``request``'s signature; return the access key id it was signed with.

    Raises ``SignatureRejected`` for anything short of a valid signature by ``credentials`` for
    ``service`` in ``region``, made within ``MAX_CLOCK_SKEW`` of ``now``.
    """
    authorization = _parse_authorization(request.value("authorization"))
    if authorization.access_key_id != credentials.access_key_id:
        raise SignatureRejected("unknown access key id")
    if (authorization.region, authorization.service, authorization.terminator) != (
        region,
        service,
        "aws4_request",
    ):
        raise SignatureRejected(f"credential scope is not {region}/{service}/aws4_request")
    if "host" not in authorization.signed_headers:
        raise SignatureRejected("Host is not signed")
    if request.value("x-amz-security-token") is not None and (
        "x-amz-security-token" not in authorization.signed_headers
    ):
        raise SignatureRejected("X-Amz-Security-Token is not signed")
    timestamp, when = _request_time(request, authorization.signed_headers)
    if timestamp[:8] != authorization.date:
        raise SignatureRejected("credential scope date is not the request's date")
    if abs(now - when) > MAX_CLOCK_SKEW:
        raise SignatureRejected("signature expired or not yet valid (more than 5 minutes from now)")

    canonical = canonical_request(request, authorization.signed_headers, _payload_hash(request))
    scope = f"{authorization.date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _signing_key(credentials.secret_access_key, authorization.date, region, service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, authorization.signature):
        raise SignatureRejected("signature does not match")
    return authorization.access_key_id
