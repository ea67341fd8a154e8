"""``make bench``: what the scheduled sync costs, printed for a person to read (no asserts).

    python -m infra.bench [--users 100,1000] [--latency-ms 50] [--concurrency N]

Everything runs on loopback in this process: moto's server (resources from template.yaml),
the Google emulator, and the real scheduler and worker handlers driven exactly as ``make sync``
drives them (``infra.local_stack.sync.SyncRound``: Scheduled Event -> SQS -> Lambda's SQS
event, 10 records per invocation). Each invocation syncs its users on ``SYNC_CONCURRENCY``
threads; invocations run one after another, i.e. one warm worker container (the deployed
worker runs up to ``SyncWorkerMaxConcurrency`` of them).

For each N, N emulator accounts are connected by a real consent over HTTP (consent page,
decision, code exchange at the token endpoint) whose grant is written through the product's
own token store (``grants.store_new_grant``: KMS-encrypted, as the callback does). Then:

- a first round (the mailbox positions are recorded; not timed against a floor);
- "no new mail": one round, every Gmail request slowed by ``--latency-ms``;
- "new mail": one message delivered to every user, then one round, same latency.

The latency is injected with the emulator's faults on the paths Gmail requests use
(``history``, ``profile``, ``messages``, the batch endpoint); calls inside a batch request
share their batch's round trip, as at Google. Printed per scenario: Google HTTP calls and
batched calls, quota units, token refreshes, the product's AWS calls per user (counted with
botocore event hooks on its own clients; the SQS poller's receive/delete calls are Lambda's
and not counted), wall time, and wall time over the critical-path floor
``users x calls on the longest chain x latency / concurrency``.

Then the layer's size (an arm64 build) and every function's cold-init ratio (a
host-architecture build), both built here with ``infra.packaging``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from infra import cfn

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REDIRECT_URI = "http://127.0.0.1:3000/oauth/callback"
SCOPES = (
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/gmail.readonly"
)
LATENCY_PREFIXES = (
    "/gmail/v1/users/me/history",
    "/gmail/v1/users/me/profile",
    "/batch/gmail/v1",
)
AWS_SERVICES = ("dynamodb", "kms", "secretsmanager", "sqs", "events")
SETUP_THREADS = 8
_REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


@dataclass
class Scenario:
    name: str
    users: int
    chain_calls: int  # Gmail requests on one user's critical path
    wall_s: float
    google: dict[str, Any]
    aws_calls: Counter[str]
    summary: Any
    latency_ms: int
    concurrency: int
    cpu_s: float

    @property
    def cpu_ms_per_user(self) -> float:
        return self.cpu_s / self.users * 1000

    @property
    def floor_s(self) -> float:
        return self.users * self.chain_calls * self.latency_ms / 1000 / self.concurrency

    @property
    def batched_floor_s(self) -> float:
        """The same floor, for batches of 10 users run `concurrency` at a time (waves per batch)."""
        waves = math.ceil(10 / self.concurrency) if self.concurrency < 10 else 1
        return math.ceil(self.users / 10) * waves * self.chain_calls * self.latency_ms / 1000

    def lines(self) -> list[str]:
        calls: dict[str, int] = self.google.get("calls", {})
        batched: dict[str, int] = self.google.get("batched_calls", {})
        units = sum(self.google.get("quota_units", {}).values())
        http = sum(calls.values())
        refreshes = calls.get("POST /token", 0)
        aws_total = sum(self.aws_calls.values())
        per_user = ", ".join(
            f"{name} {count / self.users:.2f}" for name, count in sorted(self.aws_calls.items())
        )
        route = ", ".join(f"{_short(k)} {v}" for k, v in sorted(calls.items())) or "none"
        inner = ", ".join(f"{_short(k)} {v}" for k, v in sorted(batched.items())) or "none"
        floor, in_batches = self.floor_s, self.batched_floor_s
        return [
            f"N={self.users}, {self.name}",
            f"  sync wall time          {self.wall_s:8.2f} s   (worker invocations back to back)",
            f"  round wall time         {self.summary.seconds:8.2f} s   (+ the scheduler's"
            f" {self.summary.scheduler_seconds:.2f} s and moto's SQS polling)",
            f"  critical-path floor     {floor:8.2f} s   = {self.users} users x {self.chain_calls} call(s)"
            f" x {self.latency_ms} ms / {self.concurrency}   -> wall/floor {self.wall_s / floor:.2f}",
            f"  floor in batches of 10  {in_batches:8.2f} s   -> wall/floor {self.wall_s / in_batches:.2f}",
            f"  CPU of this process     {self.cpu_s:8.2f} s   {self.cpu_ms_per_user:.1f} ms per user"
            " (handlers + poller; the GIL runs it on one core)",
            f"  Google HTTP calls       {http:8d}     {http / self.users:.2f} per user ({route})",
            f"  batched calls           {sum(batched.values()):8d}     ({inner})",
            f"  quota units             {units:8d}     {units / self.users:.2f} per user",
            f"  token refreshes         {refreshes:8d}",
            f"  AWS calls (product)     {aws_total:8d}     {aws_total / self.users:.2f} per user",
            f"                                     ({per_user})",
            f"  outcome                 {self.summary.outcomes}, events {self.summary.events_published}, "
            f"failed {self.summary.failed}",
        ]


def _short(route: str) -> str:
    return route.replace("/gmail/v1/users/{userId}", "")


# -- the stack ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Google:
    """The emulator as the bench sees it: a URL and the OAuth client registered in it."""

    url: str
    client_config: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(command: list[str], ready_url: str, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process (stopped on the way out), once it answers `ready_url`."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": "shared:."},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(ready_url, timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {name} did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def loopback_stack(concurrency: int | None) -> Iterator[tuple[Google, dict[str, str]]]:
    """moto's server and the Google emulator, each in its own process on a free loopback port
    (so their CPU is not this process's, as AWS's and Google's are not a Lambda's), with the
    template provisioned and this process's environment set as the functions'."""
    from infra.google_emulator.state import DEFAULT_CLIENT
    from infra.local_stack.provision import provision_aws

    aws_port, google_port = _free_port(), _free_port()
    endpoint, google_url = f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{google_port}"
    moto_command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(aws_port)]
    google_command = [sys.executable, "-m", "infra.google_emulator", "--port", str(google_port)]
    google_command += ["--no-demo", "--quiet", "--redirect-uri", REDIRECT_URI]
    saved = dict(os.environ)
    with (
        _server(moto_command, f"{endpoint}/moto-api/", "AWS emulator"),
        _server(google_command, f"{google_url}/_emulator/stats", "Google emulator"),
    ):
        google = Google(
            google_url,
            {
                "web": {
                    **DEFAULT_CLIENT,
                    "auth_uri": f"{google_url}/o/oauth2/v2/auth",
                    "token_uri": f"{google_url}/token",
                    "redirect_uris": [REDIRECT_URI],
                }
            },
        )
        try:
            base = {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "OAUTHLIB_INSECURE_TRANSPORT": "1",
                "GOOGLE_REVOKE_URI": f"{google_url}/revoke",
                "GOOGLE_USERINFO_URI": f"{google_url}/v1/userinfo",
                "GMAIL_API_URL": google_url,
                "POWERTOOLS_SERVICE_NAME": "gmail-connect",
                "POWERTOOLS_METRICS_NAMESPACE": "GmailConnect",
            }
            os.environ.update(base)
            environment = {**provision_aws(cfn.load_template(TEMPLATE), google.client_config), **base}
            # A log line per user would cost more than the sync; warnings still show.
            environment["POWERTOOLS_LOG_LEVEL"] = "WARNING"
            if concurrency:
                environment["SYNC_CONCURRENCY"] = str(concurrency)
            os.environ.update(environment)
            yield google, environment
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _control(google: Any, path: str, body: Mapping[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{google.url}/_emulator/{path}", json=dict(body or {}), timeout=10)


def connect_users(google: Google, count: int, start: int) -> float:
    """Create `count` accounts and connect each: consent over HTTP, grant through the token store."""
    from gmail_connect.store import grants

    config = google.client_config["web"]

    def connect(n: int) -> None:
        email = f"bench-{n:05}@example.com"
        created = _control(google, "accounts", {"email": email})
        created.raise_for_status()
        http = requests.Session()
        state = secrets.token_urlsafe(16)
        consent_url = f"{config['auth_uri']}?" + urlencode(
            {
                "response_type": "code",
                "client_id": config["client_id"],
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPES,
                "state": state,
                "access_type": "offline",
                "prompt": "consent",
                "login_hint": email,
            }
        )
        page = http.get(consent_url, timeout=10)
        match = _REQUEST_ID.search(page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"no consent page for {email}: {page.status_code}")
        decision = http.post(
            f"{google.url}/o/oauth2/v2/auth/decision",
            data=[("request_id", match.group(1)), ("account", email), ("decision", "allow")]
            + [("scope", scope) for scope in SCOPES.split()],
            allow_redirects=False,
            timeout=10,
        )
        answer = parse_qs(urlsplit(decision.headers["Location"]).query)
        if answer.get("state") != [state]:
            raise RuntimeError(f"consent for {email} came back without our state")
        token = http.post(
            config["token_uri"],
            data={
                "grant_type": "authorization_code",
                "code": answer["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": config["client_id"],
                "client_secret": config["client_secret"],
            },
            timeout=10,
        ).json()
        grants.store_new_grant(
            grants.Grant(
                user_id=created.json()["sub"],
                email=email,
                scopes=tuple(token["scope"].split()),
                access_token=token["access_token"],
                access_token_expires_at=grants.expires_at(token.get("expires_in")),
                refresh_token=token["refresh_token"],
            )
        )

    started = time.perf_counter()
    from gmail_connect.core import aws

    for service in ("dynamodb", "kms"):  # created once, before the threads share them
        aws.client(service)
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(connect, range(start, start + count)))
    return time.perf_counter() - started


def deliver_to_all(google: Any, first: int, count: int) -> None:
    def deliver(n: int) -> None:
        body = {"from": "Bench <bench@example.org>", "subject": f"bench {n}", "body": "hello"}
        _control(google, f"accounts/bench-{n:05}@example.com/messages", body).raise_for_status()

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(deliver, range(first, first + count)))


class AwsCounter:
    """Every API call the product's own boto3 clients make (botocore's `before-call` event)."""

    def __init__(self) -> None:
        from gmail_connect.core import aws

        self.calls: Counter[str] = Counter()
        for service in AWS_SERVICES:
            aws.client(service).meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


@dataclass
class Bench:
    google: Any
    round: Any
    counter: AwsCounter
    latency_ms: int
    concurrency: int

    def scenario(self, name: str, users: int, chain_calls: int) -> Scenario:
        """One round with the latency injected; the counts and times it took."""
        google = self.google
        _control(google, "reset").raise_for_status()
        for prefix in LATENCY_PREFIXES:
            _control(google, "faults", {"path_prefix": prefix, "latency_ms": self.latency_ms, "count": 10**6})
        self.counter.take()
        cpu = time.process_time()
        summary = self.round.run()
        cpu = time.process_time() - cpu
        aws_calls = self.counter.take()
        stats = requests.get(f"{google.url}/_emulator/stats", timeout=10).json()
        _control(google, "reset")
        return Scenario(
            name=name,
            users=users,
            chain_calls=chain_calls,
            wall_s=summary.worker_seconds,
            google=stats,
            aws_calls=aws_calls,
            summary=summary,
            latency_ms=self.latency_ms,
            concurrency=self.concurrency,
            cpu_s=cpu,
        )


# -- layer and cold init ---------------------------------------------------------------------------


def packaging_lines(build_dir: Path) -> list[str]:
    """Layer size (the arm64 deploy artifact) and every function's cold-init ratio (a host build)."""
    from infra.packaging import cold_init, layer, sam_build

    lines = ["layer and cold init (sam build; cold init measured on a host-architecture build):"]
    try:
        deploy = layer.layer_report(sam_build.build(build_dir.with_name("build-packaging-arm64")))
        budget = deploy["budget_bytes"] / 1048576
        lines.append(
            f"  layer (arm64): {deploy['mib']} MiB unzipped (budget {budget:.0f} MiB), "
            f"{deploy['files']} files"
        )
        sam_build.build(build_dir, host_arch=True)
        template = cfn.load_template(TEMPLATE)
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"}
        env.update(cfn.function_environment(template, cfn.Resolver(template).resolve_str))
        ratios = cold_init.cold_init_ratios(build_dir, env, runs=7)
        for function_id, ratio in ratios.items():
            lines.append(f"  cold init {function_id:24s} {ratio:.2f} x import boto3 (median of 7)")
    except Exception as error:  # a report, not a test: say what failed and carry on
        lines.append(f"  skipped: {type(error).__name__}: {str(error)[:300]}")
    return lines


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scheduled-sync benchmark (read the output).")
    parser.add_argument("--users", default="100,1000", help="comma-separated N values, ascending")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="SYNC_CONCURRENCY (default: the code's)"
    )
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build-packaging-host")
    args = parser.parse_args(argv)
    sizes = sorted({int(n) for n in args.users.split(",") if n.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 5000:
        parser.error("--users takes values between 1 and 5000")
    started = time.perf_counter()
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731

    with loopback_stack(args.concurrency) as (google, environment):
        from gmail_connect.core.config import get_settings
        from infra.local_stack.sync import SyncRound

        get_settings.cache_clear()
        concurrency = get_settings().sync_concurrency
        out(f"scheduled-sync benchmark: latency {args.latency_ms} ms per Gmail request, "
            f"SYNC_CONCURRENCY {concurrency}, batches of 10, one worker container")  # fmt: skip
        bench = Bench(
            google,
            SyncRound(cfn.load_template(TEMPLATE), environment, quiet=True),
            AwsCounter(),
            args.latency_ms,
            concurrency,
        )
        connected = 0
        for users in sizes:
            seconds = connect_users(google, users - connected, connected)
            out(f"\nconnected {users - connected} more users in {seconds:.1f} s (HTTP consent, token store)")
            connected = users
            first = bench.round.run()
            bench.counter.take()
            out(f"first round (positions recorded, no latency): {first.seconds:.2f} s, {first.outcomes}")
            for line in bench.scenario("no new mail", users, chain_calls=1).lines():
                out(line)
            deliver_to_all(google, 0, users)
            for line in bench.scenario("new mail (1 message each)", users, chain_calls=2).lines():
                out(line)
    out("")
    for line in packaging_lines(args.build_dir):
        out(line)
    out(f"\nbenchmark finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
