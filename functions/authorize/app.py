"""GET /oauth/authorize: send the browser to Google's consent page.

Binds a fresh state to this browser with a short-lived cookie; the PKCE verifier stays
server-side with the state. Imports no oauthlib or googleapiclient (cold start).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.api import inputs, web
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import InvalidRequest
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.core.opaque_tokens import is_token_shaped, new_token
from gmail_connect.oauth import connect
from gmail_connect.store import connect_links, sessions

app = APIGatewayHttpResolver()
web.register_error_handlers(app, pages=True)
PARAMS = frozenset({"return_to", "login_hint", "prompt", "link"})


@app.get("/oauth/authorize")
def authorize() -> Response:
    event = app.current_event.raw_event
    params = inputs.query_params(event, PARAMS)
    if params.get("prompt", "consent") != "consent":
        raise InvalidRequest("prompt may only be 'consent'.")
    if "link" in params and len(params) > 1:
        raise InvalidRequest("A connect link takes no other parameters.")
    # Reuse this browser's binding if it has one, so two tabs signing in at once both succeed.
    existing = inputs.request_cookie(event, web.OAUTH_COOKIE)
    nonce = existing if existing and is_token_shaped(existing) else new_token()
    if "link" in params:
        # An application's connect link: single use, for the user and return it was made for.
        link = connect_links.consume(params["link"])
        url = connect.start(return_to=web.DEFAULT_RETURN_TO, browser_nonce=nonce, link=link)
    else:
        url = connect.start(
            return_to=inputs.safe_return_to(params.get("return_to"), web.DEFAULT_RETURN_TO),
            browser_nonce=nonce,
            login_hint=inputs.login_hint(params.get("login_hint")),
            force_consent="prompt" in params,
            signed_in=sessions.current(inputs.session_token(event)),
        )
    metrics.add_metric(name="AuthorizationsStarted", unit=MetricUnit.Count, value=1)
    return web.redirect(url, [web.cookie(web.OAUTH_COOKIE, nonce, get_settings().state_ttl_seconds)])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return web.resolve(app, event, context)
