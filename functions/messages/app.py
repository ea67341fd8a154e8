"""GET /messages: one page of the signed-in user's Gmail messages (ids, or metadata too).

Parameters are validated before anything is read; the user comes only from the session. A
revoked grant answers 401 with the URL that reconnects it. Imports no oauthlib (cold start).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, messages, web
from gmail_connect.core.observability import logger, metrics
from gmail_connect.gmail.credentials import StoredCredentials
from gmail_connect.store import sessions

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


@app.get("/messages")
def list_messages() -> Response:
    event = app.current_event.raw_event
    request = messages.parse(inputs.query_params(event, messages.PARAMS))
    session = sessions.require(inputs.session_token(event))
    credentials = StoredCredentials(session.user_id, session=session)
    return web.json_response(200, messages.page(credentials, request))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
