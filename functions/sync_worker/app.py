"""SQS -> sync each user of the batch (in parallel), reporting only the failed records.

A revoked user is marked reauthorization_required and counts as handled; a poison message or
an unknown user fails its record alone, and after maxReceiveCount ends in the dead-letter queue.
"""

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core.observability import logger, metrics
from gmail_connect.sync import user_sync

processor = user_sync.ConcurrentBatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=user_sync.handle_record, processor=processor, context=context
    )
