"""EventBridge schedule -> one SQS sync message per connected user (the worker syncs them).

Users needing reauthorization are not enqueued. Fails (and the schedule's retry policy runs it
again) only if some users could not be enqueued; re-enqueued users cost one history call each.
The event is read as a plain dict: Powertools' data classes package costs ~20 ms of cold start
for two fields.
"""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.sync import fanout


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    # A manual invocation (`{}`) has no id or time: the invocation's own stand in.
    run_id = str(event.get("id") or context.aws_request_id)
    scheduled_at = str(event.get("time") or datetime.now(UTC).isoformat(timespec="seconds"))
    result = fanout.enqueue_connected_users(run_id=run_id, scheduled_at=scheduled_at)
    metrics.add_metric(name="SyncsEnqueued", unit=MetricUnit.Count, value=result.enqueued)
    logger.info("Sync run enqueued", extra={"users": result.users, "enqueued": result.enqueued})
    return {"run_id": run_id, "users": result.users, "enqueued": result.enqueued}
