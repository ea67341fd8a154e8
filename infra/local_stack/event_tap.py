"""``make local``'s event tap: every event put on the template's EventBridge buses is copied to the SQS
queue ``local-event-tap``, where it can be read.

EventBridge keeps nothing: an event no rule matches is gone. The tap is a rule on each bus of the
template (the product's ``MailEventBus``) matching every event (``{"source": [{"prefix": ""}]}``,
EventBridge's documented match-all pattern) with the queue as its target, so what the product
publishes can be read back, e.g. after ``make sync``::

    aws --endpoint-url http://127.0.0.1:3002 sqs receive-message --queue-url <QUEUE_URL> \\
        --max-number-of-messages 10 --wait-time-seconds 5

Each message body is the event as EventBridge delivers it to a target (``id``, ``detail-type``,
``source``, ``time``, ``detail`` …). The rule and queue live only on the embedded AWS: they are
not in the template, and never deployed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from infra import cfn

__all__ = ["MATCH_EVERY_EVENT", "QUEUE_NAME", "RULE_NAME", "EventTap", "create_event_tap", "template_buses"]

QUEUE_NAME = "local-event-tap"
RULE_NAME = "local-event-tap"
MATCH_EVERY_EVENT = {"source": [{"prefix": ""}]}


@dataclass(frozen=True)
class EventTap:
    queue_url: str
    queue_arn: str
    buses: tuple[str, ...]


def template_buses(template: Mapping[str, Any]) -> list[str]:
    """The names of the template's ``AWS::Events::EventBus`` resources, as provisioning names them
    (``Name``, parameters at their defaults, else the logical id)."""
    resolver = cfn.Resolver(template)
    return [
        resolver.resolve_str((resource.get("Properties") or {}).get("Name")) or logical_id
        for logical_id, resource in cfn.resources_of_type(template, "AWS::Events::EventBus").items()
    ]


def create_event_tap(buses: Iterable[str], queue_name: str = QUEUE_NAME) -> EventTap:
    """Create the queue and, on each bus, the rule sending it every event (idempotent). Another
    ``queue_name`` adds that queue as one more target of the same rule (the console reads its own).

    Uses boto3's default configuration: run it with ``AWS_ENDPOINT_URL`` at the embedded AWS.
    """
    session = boto3.session.Session()
    sqs, events = session.client("sqs"), session.client("events")
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_arns = []
    names = tuple(buses)
    for bus in names:
        rule_arns.append(
            events.put_rule(
                Name=RULE_NAME,
                EventBusName=bus,
                EventPattern=json.dumps(MATCH_EVERY_EVENT),
                State="ENABLED",
                Description=f"make local: copy every event to the SQS queue {QUEUE_NAME}",
            )["RuleArn"]
        )
        events.put_targets(Rule=RULE_NAME, EventBusName=bus, Targets=[{"Id": queue_name, "Arn": queue_arn}])
    # What EventBridge needs in AWS to deliver to a queue; moto does not check it, kept for fidelity.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    return EventTap(queue_url=queue_url, queue_arn=queue_arn, buses=names)
