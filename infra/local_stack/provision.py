"""Create the template's AWS resources in the AWS emulator (moto's server), from their own
``Properties``, and resolve the functions' environment against them.

Only resources the functions talk to are created: DynamoDB tables, KMS keys and aliases,
Secrets Manager secrets, SQS queues and EventBridge buses. Everything else in the template
(functions, roles, log groups, the HTTP API, schedules) is played by the local stack itself
or has no local counterpart.

Names: a resource's explicit name property (``TableName``, ``Name``, ``QueueName``,
``AliasName``) if it has one, else its logical id, so the names you see locally are the ones
in the template (``aws --endpoint-url … dynamodb scan --table-name TokensTable``).

Provisioning is idempotent: a second call against the same server finds what exists, creates
what is missing, and writes the secret's value again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra import cfn

__all__ = ["LOGICAL_ID_TAG", "provision_aws"]

# KMS keys have no name; this tag lets a second run find the key it created for a logical id.
LOGICAL_ID_TAG = "local-stack:logical-id"

DEFAULT_REGION = "us-east-1"


@dataclass
class _Provisioner:
    template: Mapping[str, Any]
    client_config: Mapping[str, Any]
    endpoint_url: str | None
    region: str
    session: boto3.session.Session = field(init=False)
    resolver: cfn.Resolver = field(init=False)

    def __post_init__(self) -> None:
        self.session = boto3.session.Session(region_name=self.region)
        account_id = self.client("sts").get_caller_identity()["Account"]
        self.resolver = cfn.Resolver(self.template, region=self.region, account_id=account_id)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def properties(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        return self.resolver.resolve(resource.get("Properties") or {})

    def provides(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.resolver.refs[logical_id] = ref
        for name, value in attributes.items():
            self.resolver.attributes[(logical_id, name)] = value

    # -- KMS ----------------------------------------------------------------------------
    def kms_keys(self) -> None:
        kms = self.client("kms")
        existing = _keys_by_logical_id(kms)
        for logical_id, resource in cfn.resources_of_type(self.template, "AWS::KMS::Key").items():
            properties = self.properties(resource)
            if logical_id in existing:
                metadata = kms.describe_key(KeyId=existing[logical_id])["KeyMetadata"]
            else:
                arguments: dict[str, Any] = {
                    "Tags": [{"TagKey": LOGICAL_ID_TAG, "TagValue": logical_id}]
                    + [{"TagKey": t["Key"], "TagValue": str(t["Value"])} for t in properties.get("Tags", [])]
                }
                for source, target in (
                    ("Description", "Description"),
                    ("KeySpec", "KeySpec"),
                    ("KeyUsage", "KeyUsage"),
                    ("MultiRegion", "MultiRegion"),
                ):
                    if source in properties:
                        arguments[target] = properties[source]
                metadata = kms.create_key(**arguments)["KeyMetadata"]
                if properties.get("EnableKeyRotation") in (True, "true"):
                    kms.enable_key_rotation(KeyId=metadata["KeyId"])
            self.provides(logical_id, metadata["KeyId"], Arn=metadata["Arn"], KeyId=metadata["KeyId"])

        for logical_id, resource in cfn.resources_of_type(self.template, "AWS::KMS::Alias").items():
            properties = self.properties(resource)
            alias, target = properties["AliasName"], properties["TargetKeyId"]
            try:
                kms.create_alias(AliasName=alias, TargetKeyId=target)
            except ClientError as error:
                if error.response["Error"]["Code"] != "AlreadyExistsException":
                    raise
                kms.update_alias(AliasName=alias, TargetKeyId=target)
            self.provides(logical_id, alias)

    # -- DynamoDB -----------------------------------------------------------------------
    def tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for logical_id, resource in cfn.resources_of_type(self.template, "AWS::DynamoDB::Table").items():
            properties = self.properties(resource)
            name = str(properties.get("TableName") or logical_id)
            try:
                dynamodb.create_table(**_create_table_arguments(name, properties))
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceInUseException":
                    raise
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})

            ttl = properties.get("TimeToLiveSpecification")
            if ttl:
                enabled = ttl.get("Enabled") in (True, "true")
                current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
                if (current.get("TimeToLiveStatus") == "ENABLED") != enabled:
                    dynamodb.update_time_to_live(
                        TableName=name,
                        TimeToLiveSpecification={"Enabled": enabled, "AttributeName": ttl["AttributeName"]},
                    )
            pitr = properties.get("PointInTimeRecoverySpecification")
            if pitr:
                specification: dict[str, Any] = {
                    "PointInTimeRecoveryEnabled": pitr.get("PointInTimeRecoveryEnabled") in (True, "true")
                }
                if "RecoveryPeriodInDays" in pitr:
                    specification["RecoveryPeriodInDays"] = int(pitr["RecoveryPeriodInDays"])
                dynamodb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification=specification
                )

            description = dynamodb.describe_table(TableName=name)["Table"]
            attributes = {"Arn": description["TableArn"]}
            if description.get("LatestStreamArn"):
                attributes["StreamArn"] = description["LatestStreamArn"]
            self.provides(logical_id, name, **attributes)

    # -- Secrets Manager ----------------------------------------------------------------
    def secrets(self) -> None:
        secretsmanager = self.client("secretsmanager")
        value = json.dumps(self.client_config)
        for logical_id, resource in cfn.resources_of_type(
            self.template, "AWS::SecretsManager::Secret"
        ).items():
            properties = self.properties(resource)
            name = str(properties.get("Name") or logical_id)
            try:
                arguments: dict[str, Any] = {"Name": name, "SecretString": value}
                if properties.get("Description"):
                    arguments["Description"] = str(properties["Description"])
                arn = secretsmanager.create_secret(**arguments)["ARN"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceExistsException":
                    raise
                arn = secretsmanager.put_secret_value(SecretId=name, SecretString=value)["ARN"]
            # Ref of a secret is its ARN, as in CloudFormation; GetSecretValue takes either.
            self.provides(logical_id, arn, Id=arn, Name=name)

    # -- SQS ----------------------------------------------------------------------------
    def queues(self) -> None:
        sqs = self.client("sqs")
        queues = cfn.resources_of_type(self.template, "AWS::SQS::Queue")
        # Queues without a redrive policy first, so a dead-letter queue's ARN is known when
        # the queue that points at it is created.
        ordered = sorted(
            queues.items(), key=lambda item: "RedrivePolicy" in (item[1].get("Properties") or {})
        )
        for logical_id, resource in ordered:
            properties = self.properties(resource)
            name = str(properties.get("QueueName") or logical_id)
            attributes: dict[str, str] = {}
            for key in (
                "DelaySeconds",
                "MaximumMessageSize",
                "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds",
                "VisibilityTimeout",
                "FifoQueue",
                "ContentBasedDeduplication",
                "DeduplicationScope",
                "FifoThroughputLimit",
            ):
                if key in properties:
                    attributes[key] = cfn.to_string(properties[key])
            for key in ("RedrivePolicy", "RedriveAllowPolicy"):
                if key in properties:
                    policy = properties[key]
                    attributes[key] = policy if isinstance(policy, str) else json.dumps(policy)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.provides(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    # -- EventBridge rules with SQS targets ------------------------------------------------
    def rules(self) -> None:
        """Rules whose targets are the template's queues (a conditional rule - API destinations,
        optional features - is the deployer's, not the local stack's)."""
        events = self.client("events")
        for logical_id, resource in cfn.resources_of_type(self.template, "AWS::Events::Rule").items():
            properties = self.properties(resource)
            if "Condition" in resource or "EventPattern" not in properties:
                continue
            bus = self.resolver.resolve_str(properties.get("EventBusName")) or "default"
            events.put_rule(
                Name=logical_id, EventBusName=bus, EventPattern=json.dumps(properties["EventPattern"])
            )
            targets = []
            for target in properties.get("Targets") or []:
                entry: dict[str, Any] = {"Id": target["Id"], "Arn": self.resolver.resolve_str(target["Arn"])}
                for key in ("InputTransformer", "SqsParameters"):
                    if key in target:
                        entry[key] = target[key]
                targets.append(entry)
            events.put_targets(Rule=logical_id, EventBusName=bus, Targets=targets)

    # -- S3 -----------------------------------------------------------------------------
    def buckets(self) -> None:
        s3 = self.client("s3")
        for logical_id in cfn.resources_of_type(self.template, "AWS::S3::Bucket"):
            # CloudFormation names a bucket itself; a lower-case, stable name does the same here.
            name = f"local-{logical_id.lower()}"
            try:
                s3.create_bucket(Bucket=name)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            self.provides(logical_id, name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")

    # -- EventBridge --------------------------------------------------------------------
    def event_buses(self) -> None:
        events = self.client("events")
        for logical_id, resource in cfn.resources_of_type(self.template, "AWS::Events::EventBus").items():
            properties = self.properties(resource)
            name = str(properties.get("Name") or logical_id)
            try:
                arn = events.create_event_bus(Name=name)["EventBusArn"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise
                arn = events.describe_event_bus(Name=name)["Arn"]
            self.provides(logical_id, name, Arn=arn, Name=name)


def _keys_by_logical_id(kms: Any) -> dict[str, str]:
    """Key ids of the keys an earlier run created, by the logical id they were tagged with."""
    existing: dict[str, str] = {}
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            for tag in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", []):
                if tag["TagKey"] == LOGICAL_ID_TAG:
                    existing[tag["TagValue"]] = key["KeyId"]
    return existing


def _create_table_arguments(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """``AWS::DynamoDB::Table`` properties -> ``CreateTable`` arguments (what moto accepts)."""
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if "ProvisionedThroughput" in properties:
        arguments["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
    elif arguments["BillingMode"] == "PROVISIONED":
        raise ValueError(f"table {name}: BillingMode PROVISIONED needs ProvisionedThroughput")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(key):
            indexes = []
            for index in properties[key]:
                translated = {k: v for k, v in index.items() if k in {"IndexName", "KeySchema", "Projection"}}
                if "ProvisionedThroughput" in index:
                    translated["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
                indexes.append(translated)
            arguments[key] = indexes
    stream = properties.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if "DeletionProtectionEnabled" in properties:
        arguments["DeletionProtectionEnabled"] = properties["DeletionProtectionEnabled"] in (True, "true")
    if "TableClass" in properties:
        arguments["TableClass"] = properties["TableClass"]
    if properties.get("Tags"):
        arguments["Tags"] = [{"Key": t["Key"], "Value": str(t["Value"])} for t in properties["Tags"]]
    # SSESpecification, ContributorInsights, Kinesis streams, import sources: not for moto.
    return arguments


def _throughput(throughput: Mapping[str, Any]) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(throughput["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(throughput["WriteCapacityUnits"]),
    }


def _moto_mock_active() -> bool:
    """Whether ``moto.mock_aws`` is active in this process (without importing moto)."""
    models = sys.modules.get("moto.core.models")
    mock = getattr(models, "MockAWS", None)
    return bool(getattr(mock, "_mocks_active", False))


def provision_aws(template: Mapping[str, Any], client_config: Mapping[str, Any]) -> dict[str, str]:
    """Create the template's tables, KMS keys/aliases, secrets (holding ``client_config`` as
    JSON), SQS queues and event buses at ``$AWS_ENDPOINT_URL``; return the functions'
    environment with every ``Ref``/``Fn::GetAtt``/``Fn::Sub`` resolved against them.

    Meant for an emulator, never an account: without ``AWS_ENDPOINT_URL`` it runs only inside
    moto's in-process mock (``moto.mock_aws``, as the unit tests use it), and refuses otherwise.
    """
    endpoint_url = os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint_url is None and not _moto_mock_active():
        raise RuntimeError(
            "AWS_ENDPOINT_URL is not set and moto's mock is not active: "
            "provision_aws only creates resources in an AWS emulator"
        )
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    provisioner = _Provisioner(template, client_config, endpoint_url, region)
    provisioner.kms_keys()
    provisioner.tables()
    provisioner.secrets()
    provisioner.queues()
    provisioner.event_buses()
    provisioner.buckets()
    provisioner.rules()
    return cfn.function_environment(template, provisioner.resolver.resolve_str)
