"""GET /oauth/callback: Google's redirect back with a one-time code (or an error).

Validates the state against this browser, exchanges the code, stores the refresh token
encrypted, starts a session and redirects to the page the user came from. Any failure is a
4xx page and stores nothing.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, web
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import InvalidRequest, InvalidState, NoRefreshToken
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.oauth import connect

app = APIGatewayHttpResolver()
web.register_error_handlers(app, pages=True)
PARAMS = frozenset(
    {"code", "state", "error", "scope", "authuser", "prompt", "hd", "iss", "error_description"}
)


@app.get("/oauth/callback")
def callback() -> Response:
    event = app.current_event.raw_event
    params = inputs.query_params(event, PARAMS)
    if not params.get("state"):
        raise InvalidRequest("The sign-in response has no state.")
    if bool(params.get("code")) == bool(params.get("error")):
        raise InvalidRequest("The sign-in response must carry either a code or an error.")
    nonce = inputs.request_cookie(event, web.OAUTH_COOKIE)
    if not nonce:
        raise InvalidState("This sign-in was started in another browser, or its cookie expired. Start again.")
    try:
        connected = connect.complete(
            state=params["state"], browser_nonce=nonce, code=params.get("code"), error=params.get("error")
        )
    except NoRefreshToken as missing:
        # The guide's NoRefreshTokenException: go straight back to Google with consent forced.
        landing = web.consent_again_return(missing.return_to)
        return web.redirect(web.reauthorization_url(missing.email, landing))
    except connect.ConsentAgain as again:
        return web.redirect(again.consent_url)
    except connect.LinkFlowFailed as failed:
        # A connect link's consent failed: the application hears why, on its own page.
        return web.redirect(
            web.with_query(failed.return_url, error=failed.code), [web.expired_cookie(web.OAUTH_COOKIE)]
        )
    metrics.add_metric(name="AccountsConnected", unit=MetricUnit.Count, value=1)
    if connected.return_url is not None:
        back = web.with_query(
            connected.return_url, connection_id=connected.connection_id or "", status="connected"
        )
        return web.redirect(back, [web.expired_cookie(web.OAUTH_COOKIE)])
    session = connected.session_token or ""
    return web.redirect(
        connected.return_to,
        [
            web.cookie(web.SESSION_COOKIE, session, get_settings().session_ttl_seconds),
            web.expired_cookie(web.OAUTH_COOKIE),
        ],
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
