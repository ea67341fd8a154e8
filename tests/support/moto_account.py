"""One in-process moto account with template.yaml's resources, put back as provisioned between tests.

Provisioning the template costs a quarter of a second or more, most of it boto3 loading service
models; done for every unit test it was most of ``make unit``. So the account is provisioned
once, and ``restore()`` gives each test the provisioned account again: every table empty, every
queue purged, the tables, queues, rules, buses and secrets a test created gone, the client
secret's value as provisioned. What cannot be put back that way (KMS keys, aliases or rotation
changed; a provisioned table, queue, bus or secret deleted or reconfigured) gets a new account,
provisioned from scratch: no test sees what another left behind.

Only the services the template provisions are restored (DynamoDB, SQS, EventBridge, Secrets
Manager, KMS): a test that uses another AWS service must leave it as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import MockAWS

from infra.local_stack.provision import provision_aws

__all__ = ["MotoAccount"]

REGION = "us-east-1"
SERVICES = ("dynamodb", "sqs", "events", "secretsmanager", "kms")
# DescribeTable's and GetQueueAttributes' settings; the rest changes with the data.
TABLE_SETTINGS = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "DeletionProtectionEnabled")
VOLATILE_QUEUE_ATTRIBUTES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "LastModifiedTimestamp",
    }
)


@dataclass(frozen=True)
class _Provisioned:
    """The resources provisioning created, with what restoring needs to know about them."""

    tables: dict[str, tuple[str, ...]]  # name -> key attribute names
    queues: frozenset[str]  # URLs
    rules: dict[str, frozenset[str]]  # event bus -> its rules
    secrets: dict[str, str]  # ARN -> SecretString


class MotoAccount:
    """moto's in-process mock holding the template's resources between ``start`` and ``stop``.

    ``environment`` is the functions' environment for the current account; it changes only
    when ``restore`` has to provision a new account (``provisionings`` counts them all).
    """

    def __init__(self, template: Mapping[str, Any], client_config: Mapping[str, Any]) -> None:
        self._template = template
        self._client_config = client_config
        self._mock: MockAWS | None = None
        self._clients: dict[str, Any] = {}
        self._provisioned: _Provisioned | None = None
        self._settings: dict[str, Any] = {}
        self.environment: dict[str, str] = {}
        self.provisionings = 0

    def start(self) -> None:
        """Start moto's mock with an empty account and provision the template into it."""
        if self._mock is not None:
            raise RuntimeError("the account is already started")
        with _pinned_environment():  # moto's own fake credentials included
            self._mock = mock_aws()
            self._mock.start()
            self.environment = provision_aws(self._template, self._client_config)
            if not self._clients:  # created once: loading service models costs more than a restore
                session = boto3.session.Session(region_name=REGION)
                self._clients = {service: session.client(service) for service in SERVICES}
            self._provisioned = self._inventory()
            self._settings = self._settings_of(self._provisioned)
        self.provisionings += 1

    def stop(self) -> None:
        """Stop moto's mock, which forgets the account."""
        if self._mock is not None:
            with _pinned_environment():
                self._mock.stop()
        self._mock = None
        self._provisioned = None

    def restore(self) -> None:
        """Put the account back as provisioned, or provision a new one where that is not possible."""
        provisioned = self._provisioned
        if provisioned is None:
            raise RuntimeError("the account is not started")
        with _pinned_environment():
            if self._settings_of(provisioned) != self._settings:
                self.stop()
                self.start()
                return
            self._restore_tables(provisioned)
            self._restore_queues(provisioned)
            self._restore_event_buses(provisioned)
            self._restore_secrets(provisioned)

    # -- what there is ----------------------------------------------------------------------
    def _table_names(self) -> set[str]:
        pages = self._clients["dynamodb"].get_paginator("list_tables").paginate()
        return {name for page in pages for name in page["TableNames"]}

    def _queue_urls(self) -> set[str]:
        return set(self._clients["sqs"].list_queues().get("QueueUrls", []))

    def _rules(self) -> dict[str, frozenset[str]]:
        events = self._clients["events"]
        rules = {}
        for bus in events.list_event_buses()["EventBuses"]:
            listed = events.list_rules(EventBusName=bus["Name"])["Rules"]
            rules[bus["Name"]] = frozenset(rule["Name"] for rule in listed)
        return rules

    def _secrets(self) -> dict[str, bool]:
        """ARN -> whether the secret is scheduled for deletion."""
        listed = self._clients["secretsmanager"].list_secrets(IncludePlannedDeletion=True)["SecretList"]
        return {secret["ARN"]: "DeletedDate" in secret for secret in listed}

    def _live_secrets(self) -> set[str]:
        return {arn for arn, deleted in self._secrets().items() if not deleted}

    def _inventory(self) -> _Provisioned:
        dynamodb, secretsmanager = self._clients["dynamodb"], self._clients["secretsmanager"]
        tables = {}
        for name in self._table_names():
            schema = dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
            tables[name] = tuple(key["AttributeName"] for key in schema)
        secrets = {
            arn: secretsmanager.get_secret_value(SecretId=arn)["SecretString"] for arn in self._live_secrets()
        }
        return _Provisioned(
            tables=tables, queues=frozenset(self._queue_urls()), rules=self._rules(), secrets=secrets
        )

    def _settings_of(self, provisioned: _Provisioned) -> dict[str, Any]:
        """What restoring cannot put back: KMS as a whole, and which provisioned resources
        still exist with which settings."""
        kms, dynamodb, sqs = self._clients["kms"], self._clients["dynamodb"], self._clients["sqs"]
        keys = []
        for key in kms.list_keys()["Keys"]:
            metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            rotation = kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
            keys.append((key["KeyId"], metadata["KeyState"], metadata.get("KeySpec"), rotation))
        aliases = [(alias["AliasName"], alias.get("TargetKeyId")) for alias in kms.list_aliases()["Aliases"]]
        tables = {}
        for name in sorted(provisioned.tables.keys() & self._table_names()):
            description = dynamodb.describe_table(TableName=name)["Table"]
            tables[name] = {setting: description.get(setting) for setting in TABLE_SETTINGS}
        queues = {}
        for url in sorted(provisioned.queues & self._queue_urls()):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            queues[url] = {
                name: value for name, value in attributes.items() if name not in VOLATILE_QUEUE_ATTRIBUTES
            }
        return {
            "keys": sorted(keys),
            "aliases": sorted(aliases),
            "tables": tables,
            "queues": queues,
            "event_buses": sorted(provisioned.rules.keys() & self._rules().keys()),
            "secrets": sorted(provisioned.secrets.keys() & self._live_secrets()),
        }

    # -- putting it back --------------------------------------------------------------------
    def _restore_tables(self, provisioned: _Provisioned) -> None:
        dynamodb = self._clients["dynamodb"]
        for name in self._table_names() - provisioned.tables.keys():
            dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
            dynamodb.delete_table(TableName=name)
        for name, key_names in provisioned.tables.items():
            aliases = {f"#key{index}": key for index, key in enumerate(key_names)}
            pages = dynamodb.get_paginator("scan").paginate(
                TableName=name, ProjectionExpression=", ".join(aliases), ExpressionAttributeNames=aliases
            )
            keys = [item for page in pages for item in page["Items"]]
            for start in range(0, len(keys), 25):  # BatchWriteItem's limit
                deletes = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
                dynamodb.batch_write_item(RequestItems={name: deletes})

    def _restore_queues(self, provisioned: _Provisioned) -> None:
        sqs = self._clients["sqs"]
        for url in self._queue_urls() - provisioned.queues:
            sqs.delete_queue(QueueUrl=url)
        # moto, like SQS, refuses to purge a queue twice within 60 s unless told otherwise.
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
            for url in sorted(provisioned.queues):
                sqs.purge_queue(QueueUrl=url)

    def _restore_event_buses(self, provisioned: _Provisioned) -> None:
        events = self._clients["events"]
        for bus, rules in self._rules().items():
            for rule in rules - provisioned.rules.get(bus, frozenset()):
                targets = events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
                if targets:
                    ids = [target["Id"] for target in targets]
                    events.remove_targets(Rule=rule, EventBusName=bus, Ids=ids, Force=True)
                events.delete_rule(Name=rule, EventBusName=bus, Force=True)
            if bus not in provisioned.rules:
                events.delete_event_bus(Name=bus)

    def _restore_secrets(self, provisioned: _Provisioned) -> None:
        secretsmanager = self._clients["secretsmanager"]
        for arn in self._secrets().keys() - provisioned.secrets.keys():
            secretsmanager.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        for arn, value in provisioned.secrets.items():
            if secretsmanager.get_secret_value(SecretId=arn)["SecretString"] != value:
                secretsmanager.put_secret_value(SecretId=arn, SecretString=value)


@contextmanager
def _pinned_environment() -> Iterator[None]:
    """In-process moto, in the template's region, whatever the test around it has set."""
    with pytest.MonkeyPatch.context() as environment:
        environment.delenv("AWS_ENDPOINT_URL", raising=False)
        environment.setenv("AWS_DEFAULT_REGION", REGION)
        environment.setenv("AWS_ACCESS_KEY_ID", "testing")
        environment.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield
