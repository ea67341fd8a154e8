"""POST /push/gmail: Gmail's push notifications, delivered by a Pub/Sub push subscription.

The subscription's OIDC token is verified before the body is read (401/403 otherwise, nothing
enqueued); every authentic notification is acknowledged with 204, whatever it says, because
Pub/Sub redelivers anything else forever.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, web
from gmail_connect.core.observability import logger, metrics
from gmail_connect.push import notifications, oidc

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.post("/push/gmail")
def receive() -> Response:
    event = app.current_event.raw_event
    oidc.verify((event.get("headers") or {}).get("authorization"))
    inputs.query_params(event, frozenset({"token"}))  # Pub/Sub may append ?token= from the endpoint URL
    notifications.receive(app.current_event.decoded_body)
    return web.no_content()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
