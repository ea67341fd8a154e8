"""What `GET /openapi.json` serves: the API's OpenAPI document, `openapi.json` beside this module.

The document is generated from `infra/openapi` and committed, so it ships in the layer as it is:
read once per container, never built at run time. Unlike every other response it may be cached
(`public, max-age=300`): it is the same for every caller, holds no user's data and changes only
with a deploy, which clients then see within five minutes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from gmail_connect.api.web import SECURITY_HEADERS

DOCUMENT = Path(__file__).with_name("openapi.json")
CACHE_CONTROL = "public, max-age=300"


@cache
def _text() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


def response() -> Response:
    headers = {
        name: value for name, value in SECURITY_HEADERS.items() if name not in {"Cache-Control", "Pragma"}
    }
    return Response(
        status_code=200,
        content_type="application/json",
        body=_text(),
        headers={**headers, "Cache-Control": CACHE_CONTROL},
    )
