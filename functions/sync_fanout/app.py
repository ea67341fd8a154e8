"""SQS (shard queue) -> one sync message per connected user of the shard's segment of the index.

A shard that could not enqueue every user fails its record alone; SQS delivers it again and,
after maxReceiveCount, moves it to the dead-letter queue.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core.observability import logger, metrics
from gmail_connect.sync.fanout import ShardFanout

shards = ShardFanout()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return shards.handle(event, context)
