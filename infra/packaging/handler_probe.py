"""The child process of ``invoke``: import one built handler and call it once, as Lambda would.

Run as a script by a fresh ``python3.13 -I -S -B``: ``-I`` keeps the script's own directory,
and with it the repository, off ``sys.path``, and nothing but the standard library is imported
before Lambda's path is in place (not even ``typing``: the handler's import is what is timed).
The request (path, handler, event, settings) arrives as JSON on stdin; the outcome leaves as
one JSON object on stdout. Handlers log to stdout, so while they run stdout is pointed at
stderr and the outcome travels alone.
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid

# Where the outcome says each of these came from (the handler's module is added): the caller
# checks that they came from the build, or were never imported (cold-start budget).
REPORTED_MODULES = (
    "gmail_connect",
    "boto3",
    "googleapiclient",
    "google_auth_oauthlib",
    "aws_lambda_powertools",
)
LOG_STREAM_NAME = "2025/01/01/[$LATEST]packaging-check"


class LambdaContext:
    """The part of Lambda's context object that handlers and Powertools read."""

    def __init__(self, name: str, memory: str, timeout: str, region: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(memory)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = LOG_STREAM_NAME
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _text(request: dict[str, object], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise TypeError(f"request[{key!r}] must be a string")
    return value


def _sys_path(request: dict[str, object]) -> list[str]:
    value = request.get("sys_path")
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise TypeError("request['sys_path'] must be a list of strings")
    return value


def invoke(request: dict[str, object]) -> dict[str, object]:
    """Import the handler, call it once with the request's event; report the response or the
    error, both timings, and where the reported modules came from."""
    outcome: dict[str, object] = {}
    module_name, _, attribute = _text(request, "handler").rpartition(".")
    try:
        started = time.perf_counter()
        module = importlib.import_module(module_name)
        outcome["init_seconds"] = time.perf_counter() - started
        handler = getattr(module, attribute)
        context = LambdaContext(
            _text(request, "function"),
            _text(request, "memory"),
            _text(request, "timeout"),
            os.environ["AWS_REGION"],
        )
        started = time.perf_counter()
        outcome["response"] = handler(request["event"], context)
        outcome["invoke_seconds"] = time.perf_counter() - started
    except BaseException as error:
        traceback.print_exc()
        outcome["error"] = f"{type(error).__name__}: {error}"
    outcome["modules"] = {
        name: getattr(sys.modules.get(name), "__file__", None) for name in (module_name, *REPORTED_MODULES)
    }
    outcome["sys_path"] = list(sys.path)
    return outcome


def main() -> int:
    request = json.loads(sys.stdin.read())
    if not isinstance(request, dict):
        raise TypeError("the request must be a JSON object")
    sys.path[:0] = _sys_path(request)
    outcome_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    outcome = invoke(request)
    sys.stdout.flush()
    outcome_stream.write(json.dumps(outcome, default=str))
    outcome_stream.flush()
    return 1 if "error" in outcome else 0


if __name__ == "__main__":
    sys.exit(main())
