"""GET /openapi.json: the OpenAPI 3.1 document of every route, as the layer ships it."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, openapi_document, web
from gmail_connect.core.observability import logger, metrics

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.get("/openapi.json")
def document() -> Response:
    inputs.query_params(app.current_event.raw_event, frozenset())
    return openapi_document.response()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
