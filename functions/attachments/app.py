"""An attachment's bytes as a presigned S3 URL (at most 5 minutes), for a session or an application.

GET /messages/{id}/attachments/{attachment_id} (session; `?redirect=1` answers 302 to the URL,
for `cid:` images in a message's HTML) and GET /v1/connections/{connection_id}/messages/{id}/
attachments/{attachment_id} (SigV4). Its own function: a 25 MB attachment needs a longer timeout
and more memory than the other reads, and only it may write to the attachments bucket.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import connections, inputs, mail_reads, web
from gmail_connect.core.errors import InvalidRequest
from gmail_connect.core.observability import logger, metrics
from gmail_connect.gmail.credentials import StoredCredentials
from gmail_connect.store import sessions

session_app = APIGatewayHttpResolver()
web.register_error_handlers(session_app)
application_app = APIGatewayHttpResolver()
web.register_error_handlers(application_app, application=True)


@session_app.get("/messages/<message_id>/attachments/<attachment_id>")
def session_attachment(message_id: str, attachment_id: str) -> Response:
    event = session_app.current_event.raw_event
    params = inputs.query_params(event, frozenset({"redirect"}))
    if params.get("redirect", "1") != "1":
        raise InvalidRequest("redirect may only be 1.")
    mail_reads.message_id(message_id)
    mail_reads.part_id(attachment_id)
    session = sessions.require(inputs.session_token(event))
    found = mail_reads.attachment(
        StoredCredentials(session.user_id, session=session), message_id, attachment_id
    )
    return web.redirect(found["url"]) if "redirect" in params else web.json_response(200, found)


@application_app.get("/v1/connections/<connection_id>/messages/<message_id>/attachments/<attachment_id>")
def application_attachment(connection_id: str, message_id: str, attachment_id: str) -> Response:
    inputs.query_params(application_app.current_event.raw_event, frozenset())
    mail_reads.message_id(message_id)
    mail_reads.part_id(attachment_id)
    account = connections.resolve(connection_id)
    found = mail_reads.attachment(StoredCredentials(account.user_id), message_id, attachment_id)
    return web.json_response(200, found)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    # The application API and the session routes map errors differently (409 vs 401).
    path = event.get("rawPath") if isinstance(event, dict) else None
    app = application_app if isinstance(path, str) and path.startswith("/v1/") else session_app
    return web.resolve(app, event, context)
