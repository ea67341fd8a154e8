"""Responses checked against the OpenAPI document the product serves (`GET /openapi.json`).

`product.invoke` runs `check_response` on every handler response, so every integration test
also checks the document: the status is listed for the route, the `Content-Type` is one the
document gives for that status, a JSON body validates against its schema (JSON Schema 2020-12,
formats included), and the headers it declares are there and well formed. A mismatch fails the
test with the route, the status and what differed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from infra.openapi import DOCUMENT_PATH

DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
_URI = "urn:gmail-connect:openapi"
_REGISTRY: Registry = Registry().with_resource(
    _URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)
_FORMATS = FormatChecker()


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    """An absolute URI: a scheme, then no space or non-ASCII character (RFC 3986)."""
    if not isinstance(value, str):
        return True
    return bool(urlsplit(value).scheme) and value.isascii() and value.isprintable() and " " not in value


@_FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return not isinstance(value, str) or (value.isascii() and value.isprintable() and " " not in value)


def _pointer_part(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


@cache
def _validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document (its `$ref`s resolve in the document)."""
    return Draft202012Validator({"$ref": f"{_URI}#{pointer}"}, registry=_REGISTRY, format_checker=_FORMATS)


@cache
def _path_patterns() -> list[tuple[re.Pattern[str], str]]:
    """The document's paths as regexes, literal paths before templated ones (API Gateway's order)."""
    patterns = []
    for template in DOCUMENT["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(regex), template))
    return sorted(patterns, key=lambda item: item[1].count("{"))


def route_of(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The document's path template and operation for a request, or None when it has none."""
    for pattern, template in _path_patterns():
        if pattern.fullmatch(path):
            operation = DOCUMENT["paths"][template].get(method.lower())
            return (template, operation) if operation is not None else None
    return None


def _resolved(response: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
    """A response object, following a `$ref` to `components/responses`; and its pointer."""
    target = response.get("$ref")
    if not isinstance(target, str):
        return response, pointer
    name = target.removeprefix("#/components/responses/")
    return DOCUMENT["components"]["responses"][name], f"/components/responses/{_pointer_part(name)}"


def _header(response: Mapping[str, Any], name: str) -> list[str]:
    """A response header's values; payload 2.0 carries cookies in `cookies`, one per Set-Cookie."""
    values = [str(v) for k, v in (response.get("headers") or {}).items() if k.lower() == name.lower()]
    if name.lower() == "set-cookie":
        values += [str(cookie) for cookie in response.get("cookies") or []]
    return values


def problems(method: str, path: str, response: Mapping[str, Any]) -> list[str]:
    """How `response` (a handler's payload 2.0 result for `method path`) differs from the document."""
    route = route_of(method, path)
    if route is None:
        # API Gateway routes only the template's routes (the same as the document's, a packaging
        # test says): an event for another one never reaches a function when deployed.
        return []
    template, operation = route
    status = str(response.get("statusCode"))
    listed = operation["responses"]
    if status not in listed:
        return [f"status {status} is not listed (the document lists {', '.join(listed)})"]
    pointer = f"/paths/{_pointer_part(template)}/{method.lower()}/responses/{status}"
    spec, pointer = _resolved(listed[status], pointer)
    found = []
    content = spec.get("content") or {}
    content_type = next(iter(_header(response, "Content-Type")), None)
    body = response.get("body")
    if not content:
        if body:
            found.append("the document gives this status no body, but it has one")
    elif content_type is None or content_type.split(";")[0].strip().lower() not in content:
        found.append(f"Content-Type {content_type!r} is not one of {sorted(content)}")
    else:
        media = content_type.split(";")[0].strip().lower()
        if media == "application/json":
            try:
                instance = json.loads(body or "")
            except ValueError:
                return [f"the body is not JSON: {str(body)[:200]!r}"]
            validator = _validator(f"{pointer}/content/{_pointer_part(media)}/schema")
            found += [_describe(error) for error in validator.iter_errors(instance)]
        elif not body:
            found.append(f"the {media} body is empty")
    for name, header in (spec.get("headers") or {}).items():
        values = _header(response, name)
        if header.get("required") and not values:
            found.append(f"the required header {name} is missing")
        header_pointer = f"{pointer}/headers/{_pointer_part(name)}/schema"
        for value in values:
            found += [f"header {name}: {_describe(e)}" for e in _validator(header_pointer).iter_errors(value)]
    return found


def _describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(the body)"
    return f"at {where}: {error.message[:300]}"


def check_response(method: str, path: str, response: Mapping[str, Any]) -> None:
    """Fail, naming the route, the status and every difference, unless the document describes `response`."""
    found = problems(method, path, response)
    if found:
        route = route_of(method, path)
        name = f"{method} {route[0] if route else path}"
        raise AssertionError(
            f"{name} answered {response.get('statusCode')}, which the OpenAPI document does not describe "
            f"(shared/gmail_connect/api/openapi.json, generated by infra/openapi):\n  "
            + "\n  ".join(found)
            + f"\nbody: {str(response.get('body'))[:500]}"
        )
