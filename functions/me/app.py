"""GET /me: who is signed in and how their Gmail connection stands."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import account_view, inputs, web
from gmail_connect.core.observability import logger, metrics

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.get("/me")
def me() -> Response:
    event = app.current_event.raw_event
    inputs.query_params(event, frozenset())
    return web.json_response(200, account_view.describe(inputs.session_token(event)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
