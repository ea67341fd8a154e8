"""template.yaml, samconfig.toml and events/: the deployed shape, checked without building.

The security rules the template carries: least privilege per function (docs/architecture.md
lists what each may do), KMS only under the token encryption context, the client secret only
in Secrets Manager, TTL on states and sessions, PITR + deletion protection, key rotation, and
timeouts well inside API Gateway's.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from gmail_connect.store import accounts, connection_index
from infra.cfn import Resolver, http_routes, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
GLOBALS = TEMPLATE["Globals"]["Function"]

ROUTES = {
    "AuthorizeFunction": ("functions/authorize/", {("GET", "/oauth/authorize")}),
    "CallbackFunction": ("functions/callback/", {("GET", "/oauth/callback")}),
    "MeFunction": ("functions/me/", {("GET", "/me")}),
    "MessagesFunction": (
        "functions/messages/",
        {
            ("GET", "/messages"),
            ("GET", "/messages/{message_id}"),
            ("GET", "/threads"),
            ("GET", "/threads/{thread_id}"),
        },
    ),
    "AttachmentsFunction": (
        "functions/attachments/",
        {
            ("GET", "/messages/{message_id}/attachments/{attachment_id}"),
            ("GET", "/v1/connections/{connection_id}/messages/{message_id}/attachments/{attachment_id}"),
        },
    ),
    "DisconnectFunction": ("functions/disconnect/", {("POST", "/oauth/disconnect")}),
    "ConsoleFunction": (
        "functions/console/",
        {("GET", "/"), ("GET", "/console.css"), ("GET", "/console.js")},
    ),
    "ConnectLinksFunction": ("functions/connect_links/", {("POST", "/v1/connect-links")}),
    "PushFunction": ("functions/push/", {("POST", "/push/gmail")}),
    "ConnectionsFunction": (
        "functions/connections/",
        {
            ("GET", "/v1/connections"),
            ("GET", "/v1/connections/{connection_id}"),
            ("DELETE", "/v1/connections/{connection_id}"),
            ("GET", "/v1/connections/{connection_id}/messages"),
            ("GET", "/v1/connections/{connection_id}/messages/{message_id}"),
            ("GET", "/v1/connections/{connection_id}/threads"),
            ("GET", "/v1/connections/{connection_id}/threads/{thread_id}"),
        },
    ),
    "OpenApiFunction": ("functions/openapi/", {("GET", "/openapi.json")}),
}
# The application API (/v1): signed by the application's backend (SigV4), never reachable without it.
# docs/architecture.md: what each function may do, resource by resource. Nothing else.
PERMISSIONS = {
    "AuthorizeFunction": {
        "StatesTable": {"dynamodb:PutItem"},
        "ConnectLinksTable": {"dynamodb:DeleteItem"},
        "SessionsTable": {"dynamodb:GetItem"},
        "TokensTable": {"dynamodb:GetItem"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
    },
    "CallbackFunction": {
        "StatesTable": {"dynamodb:DeleteItem", "dynamodb:PutItem"},
        "TokensTable": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "SessionsTable": {"dynamodb:PutItem"},
        "TokenKey": {"kms:Encrypt", "kms:Decrypt"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
        "ConnectionsTable": {"dynamodb:PutItem", "dynamodb:DeleteItem"},
    },
    "AttachmentsFunction": {
        "SessionsTable": {"dynamodb:GetItem"},
        "ConnectionsTable": {"dynamodb:GetItem"},
        "TokensTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "TokenKey": {"kms:Encrypt", "kms:Decrypt"},
        "AttachmentsBucket/*": {"s3:PutObject", "s3:GetObject"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
    },
    "PushFunction": {
        "ConnectionsTable/index/by_email": {"dynamodb:Query"},
        "TokensTable": {"dynamodb:GetItem"},
        "SyncQueue": {"sqs:SendMessage"},
    },
    "ConnectLinksFunction": {
        "ConnectLinksTable": {"dynamodb:PutItem"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
    },
    "ConnectionsFunction": {
        "ConnectionsTable": {"dynamodb:GetItem", "dynamodb:DeleteItem"},
        "ConnectionsTable/index/by_external_user": {"dynamodb:Query"},
        "TokensTable": {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        "TokenKey": {"kms:Encrypt", "kms:Decrypt"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
    },
    "MeFunction": {
        "SessionsTable": {"dynamodb:GetItem"},
        "TokensTable": {"dynamodb:GetItem"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
    },
    "MessagesFunction": {
        "SessionsTable": {"dynamodb:GetItem"},
        "TokensTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "TokenKey": {"kms:Encrypt", "kms:Decrypt"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
    },
    "SyncSchedulerFunction": {
        "SyncShardQueue": {"sqs:SendMessage"},
    },
    "SyncFanoutFunction": {
        "TokensTable/index/by_status": {"dynamodb:Scan"},
        "SyncQueue": {"sqs:SendMessage"},
        "SyncShardQueue": {"sqs:SendMessage"},
    },
    "SyncWorkerFunction": {
        "TokensTable": {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"},
        "TokenKey": {"kms:Encrypt", "kms:Decrypt"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
    },
    # Serves a file of its layer: no policy beyond SAM's basic execution role (its logs).
    "OpenApiFunction": {},
    "DisconnectFunction": {
        "SessionsTable": {"dynamodb:GetItem", "dynamodb:DeleteItem"},
        "TokensTable": {"dynamodb:GetItem", "dynamodb:DeleteItem"},
        "ConnectionsTable": {"dynamodb:DeleteItem"},
        "TokenKey": {"kms:Decrypt"},
        "GoogleClientSecret": {"secretsmanager:GetSecretValue"},
        "MailEventBus": {"events:PutEvents"},
    },
    # A static page: the browser calls the API itself, so nothing beyond its logs.
    "ConsoleFunction": {},
}
REFRESH, ACCESS = "gmail-refresh-token", "gmail-access-token"
# Who may use the token key, for what, and under which purposes (docs/architecture.md).
KMS_GRANTS = {
    "CallbackFunction": {"kms:Encrypt": {REFRESH, ACCESS}, "kms:Decrypt": {REFRESH, ACCESS}},
    "MessagesFunction": {"kms:Encrypt": {ACCESS}, "kms:Decrypt": {REFRESH, ACCESS}},
    "DisconnectFunction": {"kms:Decrypt": {REFRESH}},
    "ConnectionsFunction": {"kms:Encrypt": {ACCESS}, "kms:Decrypt": {REFRESH, ACCESS}},
    "AttachmentsFunction": {"kms:Encrypt": {ACCESS}, "kms:Decrypt": {REFRESH, ACCESS}},
    "SyncWorkerFunction": {"kms:Encrypt": {ACCESS}, "kms:Decrypt": {REFRESH, ACCESS}},
}
# Attributes of a TokensTable item a function may read when it must not see ciphertexts: the
# layer's own lists (what its reads project), so template and code cannot drift apart.
TOKEN_ATTRIBUTES = {
    "AuthorizeFunction": set(accounts.STATUS_ATTRIBUTES),
    "MeFunction": set(accounts.PROFILE_ATTRIBUTES),
}
# Functions that act for the user read the credential attributes, and refresh writes only these.
CREDENTIAL_READERS = ("MessagesFunction", "DisconnectFunction")
ACCESS_TOKEN_WRITERS = ("MessagesFunction", "AttachmentsFunction")
TOKEN_SECRETS = {"refresh_token", "access_token", "access_token_expires_at", "version", "history_id"}
ENVIRONMENT = {
    "TOKENS_TABLE": {"Ref": "TokensTable"},
    "STATES_TABLE": {"Ref": "StatesTable"},
    "SESSIONS_TABLE": {"Ref": "SessionsTable"},
    "TOKEN_KEY_ID": {"Ref": "TokenKey"},
    "GOOGLE_CLIENT_SECRET_ID": {"Ref": "GoogleClientSecret"},
    "PUBLIC_BASE_URL": {"Ref": "PublicBaseUrl"},
    "STATE_TTL_SECONDS": "600",
    "SESSION_TTL_SECONDS": "604800",
    "LINKS_TABLE": {"Ref": "ConnectLinksTable"},
    "CONNECTIONS_TABLE": {"Ref": "ConnectionsTable"},
    "MAIL_EVENT_BUS_NAME": {"Ref": "MailEventBus"},
    "ALLOWED_RETURN_ORIGINS": {"Ref": "AllowedReturnOrigins"},
    "GMAIL_PUSH_TOPIC": {"Ref": "GmailPushTopic"},
    "CONNECT_LINK_TTL_SECONDS": "900",
    "OAUTHLIB_RELAX_TOKEN_SCOPE": "1",
    "POWERTOOLS_SERVICE_NAME": "gmail-connect",
    "POWERTOOLS_METRICS_NAMESPACE": "GmailConnect",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def statements(function_id: str) -> list[dict[str, Any]]:
    """Every IAM statement of a function's inline policies."""
    found = []
    for policy in FUNCTIONS[function_id]["Properties"].get("Policies", []):
        # only inline Statement lists: no managed policies, no policy templates
        assert isinstance(policy, dict), f"{function_id}: {policy}"
        assert set(policy) == {"Statement"}, f"{function_id}: {policy}"
        found.extend(policy["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def logical_id(resource: Any) -> str:
    """``!GetAtt X.Arn`` / ``!Ref X`` -> ``X``; ``!Sub ${X.Arn}/index/I`` -> ``X/index/I``;
    ``!Sub ${X.Arn}/*`` (a bucket's objects) -> ``X/*``; anything else (a literal ARN, ``*``) fails."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"]
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[\w-]+|/\*)", resource["Fn::Sub"])
        if match:
            return match.group(1) + match.group(2)
    raise AssertionError(f"policy resource {resource!r} is not a reference to one of the stack's resources")


def granted(function_id: str) -> dict[str, set[str]]:
    result: dict[str, set[str]] = defaultdict(set)
    for statement in statements(function_id):
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            result[logical_id(resource)] |= set(as_list(statement["Action"]))
    return dict(result)


# ---------------------------------------------------------------------------- globals
def test_globals_fix_runtime_architecture_timeout_and_tracing() -> None:
    assert GLOBALS["Runtime"] == "python3.13"
    assert GLOBALS["Architectures"] == ["arm64"]
    # well inside API Gateway's 30 s integration timeout
    assert 0 < GLOBALS["Timeout"] <= 15
    assert GLOBALS["MemorySize"] >= 256
    assert GLOBALS["Layers"] == [{"Ref": "AuthLayer"}]
    # Tracer's cold-init cost breaks the authorize budget (README, "Design notes (measured)"):
    # tracing is off, explicitly.
    assert GLOBALS["Tracing"] == "Disabled"


def test_every_function_states_the_memory_its_measurements_chose() -> None:
    # Lambda gives CPU in proportion to memory, so the size is a per-function decision (make bench)
    for function_id, function in FUNCTIONS.items():
        memory = function["Properties"].get("MemorySize")
        assert isinstance(memory, int), f"{function_id} inherits its memory size"
        assert 128 <= memory <= 10240, function_id
    # The browser waits on a cold start, which is CPU-bound: the API functions get a larger share
    for function_id in ROUTES:
        assert FUNCTIONS[function_id]["Properties"]["MemorySize"] >= 1024, function_id
    # The sync worker mostly waits on Gmail: it is cheapest small
    assert FUNCTIONS["SyncWorkerFunction"]["Properties"]["MemorySize"] <= 512


# Variables only the sync functions need, on top of the shared environment (docs/sync.md).
FUNCTION_ENVIRONMENT = {
    "PushFunction": {
        "PUSH_AUDIENCE": {"Ref": "PushAudience"},
        "PUSH_SERVICE_ACCOUNT": {"Ref": "PushServiceAccountEmail"},
        "SYNC_QUEUE_URL": {"Ref": "SyncQueue"},
    },
    "AttachmentsFunction": {"ATTACHMENTS_BUCKET": {"Ref": "AttachmentsBucket"}},
    "SyncSchedulerFunction": {
        "SYNC_SHARD_QUEUE_URL": {"Ref": "SyncShardQueue"},
        "SYNC_FANOUT_SEGMENTS": {"Ref": "SyncFanoutSegments"},
    },
    "SyncFanoutFunction": {
        "SYNC_QUEUE_URL": {"Ref": "SyncQueue"},
        "SYNC_SHARD_QUEUE_URL": {"Ref": "SyncShardQueue"},
    },
    "SyncWorkerFunction": {
        "SYNC_BACKFILL_MESSAGES": {"Ref": "SyncBackfillMessages"},
        "SYNC_CONCURRENCY": "10",
    },
}


def test_every_function_gets_exactly_the_documented_environment() -> None:
    assert GLOBALS["Environment"]["Variables"] == ENVIRONMENT
    for function_id, function in FUNCTIONS.items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        assert own == FUNCTION_ENVIRONMENT.get(function_id, {}), function_id
        assert not set(own) & set(ENVIRONMENT), f"{function_id} overrides the shared environment"


def test_the_client_secret_is_never_in_the_environment() -> None:
    variables = GLOBALS["Environment"]["Variables"]
    assert not any("SECRET" in name and name != "GOOGLE_CLIENT_SECRET_ID" for name in variables)
    assert variables["GOOGLE_CLIENT_SECRET_ID"] == {"Ref": "GoogleClientSecret"}
    # Google's endpoints default to Google's in the code; only the local stack sets them.
    assert not {"GOOGLE_REVOKE_URI", "GOOGLE_USERINFO_URI", "GMAIL_API_URL"} & set(variables)


def test_layer_is_built_by_the_makefile_for_arm64() -> None:
    layer = RESOURCES["AuthLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "shared/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "shared" / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^build-AuthLayer:", makefile, re.MULTILINE)
    assert re.search(r"^LAYER_PLATFORM \?= manylinux2014_aarch64$", makefile, re.MULTILINE)


# ---------------------------------------------------------------------------- routes
def test_each_function_serves_exactly_its_routes_on_the_http_api() -> None:
    routes = {(route.function_id, route.method, route.path) for route in http_routes(TEMPLATE)}
    assert routes == {
        (fid, *route) for fid, (_, function_routes) in ROUTES.items() for route in function_routes
    }
    for function_id, (code_uri, function_routes) in ROUTES.items():
        properties = FUNCTIONS[function_id]["Properties"]
        assert properties["CodeUri"] == code_uri
        assert properties["Handler"] == "app.handler"
        events = list(properties["Events"].values())
        assert len(events) == len(function_routes)
        assert all(event["Properties"]["ApiId"] == {"Ref": "HttpApi"} for event in events)
        assert (ROOT / code_uri).is_dir(), f"{code_uri} does not exist"


def test_the_application_api_is_reachable_only_with_sigv4() -> None:
    # Every /v1 route, and only those, uses API Gateway's AWS_IAM authorizer
    assert RESOURCES["HttpApi"]["Properties"]["Auth"] == {"EnableIamAuthorizer": True}
    for function_id, function in FUNCTIONS.items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            authorizer = (event["Properties"].get("Auth") or {}).get("Authorizer")
            is_v1 = event["Properties"]["Path"].startswith("/v1/")
            assert (authorizer == "AWS_IAM") == is_v1, f"{function_id} {event['Properties']['Path']}"


def test_http_api_is_throttled_and_logs_without_query_strings() -> None:
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    settings = api["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    fields = json.loads(settings["Format"])
    assert {"requestId", "routeKey", "status", "ip", "latency"} <= set(fields)
    # OAuth codes and states travel in the query string, which is never logged.
    for forbidden in ("$context.path", "querystring", "rawQueryString", "$request", "$context.authorizer"):
        assert forbidden not in settings["Format"]


# ---------------------------------------------------------------------------- IAM
def test_every_function_has_its_permissions_listed_here() -> None:
    assert set(PERMISSIONS) == set(FUNCTIONS)


@pytest.mark.parametrize("function_id", sorted(PERMISSIONS))
def test_function_is_granted_exactly_what_architecture_md_lists(function_id: str) -> None:
    assert granted(function_id) == PERMISSIONS[function_id]


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_no_wildcards_in_actions_or_resources(function_id: str) -> None:
    for statement in statements(function_id):
        assert all("*" not in action for action in as_list(statement["Action"]))
        assert all(resource != "*" for resource in as_list(statement["Resource"]))


@pytest.mark.parametrize(
    ("function_id", "queue_id", "batch_size", "dead_letters"),
    [
        ("SyncFanoutFunction", "SyncShardQueue", 1, "SyncShardDeadLetterQueue"),
        ("SyncWorkerFunction", "SyncQueue", 10, "SyncDeadLetterQueue"),
    ],
)
def test_queue_consumers_report_partial_failures_and_their_queues_outlast_them(
    function_id: str, queue_id: str, batch_size: int, dead_letters: str
) -> None:
    # Given the function's one event source
    (event,) = FUNCTIONS[function_id]["Properties"]["Events"].values()
    source = event["Properties"]
    # Then it polls its queue in batches of the documented size, reporting failed records alone
    assert event["Type"] == "SQS"
    assert source["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert source["BatchSize"] == batch_size
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumConcurrency" in source["ScalingConfig"]
    # And a message in flight is never handed to a second invocation (AWS: 6 x the timeout), and
    # one failing every time ends in the dead-letter queue
    queue = RESOURCES[queue_id]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * FUNCTIONS[function_id]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letters, "Arn"]}
    # (a dead-letter queue is of its source's type: FIFO for the sync queue, standard for shards)
    assert RESOURCES[dead_letters]["Properties"].get("FifoQueue", False) == queue.get("FifoQueue", False)
    assert queue["SqsManagedSseEnabled"] is True


def test_authorize_function_cannot_touch_kms_or_token_ciphertexts() -> None:
    actions = {a for statement in statements("AuthorizeFunction") for a in as_list(statement["Action"])}
    assert not any(action.startswith("kms:") for action in actions)


@pytest.mark.parametrize("function_id", sorted(TOKEN_ATTRIBUTES))
def test_token_reads_without_kms_are_limited_to_non_secret_attributes(function_id: str) -> None:
    token_statements = [
        s for s in statements(function_id) if logical_id(as_list(s["Resource"])[0]) == "TokensTable"
    ]
    assert token_statements
    for statement in token_statements:
        condition = statement["Condition"]
        attributes = set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])
        assert attributes == TOKEN_ATTRIBUTES[function_id]
        assert not attributes & TOKEN_SECRETS
        # without this, a Query/Scan with Select=ALL_ATTRIBUTES would slip past the attribute list
        assert condition["StringEqualsIfExists"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}


def _token_statement_attributes(function_id: str, action: str) -> list[set[str]]:
    return [
        set(s["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"])
        for s in statements(function_id)
        if logical_id(as_list(s["Resource"])[0]) == "TokensTable" and action in as_list(s["Action"])
    ]


@pytest.mark.parametrize("function_id", CREDENTIAL_READERS)
def test_credential_reads_are_limited_to_what_the_layer_projects(function_id: str) -> None:
    # The layer's credential read projects exactly these; IAM allows no more (and no fewer)
    assert _token_statement_attributes(function_id, "dynamodb:GetItem") == [
        set(accounts.CREDENTIAL_ATTRIBUTES)
    ]


@pytest.mark.parametrize("function_id", ACCESS_TOKEN_WRITERS)
def test_access_token_writes_cannot_touch_the_refresh_token(function_id: str) -> None:
    assert _token_statement_attributes(function_id, "dynamodb:UpdateItem") == [
        set(accounts.ACCESS_TOKEN_WRITE_ATTRIBUTES)
    ]
    assert "refresh_token" not in accounts.ACCESS_TOKEN_WRITE_ATTRIBUTES


def test_token_key_use_is_limited_per_function_and_bound_to_the_token_context() -> None:
    # Given every KMS statement of every function
    grants: dict[str, dict[str, set[str]]] = {}
    for function_id in FUNCTIONS:
        for statement in statements(function_id):
            actions = [a for a in as_list(statement["Action"]) if a.startswith("kms:")]
            if not actions:
                continue
            # Then each is on the token key alone, with a purpose, the two context keys and a user id
            assert [logical_id(r) for r in as_list(statement["Resource"])] == ["TokenKey"]
            condition = statement["Condition"]
            purposes = set(as_list(condition["StringEquals"]["kms:EncryptionContext:purpose"]))
            assert set(condition["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"]) == {
                "purpose",
                "user_id",
            }
            assert condition["Null"] == {"kms:EncryptionContext:user_id": "false"}
            for action in actions:
                grants.setdefault(function_id, {}).setdefault(action, set()).update(purposes)
    # And only the functions that need plaintext tokens have any, for exactly their purposes
    assert grants == KMS_GRANTS


def test_secret_reads_are_limited_to_the_google_client_secret() -> None:
    for function_id in FUNCTIONS:
        for statement in statements(function_id):
            if any(action.startswith("secretsmanager:") for action in as_list(statement["Action"])):
                assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
                assert [logical_id(r) for r in as_list(statement["Resource"])] == ["GoogleClientSecret"]


# ---------------------------------------------------------------------------- logs
@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_function_has_its_own_log_group_with_retention(function_id: str) -> None:
    groups = [
        resource["Properties"]
        for resource in resources_of_type(TEMPLATE, "AWS::Logs::LogGroup").values()
        if resource["Properties"].get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{function_id}}}"}
    ]
    assert len(groups) == 1
    assert groups[0]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_all_log_groups_have_retention() -> None:
    groups = resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    assert len(groups) == len(FUNCTIONS) + 1  # + the API's access log
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30


# ---------------------------------------------------------------------------- data
TABLE_KEYS = {"TokensTable": "user_id", "StatesTable": "state_id", "SessionsTable": "session_id"}


@pytest.mark.parametrize("table_id", sorted(TABLE_KEYS))
def test_tables_are_on_demand_recoverable_protected_and_encrypted(table_id: str) -> None:
    table = RESOURCES[table_id]
    properties = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert properties["KeySchema"] == [{"AttributeName": TABLE_KEYS[table_id], "KeyType": "HASH"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # CloudFormation names them; the local stack uses the logical id.
    assert "TableName" not in properties


@pytest.mark.parametrize("table_id", ["StatesTable", "SessionsTable"])
def test_states_and_sessions_expire_by_ttl(table_id: str) -> None:
    ttl = RESOURCES[table_id]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_tokens_table_is_retained_and_indexed_by_status() -> None:
    tokens = RESOURCES["TokensTable"]
    assert tokens["DeletionPolicy"] == "Retain"
    assert tokens["UpdateReplacePolicy"] == "Retain"
    assert "TimeToLiveSpecification" not in tokens["Properties"]
    # Exactly the one index a deployed stack has: CloudFormation cannot add several in one update
    (index,) = tokens["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_status"
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "user_id", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_connections_are_found_through_their_own_table_and_its_indexes() -> None:
    table = RESOURCES["ConnectionsTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "connection_id", "KeyType": "HASH"}]
    indexes = {index["IndexName"]: index for index in table["Properties"]["GlobalSecondaryIndexes"]}
    assert set(indexes) == {connection_index.BY_EXTERNAL_USER, connection_index.BY_EMAIL}
    for index in indexes.values():  # pointers only: the user id, never a token
        assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["user_id"]}


def test_token_key_rotates_is_retained_and_governed_by_iam() -> None:
    key = RESOURCES["TokenKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    (statement,) = key["Properties"]["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    alias = RESOURCES["TokenKeyAlias"]["Properties"]
    assert alias["AliasName"] == {"Fn::Sub": "alias/gmail-connect-${Stage}-tokens"}
    assert alias["TargetKeyId"] == {"Ref": "TokenKey"}


def test_client_secret_lives_in_secrets_manager_with_a_placeholder() -> None:
    secret = RESOURCES["GoogleClientSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["Name"] == {"Fn::Sub": "gmail-connect/${Stage}/google-client"}
    assert "client_secret.json" in secret["Properties"]["Description"]
    assert "SecretString" not in secret["Properties"]  # never a value in the template
    assert "GenerateSecretString" in secret["Properties"]


# ---------------------------------------------------------------------------- outputs
def test_outputs_give_an_operator_what_they_need() -> None:
    outputs = TEMPLATE["Outputs"]
    assert {
        "ApiUrl",
        "RedirectUri",
        "GoogleClientSecretArn",
        "TokensTableName",
        "StatesTableName",
        "SessionsTableName",
        "TokenKeyArn",
    } <= set(outputs)
    assert "Google Cloud console" in outputs["RedirectUri"]["Description"]
    for branch in outputs["RedirectUri"]["Value"]["Fn::If"][1:]:
        assert branch["Fn::Sub"].endswith("/oauth/callback")
    assert "aws secretsmanager put-secret-value" in outputs["GoogleClientSecretArn"]["Description"]
    assert outputs["GoogleClientSecretArn"]["Value"] == {"Ref": "GoogleClientSecret"}
    assert outputs["TokenKeyArn"]["Value"] == {"Fn::GetAtt": ["TokenKey", "Arn"]}


# ---------------------------------------------------------------------------- custom domain
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.mark.parametrize(
    ("parameters", "created"),
    [
        ({}, False),
        ({"PublicBaseUrl": "https://api.example.com"}, False),
        ({"CertificateArn": CERTIFICATE}, False),
        ({"PublicBaseUrl": "https://api.example.com", "CertificateArn": CERTIFICATE}, True),
    ],
    ids=["neither", "url-only", "certificate-only", "both"],
)
def test_the_custom_domain_exists_only_with_a_public_url_and_a_certificate(
    parameters: dict[str, str], created: bool
) -> None:
    # Given the template deployed with these parameters (the rest at their defaults)
    resolver = Resolver(TEMPLATE, parameters=parameters)
    # Then the domain, its mapping and the DNS outputs come and go together
    for logical_id in ("ApiDomain", "ApiDomainMapping"):
        assert RESOURCES[logical_id]["Condition"] == "HasCustomDomain"
    for output in ("CustomDomainTarget", "CustomDomainHostedZoneId"):
        assert TEMPLATE["Outputs"][output]["Condition"] == "HasCustomDomain"
    assert resolver.condition("HasCustomDomain") is created


def test_the_custom_domain_serves_the_public_url_host_over_tls_1_2() -> None:
    # Given a deploy with a custom domain
    resolver = Resolver(
        TEMPLATE, parameters={"PublicBaseUrl": "https://api.example.com", "CertificateArn": CERTIFICATE}
    )
    domain = resolver.resolve(RESOURCES["ApiDomain"]["Properties"])
    mapping = RESOURCES["ApiDomainMapping"]["Properties"]
    # Then the domain is PublicBaseUrl's host (the redirect URI the code builds lives there)
    assert domain["DomainName"] == "api.example.com"
    assert domain["DomainNameConfigurations"] == [
        {"CertificateArn": CERTIFICATE, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
    ]
    # And the whole API (its default stage, at the root path) is mapped onto it
    assert mapping == {
        "DomainName": {"Ref": "ApiDomain"},
        "ApiId": {"Ref": "HttpApi"},
        "Stage": {"Ref": "HttpApi.Stage"},
    }
    assert TEMPLATE["Outputs"]["CustomDomainTarget"]["Value"] == {
        "Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]
    }
    pattern = re.compile(TEMPLATE["Parameters"]["CertificateArn"]["AllowedPattern"])
    assert pattern.fullmatch(CERTIFICATE)
    assert pattern.fullmatch("")
    assert not pattern.fullmatch("arn:aws:iam::123456789012:role/not-a-certificate")


# ---------------------------------------------------------------------------- checkov
CHECKOV_SKIPS = [
    (logical_id, skip)
    for logical_id, resource in RESOURCES.items()
    for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
]


def test_every_checkov_suppression_says_why() -> None:
    # Given the suppressions `make checkov` honours (each resource's Metadata)
    assert CHECKOV_SKIPS, "template.yaml suppresses no checkov check: is the Metadata key still `checkov`?"
    for logical_id, skip in CHECKOV_SKIPS:
        # Then each names one check and gives a reason (checkov itself would accept none)
        assert set(skip) == {"id", "comment"}, f"{logical_id}: {skip}"
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), f"{logical_id}: {skip}"
        assert isinstance(skip["comment"], str), f"{logical_id}: {skip}"
        assert len(skip["comment"].split()) >= 5, f"{logical_id} {skip['id']}: the reason is too short"
    # And a check is suppressed at most once per resource
    pairs = [(logical_id, skip["id"]) for logical_id, skip in CHECKOV_SKIPS]
    assert len(pairs) == len(set(pairs))


def test_no_checkov_suppression_hides_in_a_yaml_comment() -> None:
    # Given the template's text (checkov also honours `# checkov:skip=ID:reason` comment lines,
    # which the Metadata test above cannot see)
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    # Then no suppression is written that way
    assert not re.search(r"(checkov|bridgecrew):skip", text, flags=re.IGNORECASE)


# ---------------------------------------------------------------------------- samconfig
def test_samconfig_deploys_dev_by_default_and_prod_with_confirmation() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    assert config["default"]["build"]["parameters"]["cached"] is True
    assert config["default"]["validate"]["parameters"]["lint"] is True
    for env, stage in (("default", "dev"), ("dev", "dev"), ("prod", "prod")):
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["stack_name"] == f"gmail-connect-{stage}"
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["resolve_s3"] is True
        assert deploy["parameter_overrides"] == f"Stage={stage}"
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


# ---------------------------------------------------------------------------- events
EVENTS = sorted((ROOT / "events").glob("*.json"))
EVENT_FUNCTIONS = {
    "authorize.json": "AuthorizeFunction",
    "callback.json": "CallbackFunction",
    "callback_denied.json": "CallbackFunction",
    "me.json": "MeFunction",
    "messages.json": "MessagesFunction",
    "disconnect.json": "DisconnectFunction",
    "sync_scheduler.json": "SyncSchedulerFunction",
    "sync_fanout.json": "SyncFanoutFunction",
    "sync_worker.json": "SyncWorkerFunction",
    "connect_links.json": "ConnectLinksFunction",
    "connection_messages.json": "ConnectionsFunction",
    "attachment.json": "AttachmentsFunction",
    "push.json": "PushFunction",
    "console.json": "ConsoleFunction",
    "openapi.json": "OpenApiFunction",
}
HTTP_EVENTS = [path for path in EVENTS if EVENT_FUNCTIONS.get(path.name) in ROUTES]


def test_there_is_a_sample_event_for_every_route() -> None:
    assert {path.name for path in EVENTS} >= set(EVENT_FUNCTIONS)
    assert set(EVENT_FUNCTIONS.values()) == set(FUNCTIONS)


@pytest.mark.parametrize("path", HTTP_EVENTS, ids=lambda p: p.name)
def test_sample_events_are_http_api_payload_2(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    _, function_routes = ROUTES[EVENT_FUNCTIONS[path.name]]
    method, route_path = event["requestContext"]["http"]["method"], event["routeKey"].split(" ", 1)[1]
    assert (method, route_path) in function_routes
    assert event["version"] == "2.0"
    assert event["routeKey"] == f"{method} {route_path}" == event["requestContext"]["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    assert event["rawPath"] == route_path.format(**event.get("pathParameters", {}))
    assert event["requestContext"]["stage"] == "$default"
    assert {"protocol", "sourceIp", "userAgent"} <= set(event["requestContext"]["http"])
    assert {"requestId", "domainName", "time", "timeEpoch"} <= set(event["requestContext"])
    assert event["isBase64Encoded"] is False
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]  # payload 2.0 moves it to `cookies`
    assert dict(parse_qsl(event["rawQueryString"])) == event.get("queryStringParameters", {})


def test_sample_events_carry_the_cookies_and_parameters_their_route_reads() -> None:
    def load(name: str) -> dict[str, Any]:
        return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))

    assert load("authorize.json")["rawQueryString"] == "return_to=%2Fme&login_hint=demo%40example.com"
    callback = load("callback.json")
    assert {"code", "state"} <= set(callback["queryStringParameters"])
    assert [c.split("=", 1)[0] for c in callback["cookies"]] == ["gc_oauth"]
    denied = load("callback_denied.json")
    assert denied["queryStringParameters"]["error"] == "access_denied"
    assert "code" not in denied["queryStringParameters"]
    assert [c.split("=", 1)[0] for c in load("me.json")["cookies"]] == ["gc_session"]
    # obviously fake values: nothing that could be a real code or token
    for event in (callback, denied, load("me.json")):
        parameters = event.get("queryStringParameters", {})
        values = [parameters.get("code", "FAKE"), parameters.get("state", "FAKE")]
        values += [cookie.split("=", 1)[1] for cookie in event["cookies"]]
        assert all("FAKE" in value for value in values)


def test_syncs_of_one_mailbox_never_overlap_the_sync_queue_is_fifo_per_user() -> None:
    queue = RESOURCES["SyncQueue"]["Properties"]
    assert queue["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is True
    assert (queue["DeduplicationScope"], queue["FifoThroughputLimit"]) == (
        "messageGroup",
        "perMessageGroupId",
    )
    assert RESOURCES["SyncDeadLetterQueue"]["Properties"]["FifoQueue"] is True
    # EventBridge's new-connection requests need a group of their own
    (target,) = RESOURCES["ConnectedToSyncRule"]["Properties"]["Targets"]
    assert target["SqsParameters"]["MessageGroupId"]
