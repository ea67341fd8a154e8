"""The document's reusable parts: schemas, parameters, security schemes and response builders.

Limits and patterns come from the layer's own validation code (`gmail_connect.api`), so the
document states exactly what the handlers accept and cannot drift from it. The compiled
patterns are private there (only validation uses them) and are read here on purpose;
`tests/unit/test_openapi_contract.py` checks the translation into JSON Schema at each limit. A route in
`routes.py` is built from these helpers; `components()` is what ends up under `components`.
"""

from __future__ import annotations

import re
from typing import Any

from gmail_connect.api import connect_link_request, connections, inputs, mail_reads, messages
from gmail_connect.api.web import OAUTH_COOKIE, SESSION_COOKIE
from gmail_connect.core import opaque_tokens
from gmail_connect.core.account_status import CONNECTED, REAUTHORIZATION_REQUIRED

Json = dict[str, Any]

# Security schemes (components.securitySchemes) and what each kind of route requires.
SIGV4 = "sigv4"
SESSION_BEARER = "sessionBearer"
SESSION_COOKIE_SCHEME = "sessionCookie"
PUSH_OIDC = "pubsubOidc"
SESSION_SECURITY: list[Json] = [{SESSION_COOKIE_SCHEME: []}, {SESSION_BEARER: []}]
PUSH_SECURITY: list[Json] = [{PUSH_OIDC: []}]
APPLICATION_SECURITY: list[Json] = [{SIGV4: []}]
PUBLIC_SECURITY: list[Json] = []

JSON_MEDIA = "application/json"
HTML_MEDIA = "text/html"


def ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> Json:
    return ref("schemas", name)


def anchored(pattern: re.Pattern[str]) -> str:
    """A pattern the code applies with `fullmatch`, anchored: JSON Schema's `pattern` searches."""
    source = pattern.pattern
    return source if source.startswith("^") and source.endswith("$") else f"^(?:{source})$"


def or_empty(pattern: re.Pattern[str]) -> str:
    """`pattern`, or the empty string (which the code takes as the parameter's absence)."""
    return f"^(?:{anchored(pattern)[1:-1]})?$"


# What `inputs.query_params` refuses in any parameter: control characters, and more than this.
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x1f]*$"
# A connect link's token (`opaque_tokens.new_token`); anything else is refused as an invalid link.
TOKEN_PATTERN = anchored(opaque_tokens._TOKEN_SHAPE)
CONNECTION_ID_PATTERN = anchored(connections._CONNECTION_ID)
GMAIL_ID_PATTERN = anchored(mail_reads._GMAIL_ID)
PART_ID_PATTERN = anchored(mail_reads._PART_ID)
HISTORY_ID = {"type": ["string", "null"], "pattern": "^[0-9]+$"}
EXTERNAL_USER_ID_PATTERN = anchored(connections._EXTERNAL_USER_ID)
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
ERROR_CODE = {"type": "string", "pattern": "^[a-z_]+$"}


def _object(properties: Json, *, required: list[str] | None = None, **extra: Any) -> Json:
    """An object we produce: exactly these properties (all required unless told), nothing else."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


SCHEMAS: dict[str, Json] = {
    "Error": _object(
        {"error": ERROR_CODE, "message": {"type": "string", "minLength": 1}},
        description="Every refusal of a JSON route: a stable code and a message safe to show.",
    ),
    "ReauthorizationRequired": _object(
        {
            "error": {"const": REAUTHORIZATION_REQUIRED},
            "message": {"type": "string", "minLength": 1},
            "authorization_url": {"type": "string", "format": "uri"},
        },
        description=(
            "Google no longer accepts the stored grant. Send the user's browser to "
            "`authorization_url` (this API's authorize route, consent forced) to reconnect."
        ),
    ),
    "ServiceUnavailable": _object(
        {
            "error": {"enum": ["service_unavailable", "google_unavailable", "client_not_configured"]},
            "message": {"type": "string", "minLength": 1},
            "retry_after": {"type": "integer", "minimum": 0, "description": "Seconds; also `Retry-After`."},
        },
        required=["error", "message"],
        description=(
            "Google or an AWS service could not be reached past the retries, or the Google client "
            "is not configured yet (`client_not_configured`). Retry later."
        ),
    ),
    "ApiGatewayMessage": _object(
        {"message": {"type": "string"}},
        description="API Gateway's own answer (the request never reached a function).",
    ),
    "Scopes": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "Account": {
        **_object(
            {
                "user_id": {"type": "string", "minLength": 1, "description": "Google's stable user id."},
                "email": {"type": "string", "format": "email"},
                "scopes": schema("Scopes"),
                "status": schema("ConnectionStatus"),
                "connected_at": TIMESTAMP,
                "last_sync_at": NULLABLE_TIMESTAMP,
                "reauthorization": _object(
                    {
                        "reason": {"type": ["string", "null"]},
                        "since": NULLABLE_TIMESTAMP,
                        "authorization_url": {"type": "string", "format": "uri"},
                    }
                ),
            },
            required=["user_id", "email", "scopes", "status", "connected_at", "last_sync_at"],
        ),
        "description": "The signed-in user's connection.",
        "if": {"properties": {"status": {"const": REAUTHORIZATION_REQUIRED}}},
        "then": {"required": ["reauthorization"]},
        "else": {"not": {"required": ["reauthorization"]}},
    },
    "ConnectionStatus": {
        "enum": [CONNECTED, REAUTHORIZATION_REQUIRED],
        "description": "`reauthorization_required`: Google no longer accepts the grant.",
    },
    "Connection": {
        **_object(
            {
                "connection_id": {"type": "string", "pattern": CONNECTION_ID_PATTERN},
                "external_user_id": {
                    "type": ["string", "null"],
                    "description": "The application's id for its user; null when connected in the browser.",
                },
                "email": {"type": "string", "format": "email"},
                "status": schema("ConnectionStatus"),
                "scopes": schema("Scopes"),
                "connected_at": TIMESTAMP,
                "last_sync_at": NULLABLE_TIMESTAMP,
                "reauthorization": _object(
                    {"reason": {"type": ["string", "null"]}, "since": NULLABLE_TIMESTAMP}
                ),
            },
            required=[
                "connection_id",
                "external_user_id",
                "email",
                "status",
                "scopes",
                "connected_at",
                "last_sync_at",
            ],
        ),
        "description": "One Gmail account connected for the application; never a token.",
        "if": {"properties": {"status": {"const": REAUTHORIZATION_REQUIRED}}},
        "then": {"required": ["reauthorization"]},
        "else": {"not": {"required": ["reauthorization"]}},
    },
    "ConnectionList": _object({"connections": {"type": "array", "items": schema("Connection")}}),
    "ConnectLink": _object(
        {
            "url": {
                "type": "string",
                "format": "uri",
                "description": "Send the user's browser here; single use.",
            },
            "expires_at": TIMESTAMP,
        }
    ),
    "ConnectLinkRequest": _object(
        {
            "external_user_id": {
                "type": "string",
                "pattern": EXTERNAL_USER_ID_PATTERN,
                "description": "Your id for your user: 1-128 printable ASCII characters.",
            },
            "return_url": {
                "type": "string",
                "format": "uri",
                "maxLength": connect_link_request.MAX_RETURN_URL,
                "description": (
                    "Where the browser returns, with `connection_id` and `status=connected` or with "
                    "`error`: an https URL on an origin of the `AllowedReturnOrigins` parameter "
                    "(locally also `http://127.0.0.1:<port>` and `http://localhost:<port>`), "
                    "printable ASCII, no credentials, no fragment."
                ),
            },
            "login_hint": {
                "type": ["string", "null"],
                "pattern": or_empty(inputs._EMAIL),
                "description": "Pre-selects this Google account on the consent page.",
            },
        },
        required=["external_user_id", "return_url"],
        description=f"At most {connect_link_request.MAX_BODY_BYTES} bytes of JSON; no other field.",
    ),
    "MessageRef": _object({"id": {"type": "string", "minLength": 1}, "threadId": {"type": "string"}}),
    "MessageMetadata": _object(
        {
            "id": {"type": "string", "minLength": 1},
            "threadId": {"type": ["string", "null"]},
            "labelIds": {"type": "array", "items": {"type": "string"}},
            "snippet": {"type": "string"},
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "date": {"type": ["string", "null"], "description": "The Date header as sent."},
            "internalDate": {
                "type": ["string", "null"],
                "pattern": "^[0-9]+$",
                "description": "When Gmail received it, in milliseconds since the epoch.",
            },
        },
        description="A message with `include=metadata`: ids, labels, snippet and four headers.",
    ),
    "MessagesPage": _object(
        {
            "messages": {
                "type": "array",
                "items": {"oneOf": [schema("MessageRef"), schema("MessageMetadata")]},
            },
            "nextPageToken": {"type": "string", "minLength": 1},
            "resultSizeEstimate": {"type": "integer", "minimum": 0},
        },
        required=["messages", "resultSizeEstimate"],
        description="One page of the mailbox, newest first; `nextPageToken` when there is more.",
    ),
    "ThreadsPage": _object(
        {
            "threads": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "string", "minLength": 1},
                        "snippet": {"type": "string"},
                        "historyId": HISTORY_ID,
                    }
                ),
            },
            "nextPageToken": {"type": "string", "minLength": 1},
            "resultSizeEstimate": {"type": "integer", "minimum": 0},
        },
        required=["threads", "resultSizeEstimate"],
        description="One page of conversations; `nextPageToken` when there is more.",
    ),
    "Thread": _object(
        {
            "id": {"type": "string", "minLength": 1},
            "historyId": HISTORY_ID,
            "messages": {"type": "array", "items": schema("MessageMetadata")},
        },
        description="A conversation, each message as `include=metadata` shows it.",
    ),
    "Message": _object(
        {
            "id": {"type": "string", "minLength": 1},
            "threadId": {"type": ["string", "null"]},
            "labelIds": {"type": "array", "items": {"type": "string"}},
            "snippet": {"type": "string"},
            "internalDate": {"type": ["string", "null"], "pattern": "^[0-9]+$"},
            "headers": _object(
                {
                    name: {"type": ["string", "null"]}
                    for name in ("from", "to", "cc", "subject", "date", "message_id", "in_reply_to")
                },
                description="The first of each header, decoded; null when the message has none.",
            ),
            "text": {
                "type": ["string", "null"],
                "description": "The best text/plain body (with HTML only, its text); null without a body.",
            },
            "html": {
                "type": ["string", "null"],
                "description": "The text/html body, sanitised: no script, form, frame or event handler.",
            },
            "attachments": {"type": "array", "items": schema("MessageAttachment")},
            "truncated": {"type": "boolean", "description": "`text` or `html` was cut at 1 MB."},
        },
        description="A whole message: headers, text, sanitised HTML, attachments.",
    ),
    "MessageAttachment": _object(
        {
            "attachment_id": {
                "type": "string",
                "pattern": PART_ID_PATTERN,
                "description": "The MIME part id (stable, unlike Gmail's attachment ids).",
            },
            "filename": {"type": "string"},
            "mime_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 0},
            "inline": {"type": "boolean"},
            "content_id": {"type": ["string", "null"]},
        }
    ),
    "AttachmentDownload": _object(
        {
            "url": {
                "type": "string",
                "format": "uri",
                "description": "A presigned URL of the bytes, valid at most 5 minutes.",
            },
            "filename": {"type": "string", "minLength": 1},
            "mime_type": {"type": "string", "minLength": 1},
            "size": {"type": "integer", "minimum": 0},
            "expires_at": TIMESTAMP,
        }
    ),
    "PushEnvelope": {
        "type": "object",
        "description": (
            'Pub/Sub\'s push JSON around Gmail\'s `{"emailAddress", "historyId"}` (base64 in '
            "`message.data`). Anything else an authentic request carries is acknowledged and dropped."
        ),
        "properties": {
            "message": {
                "type": "object",
                "properties": {"data": {"type": "string"}, "messageId": {"type": "string"}},
            },
            "subscription": {"type": "string"},
        },
    },
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\.[0-9]+$"}},
        "description": "This document.",
    },
}

SECURITY_SCHEMES: dict[str, Json] = {
    PUSH_OIDC: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "The OIDC token of the Pub/Sub push subscription (signed by Google; audience, issuer and "
            "service account checked): only Pub/Sub calls this route (docs/push.md)."
        ),
    },
    SIGV4: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": (
            "AWS Signature Version 4 (API Gateway's AWS_IAM authorization): sign every request for "
            "service `execute-api` in the stack's region with credentials allowed "
            "`execute-api:Invoke` on the API (botocore's `SigV4Auth`, aws-requests-auth, awscurl, "
            "`curl --aws-sigv4`). Locally: access key id `AKIDLOCAL`, secret `local-secret`, region "
            '`us-east-1`. Unsigned, badly signed or stale: 403 `{"message": "Forbidden"}`.'
        ),
    },
    SESSION_COOKIE_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": f"__Host-{SESSION_COOKIE}",
        "description": (
            "The session the callback sets in the browser (HttpOnly, SameSite=Lax). Served over "
            f"plain http (`make local`) it is named `{SESSION_COOKIE}` instead."
        ),
    },
    SESSION_BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "The same session token, for an app that holds it: `Authorization: Bearer <token>`.",
    },
}


# --- parameters ---------------------------------------------------------------------------------


def query(name: str, description: str, value: Json, *, required: bool = False, **extra: Any) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": value,
        **extra,
    }


def text(max_length: int = inputs.MAX_PARAM_LENGTH, **extra: Any) -> Json:
    """A query string value as `inputs.query_params` takes it: no control characters, bounded."""
    return {"type": "string", "maxLength": max_length, "pattern": NO_CONTROL_CHARACTERS, **extra}


PARAMETERS: dict[str, Json] = {
    "MessageId": {
        "name": "message_id",
        "in": "path",
        "required": True,
        "description": "A message id, as a page of messages lists it.",
        "schema": {"type": "string", "pattern": GMAIL_ID_PATTERN},
    },
    "ThreadId": {
        "name": "thread_id",
        "in": "path",
        "required": True,
        "description": "A thread id, as a page of threads (or a message's `threadId`) gives it.",
        "schema": {"type": "string", "pattern": GMAIL_ID_PATTERN},
    },
    "AttachmentId": {
        "name": "attachment_id",
        "in": "path",
        "required": True,
        "description": "An `attachment_id` of the message: its MIME part id, such as `2` or `1.3`.",
        "schema": {"type": "string", "pattern": PART_ID_PATTERN},
    },
    "ConnectionId": {
        "name": "connection_id",
        "in": "path",
        "required": True,
        "description": "A connection, as `GET /v1/connections` lists it (`conn_` + 24 hex digits).",
        "schema": {"type": "string", "pattern": CONNECTION_ID_PATTERN},
    },
    "Q": query(
        "q",
        "Gmail search syntax (`from:ann is:unread`).",
        text(messages.MAX_Q),
    ),
    "PageToken": query(
        "pageToken",
        "`nextPageToken` of the previous page.",
        {
            "type": "string",
            "minLength": 1,
            "maxLength": messages.MAX_PAGE_TOKEN,
            "pattern": anchored(messages._PAGE_TOKEN),
        },
    ),
    "MaxResults": query(
        "maxResults",
        "Messages per page.",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": messages.MAX_RESULTS,
            "default": messages.DEFAULT_MAX_RESULTS,
        },
    ),
    "LabelIds": query(
        "labelIds",
        "Only messages with all these labels (comma-separated label ids, such as `INBOX,UNREAD`).",
        {
            "type": "array",
            "minItems": 1,
            "maxItems": messages.MAX_LABELS,
            "items": {"type": "string", "pattern": anchored(messages._LABEL)},
        },
        style="form",
        explode=False,
    ),
    "Include": query(
        "include",
        "`metadata`: each message also carries its labels, snippet, four headers and date.",
        {"enum": ["metadata"]},
    ),
    "OAuthCookie": {
        "name": f"__Host-{OAUTH_COOKIE}",
        "in": "cookie",
        "required": True,
        "description": (
            "Set by `GET /oauth/authorize`: binds the sign-in to this browser (10 minutes). Over "
            f"plain http (`make local`) it is named `{OAUTH_COOKIE}`."
        ),
        "schema": {"type": "string"},
    },
}

THREAD_PAGE_PARAMETERS = [ref("parameters", name) for name in ("Q", "PageToken", "MaxResults", "LabelIds")]
MESSAGE_PAGE_PARAMETERS = [
    ref("parameters", name) for name in ("Q", "PageToken", "MaxResults", "LabelIds", "Include")
]


# --- responses ----------------------------------------------------------------------------------


def json_response(description: str, body: Json, headers: Json | None = None) -> Json:
    response: Json = {"description": description, "content": {JSON_MEDIA: {"schema": body}}}
    if headers:
        response["headers"] = headers
    return response


def error(description: str, *codes: str) -> Json:
    """A JSON refusal with one of `codes` as `error`."""
    return json_response(description, {**schema("Error"), "properties": {"error": {"enum": list(codes)}}})


def page(description: str) -> Json:
    """The small HTML page the browser-facing routes answer a refusal with."""
    return {"description": description, "content": {HTML_MEDIA: {"schema": {"type": "string"}}}}


def no_content(description: str, headers: Json | None = None) -> Json:
    response: Json = {"description": description}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying, when known.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
LOCATION = {
    "Location": {
        "description": "Where the browser goes next.",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    }
}


def set_cookie(description: str) -> Json:
    return {"Set-Cookie": {"description": description, "schema": {"type": "string"}}}


RESPONSES: dict[str, Json] = {
    "Unavailable": json_response(
        "Google or a storage service is not answering, or the Google client is not configured yet.",
        schema("ServiceUnavailable"),
        RETRY_AFTER,
    ),
    "UnavailablePage": {**page("As `Unavailable`, as a page."), "headers": RETRY_AFTER},
    "Throttled": json_response(
        'API Gateway\'s route throttling (`{"message": "Too Many Requests"}`).', schema("ApiGatewayMessage")
    ),
    "UriTooLong": json_response(
        "API Gateway's quota: the request line is over 10,240 bytes (a percent-encoded byte counts three).",
        schema("ApiGatewayMessage"),
    ),
    "HeadersTooLarge": json_response(
        "API Gateway's quota: the request line and header values together are over 10,240 bytes.",
        schema("ApiGatewayMessage"),
    ),
    "Forbidden": json_response(
        "API Gateway refused the request's SigV4 signature (missing, invalid, expired or not "
        'allowed `execute-api:Invoke`): `{"message": "Forbidden"}`.',
        schema("ApiGatewayMessage"),
    ),
    "Unauthenticated": error(
        "No valid session: sign in (`GET /oauth/authorize`) or send the session as a Bearer token.",
        "unauthenticated",
    ),
    "InvalidRequest": error(
        "A parameter is unknown, repeated, malformed or out of range; nothing was read or changed.",
        "invalid_request",
    ),
    "ConnectionNotFound": error("No such connection (it may have been disconnected).", "not_found"),
    "NotFound": error(
        "No such message, thread or attachment (or, under `/v1`, no such connection).", "not_found"
    ),
    "SessionMailUnauthorized": json_response(
        "No valid session, or Google no longer accepts the grant (follow `authorization_url`).",
        {
            "oneOf": [
                {**schema("Error"), "properties": {"error": {"const": "unauthenticated"}}},
                schema("ReauthorizationRequired"),
            ]
        },
    ),
    "ApplicationReauthorization": error(
        "Google no longer accepts this connection's grant: make a new connect link for the same "
        "`external_user_id`.",
        "reauthorization_required",
    ),
    "GoogleRefused": error("Gmail refused the request for a reason retrying will not fix.", "google_error"),
}


def components() -> Json:
    return {
        "securitySchemes": SECURITY_SCHEMES,
        "schemas": SCHEMAS,
        "parameters": PARAMETERS,
        "responses": RESPONSES,
    }
