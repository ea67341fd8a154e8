"""The unit tests' moto account: every test finds it as provisioned, whatever the one before did.

These tests change the account the way a test might, then call ``restore`` as the next test's
``aws`` fixture does, and check what that next test would find.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import CLIENT_CONFIG
from tests.support.moto_account import MotoAccount

MAIL_RULE = {"source": ["gmail-connect"]}


def items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def queued(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def secret_names() -> list[str]:
    listed = boto3.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    return sorted(secret["Name"] for secret in listed)


def test_what_a_test_leaves_behind_is_gone_for_the_next(
    moto_account: MotoAccount, aws: dict[str, str]
) -> None:
    dynamodb, sqs, events = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("events")
    secretsmanager = boto3.client("secretsmanager")
    provisionings = moto_account.provisionings
    provisioned_secrets = secret_names()
    # Given a test that wrote to every table, sent to every queue (and received one message),
    for table, key in (
        ("TOKENS_TABLE", "user_id"),
        ("STATES_TABLE", "state_id"),
        ("SESSIONS_TABLE", "session_id"),
    ):
        for n in range(30):  # more than one BatchWriteItem holds
            dynamodb.put_item(TableName=aws[table], Item={key: {"S": f"{key}-{n}"}})
    sqs.send_message(QueueUrl=aws["SYNC_QUEUE_URL"], MessageBody="in flight", MessageGroupId="a")
    sqs.send_message(QueueUrl=aws["SYNC_QUEUE_URL"], MessageBody="waiting", MessageGroupId="b")
    sqs.receive_message(QueueUrl=aws["SYNC_QUEUE_URL"], MaxNumberOfMessages=1)
    dead_letters = next(url for url in sqs.list_queues()["QueueUrls"] if "dead-letters" in url)
    sqs.send_message(
        QueueUrl=dead_letters, MessageBody="poison", MessageGroupId="a", MessageDeduplicationId="1"
    )
    # created a queue, a table, a bus, a rule with a target, secrets (one since deleted),
    extra_queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    dynamodb.create_table(
        TableName="Extra",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
    )
    events.create_event_bus(Name="extra-bus")
    for bus in (aws["MAIL_EVENT_BUS_NAME"], "extra-bus"):
        events.put_rule(Name="new-mail", EventBusName=bus, EventPattern=json.dumps(MAIL_RULE))
        events.put_targets(
            Rule="new-mail",
            EventBusName=bus,
            Targets=[{"Id": "queue", "Arn": "arn:aws:sqs:us-east-1:123456789012:subscriber"}],
        )
    secretsmanager.create_secret(Name="extra-secret", SecretString="x")
    secretsmanager.create_secret(Name="deleted-secret", SecretString="x")
    secretsmanager.delete_secret(SecretId="deleted-secret", RecoveryWindowInDays=7)
    # and replaced the client secret's value
    secretsmanager.put_secret_value(SecretId=aws["GOOGLE_CLIENT_SECRET_ID"], SecretString='{"web": {}}')

    # When the next test's account is restored
    moto_account.restore()

    # Then it is the same account, not a new one
    assert moto_account.provisionings == provisionings
    assert moto_account.environment == {name: aws[name] for name in moto_account.environment}
    # with every table empty and every queue empty
    for table in ("TOKENS_TABLE", "STATES_TABLE", "SESSIONS_TABLE"):
        assert items(aws[table]) == []
    assert queued(aws["SYNC_QUEUE_URL"]) == 0
    assert queued(dead_letters) == 0
    # and nothing of what the test created
    assert extra_queue not in sqs.list_queues().get("QueueUrls", [])
    assert "Extra" not in dynamodb.list_tables()["TableNames"]
    assert [bus["Name"] for bus in events.list_event_buses()["EventBuses"]] == [
        "default",
        aws["MAIL_EVENT_BUS_NAME"],
    ]
    # (only the template's own rules stay: its ConnectedToSyncRule)
    remaining = events.list_rules(EventBusName=aws["MAIL_EVENT_BUS_NAME"])["Rules"]
    assert [rule["Name"] for rule in remaining] == ["ConnectedToSyncRule"]
    assert secret_names() == provisioned_secrets
    # and the client secret holds the provisioned configuration again
    stored = secretsmanager.get_secret_value(SecretId=aws["GOOGLE_CLIENT_SECRET_ID"])["SecretString"]
    assert json.loads(stored) == CLIENT_CONFIG


def _disable_the_token_key(aws: dict[str, str]) -> None:
    boto3.client("kms").disable_key(KeyId=aws["TOKEN_KEY_ID"])


def _delete_the_tokens_table(aws: dict[str, str]) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_table(TableName=aws["TOKENS_TABLE"], DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=aws["TOKENS_TABLE"])


def _delete_the_client_secret(aws: dict[str, str]) -> None:
    boto3.client("secretsmanager").delete_secret(SecretId=aws["GOOGLE_CLIENT_SECRET_ID"])


def _change_the_sync_queue(aws: dict[str, str]) -> None:
    boto3.client("sqs").set_queue_attributes(
        QueueUrl=aws["SYNC_QUEUE_URL"], Attributes={"VisibilityTimeout": "1"}
    )


@pytest.mark.parametrize(
    "change",
    [
        _disable_the_token_key,
        _delete_the_tokens_table,
        _delete_the_client_secret,
        _change_the_sync_queue,
    ],
)
def test_what_cannot_be_put_back_gets_a_new_account(
    moto_account: MotoAccount, aws: dict[str, str], change: Callable[[dict[str, str]], None]
) -> None:
    provisionings = moto_account.provisionings
    # Given a test that changed what restoring cannot put back
    change(aws)

    # When the next test's account is restored
    moto_account.restore()

    # Then it is a new account, provisioned from scratch
    assert moto_account.provisionings == provisionings + 1
    kms = boto3.client("kms")
    key_id = moto_account.environment["TOKEN_KEY_ID"]
    assert key_id != aws["TOKEN_KEY_ID"]
    with pytest.raises(ClientError, match="NotFoundException"):
        kms.describe_key(KeyId=aws["TOKEN_KEY_ID"])
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert [key["KeyId"] for key in kms.list_keys()["Keys"]] == [key_id]
    assert boto3.client("dynamodb").describe_table(TableName=moto_account.environment["TOKENS_TABLE"])
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=moto_account.environment["GOOGLE_CLIENT_SECRET_ID"]
    )
    assert json.loads(secret["SecretString"]) == CLIENT_CONFIG
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=moto_account.environment["SYNC_QUEUE_URL"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] != "1"
