"""``make sync``: one scheduled-sync round against a running ``make local``, as AWS would run it.

    python -m infra.local_stack.sync

1. invokes the scheduler's handler with an EventBridge "Scheduled Event": one shard message per
   segment of the connected users lands in the shard queue, in moto;
2. drains the shard queue one message at a time into the fan-out's handler (the template's batch
   size), which enqueues one sync message per connected user of its segment;
3. drains the sync queue 10 messages at a time into the worker's handler;
4. for both queues, each batch is the exact event Lambda's SQS poller builds (``messageId``,
   ``receiptHandle``, ``body``, ``attributes`` with ``ApproximateReceiveCount``, ``md5OfBody``,
   ``eventSource`` ``aws:sqs``, ``eventSourceARN``, ``awsRegion``); what the handler processed
   is deleted and what it reported in ``batchItemFailures`` (the whole batch if it raised) is
   left, as Lambda does. Failed messages are made visible again at the end, so the next run
   retries them at once instead of after the visibility timeout; after ``maxReceiveCount``
   receives moto moves them to the dead-letter queue, as SQS does;
5. prints progress and a summary: users synced, new messages, events published, failures; then
   each event it published (type, user, subject) and, when it announced nothing, why
   (``sync_report``: nobody connected, a first sync only records where the mailbox is, no new mail).

Invocations run one after another here; in AWS the shards and the worker's batches run side by
side. It attaches to the stack's moto server (``AWS_ENDPOINT_URL``, else
``127.0.0.1:$AWS_EMULATOR_PORT``, default 3002) and finds Google (the emulator, or the real one)
from the client config stored in the stack's secret. Handlers run in this process, like ``make
local``'s. ``SyncRound`` is the same round for tests and the benchmark, against any environment.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from gmail_connect.core.account_status import REAUTHORIZATION_REQUIRED
from infra import cfn
from infra.local_stack.apigw import ACCOUNT_ID, lambda_context
from infra.local_stack.handlers import REPO_ROOT, load_handler
from infra.local_stack.provision import provision_aws

__all__ = ["RoundSummary", "SyncRound", "attach", "lambda_sqs_event", "main", "scheduled_event"]

SCHEDULER_ID = "SyncSchedulerFunction"
FANOUT_ID = "SyncFanoutFunction"
WORKER_ID = "SyncWorkerFunction"
BATCH_SIZE = 10
REGION = "us-east-1"
Printer = Callable[[str], None]


def scheduled_event(region: str = REGION, account_id: str = ACCOUNT_ID) -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/local-sync-schedule"],
        "detail": {},
    }


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the lower-camel shape Lambda puts in the event."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
        for name, value in attributes.items()
    }


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """The event Lambda's SQS poller hands the function for messages from ``ReceiveMessage``."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class RoundSummary:
    segments: int = 0
    shard_failures: int = 0
    enqueued: int = 0
    batches: int = 0
    records: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    new_messages: int = 0
    events_published: int = 0
    failed: int = 0
    dead_letter_depth: int = 0
    seconds: float = 0.0  # the whole round
    scheduler_seconds: float = 0.0  # the scheduler's invocation
    fanout_seconds: float = 0.0  # the fan-out's invocations, back to back (SQS polling excluded)
    worker_seconds: float = 0.0  # the worker's invocations, back to back (SQS polling excluded)

    @property
    def users_synced(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != REAUTHORIZATION_REQUIRED)

    def lines(self) -> list[str]:
        reauth = self.outcomes.get(REAUTHORIZATION_REQUIRED, 0)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "none"
        return [
            f"sync round: {self.enqueued} users enqueued by {self.segments} shards, {self.records} records "
            f"in {self.batches} batches, {self.seconds:.1f} s",
            f"  in handlers:         scheduler {self.scheduler_seconds:.1f} s,"
            f" fan-out {self.fanout_seconds:.1f} s, worker {self.worker_seconds:.1f} s",
            f"  users synced:        {self.users_synced}  ({kinds})",
            f"  need reauthorization: {reauth}",
            f"  new messages:        {self.new_messages}",
            f"  events published:    {self.events_published}",
            f"  failures:            {self.failed} records, {self.shard_failures} shards  (left in their "
            f"queues; the dead-letter queue holds {self.dead_letter_depth})",
        ]


@dataclass(frozen=True)
class _Queue:
    """A queue as its Lambda consumer sees it (what the poller needs to build events)."""

    url: str
    arn: str
    visibility_timeout: int
    dead_letter_url: str | None


@dataclass(frozen=True)
class _Consumer:
    """A function with an SQS event source: its handler and the template's settings for it."""

    function_id: str
    handler: Callable[..., Any]
    queue: _Queue
    timeout: float
    batch_size: int


@dataclass
class _Drained:
    batches: int = 0
    records: int = 0
    failed_receipts: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


class SyncRound:
    """Scheduler -> shard queue -> fan-out -> sync queue -> worker, once, with the template's queue
    settings and timeouts.

    ``environment`` is the functions' environment (``SYNC_SHARD_QUEUE_URL`` and ``SYNC_QUEUE_URL``
    at least); boto3 reaches the AWS emulator through ``AWS_ENDPOINT_URL`` in the process
    environment.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        environment: Mapping[str, str],
        *,
        root: Path = REPO_ROOT,
        out: Printer | None = None,
        max_batches: int = 100_000,
        quiet: bool = False,
    ) -> None:
        """``quiet`` drops what the handlers print (Powertools' metrics, one JSON blob per
        invocation); their log records still go to the log stream."""
        functions = cfn.resources_of_type(template, cfn.SERVERLESS_FUNCTION)
        globals_ = (template.get("Globals") or {}).get("Function") or {}

        def timeout(function_id: str) -> float:
            return float(functions[function_id]["Properties"].get("Timeout", globals_.get("Timeout", 3)))

        def code_uri(function_id: str) -> str:
            return str(functions[function_id]["Properties"]["CodeUri"])

        def batch_size(function_id: str) -> int:
            (event,) = functions[function_id]["Properties"]["Events"].values()
            return int(event["Properties"].get("BatchSize", BATCH_SIZE))

        self.scheduler = load_handler(code_uri(SCHEDULER_ID), "app.handler", root=root)
        self.fanout = load_handler(code_uri(FANOUT_ID), "app.handler", root=root)
        self.worker = load_handler(code_uri(WORKER_ID), "app.handler", root=root)
        self.scheduler_timeout = timeout(SCHEDULER_ID)
        self.worker_timeout = timeout(WORKER_ID)
        self.region = os.environ.get("AWS_DEFAULT_REGION") or REGION
        self.out = out or (lambda line: None)
        self.max_batches = max_batches
        self.quiet = quiet
        self.sqs = boto3.client("sqs", region_name=self.region)
        self.shards = self._queue(environment["SYNC_SHARD_QUEUE_URL"])
        self.queue = self._queue(environment["SYNC_QUEUE_URL"])
        self.queue_url, self.queue_arn = self.queue.url, self.queue.arn
        self.dead_letter_url = self.queue.dead_letter_url
        self.fanout_consumer = _Consumer(
            FANOUT_ID, self.fanout, self.shards, timeout(FANOUT_ID), batch_size(FANOUT_ID)
        )
        self.worker_consumer = _Consumer(
            WORKER_ID, self.worker, self.queue, self.worker_timeout, batch_size(WORKER_ID)
        )

    def _queue(self, url: str) -> _Queue:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        dlq_name = str(redrive.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
        return _Queue(
            url=url,
            arn=attributes["QueueArn"],
            visibility_timeout=int(attributes.get("VisibilityTimeout", 30)),
            dead_letter_url=self.sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"] if dlq_name else None,
        )

    # -- the round ------------------------------------------------------------------------------
    def run(self) -> RoundSummary:
        from gmail_connect.core import aws

        summary = RoundSummary()
        started = time.perf_counter()
        events_client = aws.client("events")
        events_client.meta.events.register("after-call.events.PutEvents", self._count_events(summary))
        try:
            failed_shards = self.fan_out(summary)
            failed_receipts = self._sync(summary)
        finally:
            events_client.meta.events.unregister("after-call.events.PutEvents", self._counter)
        self._release(self.shards, failed_shards)
        self._release(self.queue, failed_receipts)
        if self.dead_letter_url:
            depth = self.sqs.get_queue_attributes(
                QueueUrl=self.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            summary.dead_letter_depth = int(depth)
        summary.seconds = time.perf_counter() - started
        return summary

    def fan_out(self, summary: RoundSummary) -> list[dict[str, str]]:
        """The scheduler, then every shard through the fan-out; the receipts of failed shards."""
        invoked = time.perf_counter()
        with self._handler_output():
            result = self.scheduler(
                scheduled_event(self.region),
                lambda_context(SCHEDULER_ID, timeout_seconds=self.scheduler_timeout),
            )
        summary.scheduler_seconds = time.perf_counter() - invoked
        summary.segments = int(result.get("segments", 0)) if isinstance(result, dict) else 0
        shards = sys.modules[self.fanout.__module__].shards

        def counted(_: list[dict[str, Any]], response: Mapping[str, Any] | None) -> None:
            if response is not None:
                summary.enqueued += shards.report.enqueued

        drained = self._drain(self.fanout_consumer, counted)
        summary.fanout_seconds = drained.seconds
        summary.shard_failures = len(drained.failed_receipts)
        self.out(f"scheduler: {summary.segments} shards; fan-out: {summary.enqueued} users enqueued")
        return drained.failed_receipts

    def _sync(self, summary: RoundSummary) -> list[dict[str, str]]:
        worker = sys.modules[self.worker.__module__].worker

        def reported(messages: list[dict[str, Any]], response: Mapping[str, Any] | None) -> None:
            failed = len(response.get("batchItemFailures", [])) if response is not None else len(messages)
            if response is not None:
                for outcome, count in worker.report.outcomes.items():
                    summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + count
                summary.new_messages += worker.report.new_messages
            self.out(f"  batch {summary.batches + 1}: {len(messages) - failed} done, {failed} failed")
            summary.batches += 1

        drained = self._drain(self.worker_consumer, reported)
        summary.records = drained.records
        summary.failed = len(drained.failed_receipts)
        summary.worker_seconds = drained.seconds
        return drained.failed_receipts

    def _count_events(self, summary: RoundSummary) -> Callable[..., None]:
        def count(parsed: Mapping[str, Any], **_: Any) -> None:
            entries = parsed.get("Entries") or []
            summary.events_published += len(entries) - int(parsed.get("FailedEntryCount") or 0)

        self._counter = count
        return count

    def _drain(
        self,
        consumer: _Consumer,
        on_batch: Callable[[list[dict[str, Any]], Mapping[str, Any] | None], None],
    ) -> _Drained:
        """Feed the consumer's queue to its handler as Lambda's poller would until it is empty;
        `on_batch` sees each batch and the handler's answer (None when it raised)."""
        drained = _Drained()
        queue = consumer.queue
        empty_polls = 0
        while drained.batches < self.max_batches and empty_polls < 2:
            messages = self.sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=consumer.batch_size,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=queue.visibility_timeout,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                empty_polls += 1
                continue
            empty_polls = 0
            drained.batches += 1
            drained.records += len(messages)
            event = lambda_sqs_event(messages, queue.arn, self.region)
            invoked = time.perf_counter()
            response: Mapping[str, Any] | None
            try:
                with self._handler_output():
                    response = consumer.handler(
                        event, lambda_context(consumer.function_id, timeout_seconds=consumer.timeout)
                    )
                failed_ids = {
                    item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])
                }
            except Exception as error:  # Lambda: the whole batch goes back to the queue
                self.out(f"  {consumer.function_id} raised {type(error).__name__}; its batch is retried")
                response, failed_ids = None, {message["MessageId"] for message in messages}
            drained.seconds += time.perf_counter() - invoked
            on_batch(messages, response)
            done = [m for m in messages if m["MessageId"] not in failed_ids]
            drained.failed_receipts += [
                {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]}
                for m in messages
                if m["MessageId"] in failed_ids
            ]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=queue.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        return drained

    def _handler_output(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.redirect_stdout(io.StringIO()) if self.quiet else contextlib.nullcontext()

    def _release(self, queue: _Queue, receipts: list[dict[str, str]]) -> None:
        """Make failed messages visible again now, rather than after the visibility timeout."""
        for start in range(0, len(receipts), BATCH_SIZE):
            chunk = receipts[start : start + BATCH_SIZE]
            self.sqs.change_message_visibility_batch(
                QueueUrl=queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, r in enumerate(chunk)
                ],
            )


# -- attaching to a running `make local` ------------------------------------------------------


def _aws_endpoint() -> str:
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    port = os.environ.get("AWS_EMULATOR_PORT", "").strip() or "3002"
    return f"http://127.0.0.1:{port}"


def _client_config(template: Mapping[str, Any]) -> dict[str, Any]:
    """The Google client config the running stack stored in its secret."""
    (secret,) = cfn.resources_of_type(template, "AWS::SecretsManager::Secret").values()
    name = cfn.Resolver(template).resolve_str((secret.get("Properties") or {}).get("Name"))
    value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    config: dict[str, Any] = json.loads(value)
    return config


def attach(template: Mapping[str, Any]) -> dict[str, str]:
    """Set this process's environment as the running stack set its own; return the functions' environment.

    Provisioning is idempotent: it finds the stack's resources (and creates any the template
    gained since the stack started, such as the sync queue).
    """
    base = {
        "AWS_ENDPOINT_URL": _aws_endpoint(),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or REGION,
        "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION") or REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")] + [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ]:
        os.environ.pop(name, None)
    os.environ.update(base)
    client_config = _client_config(template)
    environment = {**provision_aws(template, client_config), **base}
    token_uri = str(client_config.get("web", client_config).get("token_uri", ""))
    parts = urlsplit(token_uri)
    if parts.hostname in {"127.0.0.1", "localhost"}:  # the emulator: its endpoints, over plain http
        google = f"{parts.scheme}://{parts.netloc}"
        environment.update(
            {
                "GOOGLE_REVOKE_URI": f"{google}/revoke",
                "GOOGLE_USERINFO_URI": f"{google}/v1/userinfo",
                "GMAIL_API_URL": google,
                "OAUTHLIB_INSECURE_TRANSPORT": "1",
            }
        )
    os.environ.update(environment)
    return environment


def main() -> int:
    from infra.local_stack import sync_report  # here: it imports this module

    template_path = REPO_ROOT / "template.yaml"
    template = cfn.load_template(template_path)
    try:
        environment = attach(template)
    except (BotoCoreError, ClientError, ValueError) as error:
        print(
            f"sync: cannot reach the local stack's AWS at {_aws_endpoint()} ({type(error).__name__}). "
            "Is `make local` running?",
            file=sys.stderr,
        )
        return 2
    # Progress lines, not a log line per user and a metrics blob per batch (LOG_LEVEL=INFO shows them).
    os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("LOG_LEVEL", "WARNING")
    round_ = SyncRound(template, environment, out=lambda line: print(line, flush=True), quiet=True)
    with sync_report.PublishedEvents().recording() as published:
        summary = round_.run()
    print("\n".join(summary.lines()), flush=True)
    print("\n".join(sync_report.lines(summary, published, environment)), flush=True)
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
