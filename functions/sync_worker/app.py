"""SQS -> sync each user of the batch (in parallel), reporting only the failed records.

A revoked user is marked reauthorization_required and counts as handled; a poison message or
an unknown user fails its record alone, and after maxReceiveCount ends in the dead-letter queue.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core.observability import logger, metrics
from gmail_connect.sync.worker import SyncWorker

worker = SyncWorker()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return worker.handle(event, context)
