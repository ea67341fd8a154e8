"""The OpenAPI 3.1 document of the HTTP API, generated from Python (`routes`, `components`).

Generated rather than hand-written because its limits and patterns are the layer's own
validation constants (`gmail_connect.api`), so the document cannot drift from what the handlers
accept, and because what every route of a kind shares (security, API Gateway's 403 and 429, the
common refusals) is added in one place, so a route is one short entry in `routes.ROUTES`.

The output is committed as `shared/gmail_connect/api/openapi.json`: it ships in the layer and
`GET /openapi.json` serves it as it is, with nothing generated at run time. `make openapi`
(`python -m infra.openapi`) rewrites it; a test refuses a committed file that differs.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from infra.openapi.components import Json, components
from infra.openapi.routes import ROUTES, TAGS

__all__ = ["DOCUMENT_PATH", "OPENAPI_VERSION", "document", "render"]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = ROOT / "shared" / "gmail_connect" / "api" / "openapi.json"
OPENAPI_VERSION = "3.1.1"

DESCRIPTION = """\
Connects your users' Gmail accounts through Google's server-side OAuth 2.0 flow and reads their \
mail on their behalf, also while they are offline.

The base URL is the stack's `ApiUrl` output (`http://127.0.0.1:3000` with `make local`).

- **Browser routes** (`/oauth/authorize`, `/oauth/callback`) are navigated to; they redirect, and \
refuse with a small HTML page.
- **Session routes** (`/me`, `/messages…`, `/threads…`, `/oauth/disconnect`) act for the signed-in \
user: the session cookie the callback sets, or the same token as `Authorization: Bearer`.
- **Application routes** (`/v1/…`) are for your backend, signed with SigV4 (API Gateway's AWS_IAM \
authorization); they name connections by `connection_id` and your users by `external_user_id`.
- `/push/gmail` is for Google Pub/Sub only; `/` is the console, a static page.

Refusals of the JSON routes are `{"error": code, "message": text}`. Every response carries \
`Cache-Control: no-store` (but this document, `public, max-age=300`, and the console's files) \
and `Referrer-Policy: no-referrer`. Besides what each route lists, API Gateway itself may \
answer `500`, `503` or `504` with `{"message": …}` when a function fails or times out.\
"""


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return str(tomllib.load(stream)["project"]["version"])


def document() -> Json:
    paths: dict[str, Json] = {}
    for (method, path), operation in ROUTES.items():
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gmail-connect",
            "version": _project_version(),
            "description": DESCRIPTION,
        },
        "tags": TAGS,
        "paths": paths,
        "components": components(),
    }


def render() -> str:
    """The document as committed: indented, in the source's order, UTF-8, one trailing newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
