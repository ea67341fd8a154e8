"""GET /: the console, a static page that shows the product working in a browser.

The page and its two assets come from the layer; the browser then calls the API itself. Nothing
here reads a session, a table or a secret.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import console_page, inputs, web
from gmail_connect.core.observability import logger, metrics

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.get("/")
def index() -> Response:
    inputs.query_params(app.current_event.raw_event, console_page.PAGE_PARAMS)
    return console_page.page()


@app.get("/console.css")
def stylesheet() -> Response:
    params = inputs.query_params(app.current_event.raw_event, console_page.ASSET_PARAMS)
    return console_page.asset_response("console.css", params.get("v"))


@app.get("/console.js")
def script() -> Response:
    params = inputs.query_params(app.current_event.raw_event, console_page.ASSET_PARAMS)
    return console_page.asset_response("console.js", params.get("v"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
