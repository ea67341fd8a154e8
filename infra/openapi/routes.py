"""Every HTTP route of template.yaml, as an OpenAPI operation: one entry of `ROUTES` per route.

Adding a route: add its `(METHOD, path)` entry below with the helper for its kind (`browser`,
`session`, `application`, `public`), which adds what every route of that kind shares (security,
tag, API Gateway's and the functions' common refusals); then `make openapi`. The tests refuse a
route of the template that is missing here (and the reverse), a committed document that differs
from this source, and a response a handler gives that the document does not describe.
"""

from __future__ import annotations

from typing import Any

from gmail_connect.api import inputs
from infra.openapi.components import (
    APPLICATION_SECURITY,
    EXTERNAL_USER_ID_PATTERN,
    LOCATION,
    MESSAGE_PAGE_PARAMETERS,
    PUBLIC_SECURITY,
    PUSH_SECURITY,
    SESSION_SECURITY,
    THREAD_PAGE_PARAMETERS,
    TOKEN_PATTERN,
    Json,
    error,
    json_response,
    no_content,
    or_empty,
    page,
    query,
    ref,
    schema,
    set_cookie,
    text,
)

BROWSER, SESSION, APPLICATION, PUSH, CONSOLE, META = (
    "browser",
    "session",
    "application",
    "push",
    "console",
    "meta",
)
TAGS = [
    {"name": BROWSER, "description": "Connecting an account in the browser: Google's consent and back."},
    {
        "name": SESSION,
        "description": "The signed-in user (session cookie or Bearer token) and their mailbox.",
    },
    {
        "name": APPLICATION,
        "description": (
            "The application API (`/v1`): your backend, signed with SigV4, acting for its users at any time."
        ),
    },
    {"name": PUSH, "description": "Gmail's push notifications, delivered by Pub/Sub (docs/push.md)."},
    {"name": CONSOLE, "description": "The console: a static page that calls this API from the browser."},
    {"name": META, "description": "About this API."},
]


def _operation(
    tag: str,
    operation_id: str,
    summary: str,
    description: str,
    *,
    security: list[Json],
    responses: dict[int, Json],
    parameters: list[Json] | None = None,
    request_body: Json | None = None,
) -> Json:
    operation: Json = {
        "tags": [tag],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": security,
    }
    if parameters:
        operation["parameters"] = parameters
    if request_body is not None:
        operation["requestBody"] = request_body
    # What API Gateway answers on any route, before a function runs: its request size quotas, and
    # its throttling (template.yaml: DefaultRouteSettings).
    everything = {
        **responses,
        414: ref("responses", "UriTooLong"),
        429: ref("responses", "Throttled"),
        431: ref("responses", "HeadersTooLarge"),
    }
    operation["responses"] = {str(status): everything[status] for status in sorted(everything)}
    return operation


def browser(operation_id: str, summary: str, description: str, **details: Any) -> Json:
    """A route a browser navigates to: refusals are small HTML pages, never JSON."""
    responses = {400: page("The request is malformed; nothing was stored."), **details.pop("responses")}
    return _operation(
        BROWSER, operation_id, summary, description, security=PUBLIC_SECURITY, responses=responses, **details
    )


def session(operation_id: str, summary: str, description: str, **details: Any) -> Json:
    """A signed-in route: the session cookie or the same token as a Bearer; JSON in and out."""
    responses = {
        400: ref("responses", "InvalidRequest"),
        401: ref("responses", "Unauthenticated"),
        503: ref("responses", "Unavailable"),
        **details.pop("responses"),
    }
    return _operation(
        SESSION, operation_id, summary, description, security=SESSION_SECURITY, responses=responses, **details
    )


def application(operation_id: str, summary: str, description: str, **details: Any) -> Json:
    """An application route (`/v1`, AWS_IAM): API Gateway refuses an unsigned request with its 403."""
    responses = {
        400: ref("responses", "InvalidRequest"),
        403: ref("responses", "Forbidden"),
        503: ref("responses", "Unavailable"),
        **details.pop("responses"),
    }
    return _operation(
        APPLICATION,
        operation_id,
        summary,
        description,
        security=APPLICATION_SECURITY,
        responses=responses,
        **details,
    )


def public(tag: str, operation_id: str, summary: str, description: str, **details: Any) -> Json:
    """A route anyone may fetch, the same for everyone (the console, this document)."""
    responses = {400: ref("responses", "InvalidRequest"), **details.pop("responses")}
    return _operation(
        tag, operation_id, summary, description, security=PUBLIC_SECURITY, responses=responses, **details
    )


def text_file(media: str, description: str) -> Json:
    """A static file of the console."""
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


CONNECTION_ID = ref("parameters", "ConnectionId")
MESSAGE_ID = ref("parameters", "MessageId")
THREAD_ID = ref("parameters", "ThreadId")
ATTACHMENT_ID = ref("parameters", "AttachmentId")
MAIL_UNAUTHORIZED = ref("responses", "SessionMailUnauthorized")
NOT_FOUND = ref("responses", "NotFound")
GOOGLE_REFUSED = ref("responses", "GoogleRefused")
APPLICATION_REAUTHORIZATION = ref("responses", "ApplicationReauthorization")
ATTACHMENT = json_response(
    "Where to download the bytes (a presigned URL, at most 5 minutes), with the name, type and size.",
    schema("AttachmentDownload"),
)
# `inputs.safe_return_to`: a path on this site; no `//host`, backslash, space or control character.
RETURN_TO_PATTERN = r"^/(?:[^/\\\s\x00-\x1f\x7f][^\\\s\x00-\x1f\x7f]*)?$"

ROUTES: dict[tuple[str, str], Json] = {
    ("GET", "/oauth/authorize"): browser(
        "authorize",
        "Start connecting a Gmail account",
        "Redirects to Google's consent page (offline access, PKCE S256, a state bound to this browser by "
        "a 10-minute cookie). Consent is forced only when no usable grant is stored or with "
        "`prompt=consent`. With `link` (a connect link's URL), takes no other parameter.",
        parameters=[
            query(
                "return_to",
                "A path on this site to land on once connected (default `/me`).",
                text(pattern=RETURN_TO_PATTERN, maxLength=inputs.MAX_RETURN_TO),
            ),
            query("login_hint", "Pre-selects this Google account.", text(pattern=or_empty(inputs._EMAIL))),
            query("prompt", "`consent` forces Google's consent screen.", {"enum": ["consent"]}),
            query(
                "link",
                "A connect link's token (`POST /v1/connect-links` makes the URL).",
                {"type": "string", "pattern": TOKEN_PATTERN},
            ),
        ],
        responses={
            302: no_content(
                "To Google's consent page, with the state-binding cookie.",
                {**LOCATION, **set_cookie("The state-binding cookie (`gc_oauth`).")},
            ),
            410: page("The connect link is unknown, expired or already used."),
            503: ref("responses", "UnavailablePage"),
        },
    ),
    ("GET", "/oauth/callback"): browser(
        "callback",
        "Google's redirect back",
        "Checks the state against this browser, exchanges the code, identifies the user, stores the "
        "grant encrypted and starts a session. Any failure is a page and stores nothing.",
        parameters=[
            query("state", "The state the authorize route sent to Google.", text(minLength=1), required=True),
            query("code", "Google's one-time authorization code.", text()),
            query("error", "Google's error instead of a code (`access_denied` …).", text()),
            *(
                query(name, "Passed through by Google; ignored.", text())
                for name in ("error_description", "scope", "authuser", "prompt", "hd", "iss")
            ),
            ref("parameters", "OAuthCookie"),
        ],
        responses={
            302: no_content(
                "Connected: to `return_to` with the session cookie; for a connect link, to the "
                "application's `return_url` with `connection_id` and `status=connected` (or `error` "
                "when consent failed); to Google again when it must show consent once more.",
                {**LOCATION, **set_cookie("The session cookie (`gc_session`); the binding cookie expired.")},
            ),
            403: page("The user denied access, or unticked Gmail access: nothing was stored."),
            409: page("The account was being updated concurrently; start again."),
            502: page("Google did not say who the user is."),
            503: ref("responses", "UnavailablePage"),
        },
    ),
    ("GET", "/me"): session(
        "getMe",
        "The signed-in user's connection",
        "Who is signed in and how their Gmail connection stands; never a token.",
        responses={200: json_response("The connection.", schema("Account"))},
    ),
    ("GET", "/messages"): session(
        "listMessages",
        "One page of the signed-in user's messages",
        "The guide's `ListMessages`, one page per call; with `include=metadata` each message also carries "
        "its labels, snippet and headers (one Gmail batch request per 50 messages).",
        parameters=MESSAGE_PAGE_PARAMETERS,
        responses={
            200: json_response("One page.", schema("MessagesPage")),
            401: MAIL_UNAUTHORIZED,
            502: ref("responses", "GoogleRefused"),
        },
    ),
    ("GET", "/messages/{message_id}"): session(
        "getMessage",
        "A whole message",
        "Headers, the text body, the HTML body sanitised, and the attachments (named by MIME part id). "
        "`cid:` images in the HTML point at the attachment route.",
        parameters=[MESSAGE_ID],
        responses={
            200: json_response("The message.", schema("Message")),
            401: MAIL_UNAUTHORIZED,
            404: NOT_FOUND,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/messages/{message_id}/attachments/{attachment_id}"): session(
        "getAttachment",
        "Download an attachment",
        "A presigned URL of the attachment's bytes (they never pass through the API), valid at most 5 "
        "minutes; with `redirect=1`, a redirect to it (how the HTML's `cid:` images load).",
        parameters=[
            MESSAGE_ID,
            ATTACHMENT_ID,
            query("redirect", "`1`: answer with a redirect to the URL.", {"enum": ["1"]}),
        ],
        responses={
            200: ATTACHMENT,
            302: no_content("To the bytes (`redirect=1`).", LOCATION),
            401: MAIL_UNAUTHORIZED,
            404: NOT_FOUND,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/threads"): session(
        "listThreads",
        "One page of the signed-in user's conversations",
        "The same parameters as `GET /messages`, without `include`.",
        parameters=THREAD_PAGE_PARAMETERS,
        responses={
            200: json_response("One page.", schema("ThreadsPage")),
            401: MAIL_UNAUTHORIZED,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/threads/{thread_id}"): session(
        "getThread",
        "A conversation",
        "Its messages, each as `GET /messages?include=metadata` shows it.",
        parameters=[THREAD_ID],
        responses={
            200: json_response("The thread.", schema("Thread")),
            401: MAIL_UNAUTHORIZED,
            404: NOT_FOUND,
            502: GOOGLE_REFUSED,
        },
    ),
    ("POST", "/oauth/disconnect"): session(
        "disconnect",
        "Disconnect the signed-in user's account",
        "Revokes the grant at Google (RFC 7009), deletes the stored tokens (even when Google is down) "
        "and ends the session. Cross-site requests are refused: a present `Origin` must be this API's, "
        "and without one only a Bearer call is accepted.",
        parameters=[
            {
                "name": "Origin",
                "in": "header",
                "required": False,
                "description": "Sent by browsers; must be this API's own origin.",
                "schema": {"type": "string"},
            }
        ],
        responses={
            204: no_content("Disconnected.", set_cookie("The session cookie, expired.")),
            403: error("The request came from another site.", "forbidden_origin"),
        },
    ),
    ("POST", "/v1/connect-links"): application(
        "createConnectLink",
        "A connect link for one of your users",
        "A single-use URL, valid 15 minutes, to send your user's browser to: Google's consent, then back "
        "to `return_url` with `connection_id` and `status=connected`, or with `error`. Stored hashed.",
        request_body={
            "required": True,
            "content": {"application/json": {"schema": schema("ConnectLinkRequest")}},
        },
        responses={201: json_response("The link.", schema("ConnectLink"))},
    ),
    ("GET", "/v1/connections"): application(
        "listConnections",
        "Your user's connections",
        "Every Gmail account connected for `external_user_id` (at most 100).",
        parameters=[
            query(
                "external_user_id",
                "Your id for your user.",
                {"type": "string", "pattern": EXTERNAL_USER_ID_PATTERN},
                required=True,
            )
        ],
        responses={200: json_response("The connections.", schema("ConnectionList"))},
    ),
    ("GET", "/v1/connections/{connection_id}"): application(
        "getConnection",
        "One connection",
        "How the connection stands; `reauthorization` when Google no longer accepts its grant.",
        parameters=[CONNECTION_ID],
        responses={
            200: json_response("The connection.", schema("Connection")),
            404: ref("responses", "ConnectionNotFound"),
        },
    ),
    ("DELETE", "/v1/connections/{connection_id}"): application(
        "deleteConnection",
        "End a connection",
        "Revokes the grant at Google, deletes it, ends every session of that account and announces "
        "`gmail.connection.disconnected`.",
        parameters=[CONNECTION_ID],
        responses={204: no_content("Deleted."), 404: ref("responses", "ConnectionNotFound")},
    ),
    ("GET", "/v1/connections/{connection_id}/messages"): application(
        "listConnectionMessages",
        "One page of a connection's messages",
        "The same parameters, validation and page as `GET /messages`. A connection that needs "
        "re-authorization answers 409: make a new connect link for the same `external_user_id`.",
        parameters=[CONNECTION_ID, *MESSAGE_PAGE_PARAMETERS],
        responses={
            200: json_response("One page.", schema("MessagesPage")),
            404: ref("responses", "ConnectionNotFound"),
            409: APPLICATION_REAUTHORIZATION,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/v1/connections/{connection_id}/messages/{message_id}"): application(
        "getConnectionMessage",
        "A whole message of a connection",
        "As `GET /messages/{message_id}`; `cid:` images point at the `/v1` attachment route, which your "
        "backend proxies.",
        parameters=[CONNECTION_ID, MESSAGE_ID],
        responses={
            200: json_response("The message.", schema("Message")),
            404: NOT_FOUND,
            409: APPLICATION_REAUTHORIZATION,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/v1/connections/{connection_id}/messages/{message_id}/attachments/{attachment_id}"): application(
        "getConnectionAttachment",
        "Download an attachment of a connection's message",
        "As `GET /messages/{message_id}/attachments/{attachment_id}`, without `redirect`.",
        parameters=[CONNECTION_ID, MESSAGE_ID, ATTACHMENT_ID],
        responses={200: ATTACHMENT, 404: NOT_FOUND, 409: APPLICATION_REAUTHORIZATION, 502: GOOGLE_REFUSED},
    ),
    ("GET", "/v1/connections/{connection_id}/threads"): application(
        "listConnectionThreads",
        "One page of a connection's conversations",
        "As `GET /threads`.",
        parameters=[CONNECTION_ID, *THREAD_PAGE_PARAMETERS],
        responses={
            200: json_response("One page.", schema("ThreadsPage")),
            404: NOT_FOUND,
            409: APPLICATION_REAUTHORIZATION,
            502: GOOGLE_REFUSED,
        },
    ),
    ("GET", "/v1/connections/{connection_id}/threads/{thread_id}"): application(
        "getConnectionThread",
        "A conversation of a connection",
        "As `GET /threads/{thread_id}`.",
        parameters=[CONNECTION_ID, THREAD_ID],
        responses={
            200: json_response("The thread.", schema("Thread")),
            404: NOT_FOUND,
            409: APPLICATION_REAUTHORIZATION,
            502: GOOGLE_REFUSED,
        },
    ),
    ("POST", "/push/gmail"): _operation(
        PUSH,
        "receiveGmailPush",
        "A Gmail push notification",
        "Pub/Sub's push delivery of Gmail's `users.watch` notifications. The token is verified before the "
        "body is read; every authentic notification is acknowledged (204), whatever it says, since Pub/Sub "
        "redelivers anything else; the mailbox is then synced.",
        security=PUSH_SECURITY,
        parameters=[query("token", "May be appended by Pub/Sub from the endpoint URL; ignored.", text())],
        request_body={"content": {"application/json": {"schema": schema("PushEnvelope")}}},
        responses={
            204: no_content("Acknowledged."),
            400: ref("responses", "InvalidRequest"),
            401: error("No token, or one that does not verify.", "unauthenticated"),
            403: error("Not from the configured subscription, or push is not configured here.", "forbidden"),
            503: ref("responses", "Unavailable"),
        },
    ),
    ("GET", "/"): public(
        CONSOLE,
        "getConsole",
        "The console",
        "A static page (its CSS and JavaScript from the two routes below, under a strict "
        "Content-Security-Policy) that signs in and reads mail through this API from the browser.",
        parameters=[query("notice", "Why the page was opened (`consent_again`).", text())],
        responses={200: text_file("text/html", "The page.")},
    ),
    ("GET", "/console.css"): public(
        CONSOLE,
        "getConsoleStylesheet",
        "The console's stylesheet",
        "Cached for a year when asked for by its current version (`v`), else revalidated.",
        parameters=[query("v", "The content's version, as the page links it.", text())],
        responses={200: text_file("text/css", "The stylesheet.")},
    ),
    ("GET", "/console.js"): public(
        CONSOLE,
        "getConsoleScript",
        "The console's script",
        "Cached for a year when asked for by its current version (`v`), else revalidated.",
        parameters=[query("v", "The content's version, as the page links it.", text())],
        responses={200: text_file("text/javascript", "The script.")},
    ),
    ("GET", "/openapi.json"): public(
        META,
        "getOpenApiDocument",
        "This document",
        "The OpenAPI 3.1 description of every route. Cacheable for 5 minutes.",
        responses={
            200: json_response(
                "The document.",
                schema("OpenApiDocument"),
                {"Cache-Control": {"description": "`public, max-age=300`.", "schema": {"type": "string"}}},
            )
        },
    ),
}
