"""POST /v1/connect-links: an application's backend asks to connect one of its users' Gmail.

Signed with SigV4 (API Gateway's AWS_IAM authorization). Answers 201 with the single-use URL to
send the user's browser to and when it expires; the link itself is stored only hashed.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import connect_link_request, inputs, web
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import connect_links

app = APIGatewayHttpResolver()
web.register_error_handlers(app, application=True)


@app.post("/v1/connect-links")
def create_link() -> Response:
    event = app.current_event.raw_event
    inputs.query_params(event, frozenset())
    link = connect_link_request.parse(inputs.body_text(event))
    logger.append_keys(external_user_id=link.external_user_id)
    created = connect_links.create(link)
    metrics.add_metric(name="ConnectLinksCreated", unit=MetricUnit.Count, value=1)
    url = web.with_query(f"{google_client().public_base_url}{web.AUTHORIZE_PATH}", link=created.token)
    return web.json_response(201, {"url": url, "expires_at": created.expires_at})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
