"""EventBridge schedule -> one shard message per segment of the connected users (the fan-out enqueues them).

The scheduler itself reads no user: it splits the round into `SYNC_FANOUT_SEGMENTS` segments of
a parallel Scan and sends one message per segment to the shard queue, so the round's fan-out runs
in parallel however many users there are (docs/sync.md). Fails (and the schedule's retry policy
runs it again) only if some shards could not be enqueued. The event is read as a plain dict:
Powertools' data classes package costs ~20 ms of cold start for two fields.
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
    plan = fanout.plan_round(run_id=run_id, scheduled_at=scheduled_at)
    metrics.add_metric(name="SyncShardsPlanned", unit=MetricUnit.Count, value=plan.segments)
    logger.info("Sync round planned", extra={"segments": plan.segments})
    return {"run_id": run_id, "segments": plan.segments}
