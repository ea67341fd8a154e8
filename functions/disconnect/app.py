"""POST /oauth/disconnect: revoke the grant at Google, delete the stored tokens, end the session.

Cross-site requests are refused (Origin check) before anything is read. The tokens are deleted
even when Google cannot be reached; the answer is 204 with the session cookie expired.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, web
from gmail_connect.core.observability import logger, metrics
from gmail_connect.oauth import disconnect
from gmail_connect.oauth.client_config import google_client

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.post("/oauth/disconnect")
def disconnect_account() -> Response:
    event = app.current_event.raw_event
    inputs.query_params(event, frozenset())
    inputs.require_same_origin(event, google_client().public_base_url)
    disconnect.disconnect(inputs.session_token(event))
    return web.no_content([web.expired_cookie(web.SESSION_COOKIE)])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
