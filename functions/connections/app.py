"""/v1/connections: an application's backend reads and ends its users' connections, any time.

Signed with SigV4 (API Gateway's AWS_IAM authorization): the caller is the application, never
a browser. A connection needing re-authorization answers 409 on reads.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import connections, inputs, mail_reads, messages, web
from gmail_connect.core.observability import logger, metrics
from gmail_connect.gmail.credentials import StoredCredentials

app = APIGatewayHttpResolver()
web.register_error_handlers(app, application=True)


@app.get("/v1/connections")
def list_connections() -> Response:
    params = inputs.query_params(app.current_event.raw_event, frozenset({"external_user_id"}))
    return web.json_response(200, connections.of_external_user(params.get("external_user_id")))


@app.get("/v1/connections/<connection_id>")
def get_connection(connection_id: str) -> Response:
    inputs.query_params(app.current_event.raw_event, frozenset())
    return web.json_response(200, connections.view(connections.resolve(connection_id)))


@app.delete("/v1/connections/<connection_id>")
def delete_connection(connection_id: str) -> Response:
    inputs.query_params(app.current_event.raw_event, frozenset())
    connections.delete(connection_id)
    return web.no_content()


@app.get("/v1/connections/<connection_id>/messages")
def list_messages(connection_id: str) -> Response:
    request = messages.parse(inputs.query_params(app.current_event.raw_event, messages.PARAMS))
    account = connections.resolve(connection_id)
    logger.append_keys(user_id=account.user_id, connection_id=connection_id)
    return web.json_response(200, messages.page(StoredCredentials(account.user_id), request))


@app.get("/v1/connections/<connection_id>/messages/<message_id>")
def get_message(connection_id: str, message_id: str) -> Response:
    inputs.query_params(app.current_event.raw_event, frozenset())
    mail_reads.message_id(message_id)
    account = connections.resolve(connection_id)

    def cid_url(message: str, part: str) -> str:
        return f"/v1/connections/{connection_id}/messages/{message}/attachments/{part}"

    return web.json_response(
        200, mail_reads.message(StoredCredentials(account.user_id), message_id, cid_url=cid_url)
    )


@app.get("/v1/connections/<connection_id>/threads")
def list_threads(connection_id: str) -> Response:
    request = messages.parse(inputs.query_params(app.current_event.raw_event, messages.THREAD_PARAMS))
    account = connections.resolve(connection_id)
    return web.json_response(200, mail_reads.threads_page(StoredCredentials(account.user_id), request))


@app.get("/v1/connections/<connection_id>/threads/<thread_id>")
def get_thread(connection_id: str, thread_id: str) -> Response:
    inputs.query_params(app.current_event.raw_event, frozenset())
    mail_reads.message_id(thread_id)
    account = connections.resolve(connection_id)
    return web.json_response(200, mail_reads.thread(StoredCredentials(account.user_id), thread_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
