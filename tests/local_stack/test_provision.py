"""infra.local_stack.provision: the template's resources in moto's server, over HTTP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra import cfn
from infra.local_stack.provision import provision_aws
from tests.local_stack.conftest import FIXTURE_TEMPLATE

CLIENT_CONFIG = {"web": {"client_id": "cid", "client_secret": "csecret", "redirect_uris": ["http://x/cb"]}}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty account at moto's server, and the environment boto3 reads pointed at it."""
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return moto_url


@pytest.fixture
def template() -> dict[str, Any]:
    return cfn.load_template(FIXTURE_TEMPLATE)


def test_tables_are_created_from_their_template_properties(aws: str, template: dict[str, Any]) -> None:
    # When the fixture template is provisioned
    environment = provision_aws(template, CLIENT_CONFIG)
    dynamodb = boto3.client("dynamodb")
    # Then each table has its name (TableName, else the logical id), keys and indexes
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["TokensTable", "test-states"]
    tokens = dynamodb.describe_table(TableName="TokensTable")["Table"]
    assert tokens["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert tokens["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tokens["DeletionProtectionEnabled"] is True
    (index,) = tokens["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_status"
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "user_id", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    # And PITR is on where the template asks for it, TTL enabled on its attribute
    backups = dynamodb.describe_continuous_backups(TableName="TokensTable")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName="test-states")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    # And the functions' environment names them
    assert environment["TOKENS_TABLE"] == "TokensTable"
    assert environment["STATES_TABLE"] == "test-states"


def test_key_alias_secret_queues_and_bus_back_the_environment(aws: str, template: dict[str, Any]) -> None:
    environment = provision_aws(template, CLIENT_CONFIG)
    # The KMS key encrypts under its id, its ARN and its alias
    kms = boto3.client("kms")
    key = kms.describe_key(KeyId=environment["TOKEN_KEY_ID"])["KeyMetadata"]
    assert key["Arn"] == environment["TOKEN_KEY_ARN"]
    assert key["Description"] == "fixture token key"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert environment["TOKEN_KEY_ALIAS"] == "alias/fixture-test-tokens"
    sealed = kms.encrypt(KeyId=environment["TOKEN_KEY_ALIAS"], Plaintext=b"t")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=sealed)["KeyId"] == key["Arn"]
    # The secret (Ref = its ARN, as in CloudFormation) holds the client config, not the template's
    # placeholder
    secrets = boto3.client("secretsmanager")
    secret = secrets.get_secret_value(SecretId=environment["GOOGLE_CLIENT_SECRET_ID"])
    assert secret["Name"] == "fixture/test/google-client"
    assert environment["GOOGLE_CLIENT_SECRET_ID"] == secret["ARN"]
    assert json.loads(secret["SecretString"]) == CLIENT_CONFIG
    # The queue's redrive policy points at the dead-letter queue's ARN
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=environment["SYNC_QUEUE_URL"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_url = sqs.get_queue_url(QueueName=environment["SYNC_DLQ_NAME"])["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert environment["SYNC_DLQ_NAME"] == "SyncDeadLetterQueue"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert attributes["VisibilityTimeout"] == "120"
    assert attributes["QueueArn"] == environment["SYNC_QUEUE_ARN"]
    # The event bus exists under its name
    bus = boto3.client("events").describe_event_bus(Name=environment["EVENT_BUS"])
    assert bus["Name"] == "fixture-bus"


def test_provisioning_twice_is_idempotent_and_refreshes_the_secret(
    aws: str, template: dict[str, Any]
) -> None:
    # Given a provisioned account with an item in a table
    first = provision_aws(template, CLIENT_CONFIG)
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName="TokensTable", Item={"user_id": {"S": "u1"}, "status": {"S": "connected"}})
    # When it is provisioned again with another client config
    second = provision_aws(template, {"web": {"client_id": "other"}})
    # Then nothing was duplicated or recreated, and the secret carries the new config
    assert second == first
    assert len(boto3.client("kms").list_keys()["Keys"]) == 1
    assert len(boto3.client("sqs").list_queues()["QueueUrls"]) == 2
    assert dynamodb.get_item(TableName="TokensTable", Key={"user_id": {"S": "u1"}})["Item"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=second["GOOGLE_CLIENT_SECRET_ID"])
    assert json.loads(secret["SecretString"]) == {"web": {"client_id": "other"}}


def test_refuses_to_run_against_a_real_account(
    monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]
) -> None:
    # Without an emulator endpoint (and no moto mock active) nothing is created anywhere
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(RuntimeError, match="AWS_ENDPOINT_URL"):
        provision_aws(template, CLIENT_CONFIG)
