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


def _query(allowed: frozenset[str]) -> dict[str, str]:
    return inputs.query_params(app.current_event.raw_event, allowed)


def _credentials() -> StoredCredentials:
    """The signed-in user's, read only once the request's input was found valid."""
    session = sessions.require(inputs.session_token(app.current_event.raw_event))
    return StoredCredentials(session.user_id, session=session)


@app.get("/messages")
def list_messages() -> Response:
    request = messages.parse(_query(messages.PARAMS))
    return web.json_response(200, messages.page(_credentials(), request))


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> Response:
    _query(frozenset())
    mail_reads.message_id(message_id)
    return web.json_response(200, mail_reads.message(_credentials(), message_id, cid_url=web.attachment_path))


@app.get("/threads")
def list_threads() -> Response:
    request = messages.parse(_query(messages.THREAD_PARAMS))
    return web.json_response(200, mail_reads.threads_page(_credentials(), request))


@app.get("/threads/<thread_id>")
def get_thread(thread_id: str) -> Response:
    _query(frozenset())
    mail_reads.message_id(thread_id)
    return web.json_response(200, mail_reads.thread(_credentials(), thread_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
