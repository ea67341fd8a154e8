"""Reading the JSON bodies of the control endpoints, and answering what is wrong with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors
from .state import State


class Invalid(Exception):
    """A control request the emulator refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def json_body(request: Request) -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise Invalid(400, "The body must be a JSON object.")
    return data


def string_field(data: dict[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise Invalid(400, f"'{key}' is required.")
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(
            400, f"'{key}' must be a non-empty string." if required else f"'{key}' must be a string."
        )
    return value


def number_field(
    data: dict[str, Any], key: str, default: float | None, *, minimum: float = 0
) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise Invalid(400, f"'{key}' must be a number >= {minimum}.")
    return value


def whole_field(data: dict[str, Any], key: str, *, minimum: int) -> int:
    value = number_field(data, key, None, minimum=minimum)
    if value is None or value != int(value):
        raise Invalid(400, f"'{key}' must be a whole number >= {minimum}.")
    return int(value)


def choice_field(data: dict[str, Any], key: str, allowed: tuple[Any, ...]) -> Any:
    if data[key] not in allowed:
        raise Invalid(400, f"'{key}' must be one of {list(allowed)}.")
    return data[key]


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Run a control handler under the state lock and answer ``Invalid`` as a control error."""

    def run(state: State, request: Request, **kwargs: str) -> Response:
        with state.lock:
            try:
                return handler(state, request, **kwargs)
            except Invalid as exc:
                return errors.control_error(exc.status, str(exc))

    run.__name__ = handler.__name__
    return run
