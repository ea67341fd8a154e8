"""Layer size and every function's cold start, from the built artifacts (`infra.packaging`).

Two timings per function, each a fresh ``python3.13`` process (median of several):

- *cold init*: ``import <handler module>``, as a ratio to ``import boto3`` in the same run (the
  README's budgets);
- *cold start*: the CPU seconds of the import and then of what its first invocation does
  before any I/O (`FIRST_USE`: the lazily imported Google libraries, the boto3 clients it
  creates). This is the CPU a cold container spends before it can answer, the figure the memory
  choice scales by vCPU share (CPU time: other work on this shared machine does not inflate it);
  its peak RSS is the floor under the memory size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from infra import cfn
from infra.bench.stack import TEMPLATE

RUNS = 7


def _clients(*services: str) -> str:
    return "from gmail_connect.core import aws; " + "; ".join(f"aws.client({s!r})" for s in services)


_GMAIL = (
    "from gmail_connect.gmail import batch, client, credentials, transport; "
    "transport.resource('history'); transport.resource('messages'); "
    "import googleapiclient.http, googleapiclient.errors, google_auth_httplib2, google.oauth2.credentials"
)
FIRST_USE = {
    "AuthorizeFunction": _clients("dynamodb", "secretsmanager"),
    "CallbackFunction": _clients("dynamodb", "kms", "secretsmanager")
    + "; import requests, google_auth_oauthlib.flow",
    "MeFunction": _clients("dynamodb", "secretsmanager"),
    "MessagesFunction": _clients("dynamodb", "kms", "secretsmanager") + "; " + _GMAIL,
    "DisconnectFunction": _clients("dynamodb", "kms", "secretsmanager") + "; import httplib2",
    "SyncSchedulerFunction": _clients("sqs"),
    "SyncFanoutFunction": _clients("dynamodb", "sqs"),
    "SyncWorkerFunction": _clients("dynamodb", "kms", "events", "secretsmanager") + "; " + _GMAIL,
}


@dataclass
class Packaging:
    layer_mib: float | None = None
    layer_budget_mib: float | None = None
    layer_files: int | None = None
    boto3_s: float | None = None
    cold_init_s: dict[str, float] = field(default_factory=dict)
    cold_start_s: dict[str, float] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def lines(self) -> list[str]:
        lines = ["layer and cold start (sam build; timed on a host-architecture build, one process each):"]
        if self.layer_mib is not None:
            lines.append(
                f"  layer (arm64): {self.layer_mib} MiB unzipped (budget {self.layer_budget_mib:.0f} MiB), "
                f"{self.layer_files} files"
            )
        if self.cold_init_s:
            header = f"{'import':>9s} {'x boto3':>8s} {'cold start':>12s} {'peak RSS':>9s}"
            lines.append(f"  {'':24s} {header}  (median of {RUNS}; cold start = import + first use, CPU)")
        for function_id, seconds in self.cold_init_s.items():
            ratio = seconds / self.boto3_s if self.boto3_s else float("nan")
            start = self.cold_start_s.get(function_id, float("nan"))
            lines.append(
                f"  {function_id:24s} {seconds * 1000:6.0f} ms {ratio:7.2f}x {start * 1000:9.0f} ms"
                f" {self.rss_mib.get(function_id, float('nan')):5.0f} MiB"
            )
        if self.error:
            lines.append(f"  skipped: {self.error}")
        return lines


def measure(build_dir: Path) -> Packaging:
    """Build (arm64 for the size, host architecture for the timings) and measure."""
    from infra.packaging import cold_init, layer, sam_build

    result = Packaging()
    try:
        deploy = layer.layer_report(sam_build.build(build_dir.with_name("build-packaging-arm64")))
        result.layer_mib = deploy["mib"]
        result.layer_budget_mib = deploy["budget_bytes"] / 1048576
        result.layer_files = deploy["files"]
        sam_build.build(build_dir, host_arch=True)
        template = cfn.load_template(TEMPLATE)
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"}
        env.update(cfn.function_environment(template, cfn.Resolver(template).resolve_str))
        times = cold_init.cold_init_times(build_dir, env, runs=RUNS)
        result.boto3_s = times.pop("boto3")
        result.cold_init_s = times
        profile = cold_init.first_use_profile(build_dir, env, FIRST_USE, runs=RUNS)
        result.cold_start_s = {name: seconds for name, (seconds, _) in profile.items()}
        result.rss_mib = {name: rss for name, (_, rss) in profile.items()}
    except Exception as error:  # a report, not a test: say what failed and carry on
        result.error = f"{type(error).__name__}: {str(error)[:300]}"
    return result
