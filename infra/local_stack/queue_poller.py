"""``make local``'s stand-in for Lambda's SQS event source: the sync worker drains the sync queue.

Deployed, Lambda polls ``SyncQueue`` and invokes the worker with up to 10 records, deleting what
succeeded and leaving the failed records to come back after the visibility timeout. Locally a
thread does the same against moto, so a push notification (or a new connection) is synced - and
its mail announced on the bus - within about a second, without ``make sync``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import boto3

from infra.local_stack.apigw import lambda_context
from infra.local_stack.sync import lambda_sqs_event

BATCH_SIZE = 10
RETRY_AFTER_SECONDS = 5  # a failed record comes back after this (the deployed queue: 6 x timeout)


class QueuePoller:
    def __init__(self, queue_url: str, worker: Callable[[dict[str, Any], Any], Any], *, region: str) -> None:
        self._queue_url = queue_url
        self._worker = worker
        self._region = region
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> QueuePoller:
        self._thread = threading.Thread(target=self._run, name="local-sync-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        sqs = boto3.session.Session().client("sqs", region_name=self._region)
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        while not self._stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=BATCH_SIZE,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    self._invoke(sqs, queue_arn, messages)
            except Exception as error:  # the poller outlives one bad batch, as Lambda's does
                if not self._stopping.is_set():
                    print(f"local stack: sync poller: {error!r}", file=sys.stderr)
                self._stopping.wait(1)

    def _invoke(self, sqs: Any, queue_arn: str, messages: list[dict[str, Any]]) -> None:
        self.batches += 1
        try:
            response = self._worker(
                lambda_sqs_event(messages, queue_arn, self._region), lambda_context("sync_worker")
            )
            failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        except Exception:  # the whole batch failed: every record comes back
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in messages:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=RETRY_AFTER_SECONDS,
                )
