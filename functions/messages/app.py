"""The signed-in user's mail: GET /messages (a page), /messages/{id} (a whole message), /threads.

Parameters and ids are validated before anything is read; the user comes only from the session.
A revoked grant answers 401 with the URL that reconnects it. Imports no oauthlib (cold start).
Attachments have their own function (longer timeout, the S3 bucket).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, mail_reads, messages, web
from gmail_connect.core.observability import logger, metrics
from gmail_connect.gmail.credentials import StoredCredentials
from gmail_connect.store import sessions

app = APIGatewayHttpResolver()
web.register_error_handlers(app)


def _credentials(allowed: frozenset[str]) -> tuple[StoredCredentials, dict[str, str]]:
    event = app.current_event.raw_event
    params = inputs.query_params(event, allowed)
    session = sessions.require(inputs.session_token(event))
    return StoredCredentials(session.user_id, session=session), params


@app.get("/messages")
def list_messages() -> Response:
    request = messages.parse(inputs.query_params(app.current_event.raw_event, messages.PARAMS))
    credentials, _ = _credentials(messages.PARAMS)
    return web.json_response(200, messages.page(credentials, request))


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> Response:
    mail_reads.message_id(message_id)
    credentials, _ = _credentials(frozenset())
    return web.json_response(200, mail_reads.message(credentials, message_id, cid_url=web.attachment_path))


@app.get("/threads")
def list_threads() -> Response:
    request = messages.parse(inputs.query_params(app.current_event.raw_event, messages.THREAD_PARAMS))
    credentials, _ = _credentials(messages.THREAD_PARAMS)
    return web.json_response(200, mail_reads.threads_page(credentials, request))


@app.get("/threads/<thread_id>")
def get_thread(thread_id: str) -> Response:
    mail_reads.message_id(thread_id)
    credentials, _ = _credentials(frozenset())
    return web.json_response(200, mail_reads.thread(credentials, thread_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
