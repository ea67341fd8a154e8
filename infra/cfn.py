"""Read ``template.yaml`` (a SAM/CloudFormation template) for the local stack and the tests.

The local stack builds its tables, key, secret and routes from the template's own
definitions, so what runs locally cannot drift from what is deployed. This module only reads
the template; creating resources is ``infra.local_stack.provision``'s job.

- ``load_template``: YAML with CloudFormation's short tags (``!Ref``, ``!GetAtt``, ``!Sub`` …)
  turned into their long ``{"Fn::…": …}`` form.
- ``http_routes``: every ``HttpApi`` event of every ``AWS::Serverless::Function``, with its
  authorizer (``AWS_IAM`` …).
- ``function_environment``: the environment the functions share (Globals + their own).
- ``resources_of_type``: the resources of one type, by logical id.
- ``Resolver``: evaluates intrinsic functions (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If`` …)
  given the physical names/attributes of the resources that exist locally.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "NO_VALUE",
    "Resolver",
    "Route",
    "TemplateLoader",
    "function_environment",
    "http_routes",
    "load_template",
    "resources_of_type",
    "to_string",
]

SERVERLESS_FUNCTION = "AWS::Serverless::Function"

# Short tag -> long form. ``!Ref`` and ``!Condition`` are not ``Fn::`` functions.
_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Select",
            "Join",
            "Split",
            "FindInMap",
            "ImportValue",
            "Base64",
            "Cidr",
            "GetAZs",
            "Length",
            "ToJsonString",
            "Transform",
        )
    },
}


class TemplateLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that understands CloudFormation's short-form tags.

    Dates stay strings (CloudFormation has no date type: ``AWSTemplateFormatVersion:
    2010-09-09`` unquoted is still the string ``"2010-09-09"``).
    """


# Copy the class-level resolver table before editing it, so plain SafeLoader is untouched.
TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_tag(long_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                # ``!GetAtt Resource.Attribute`` (the attribute itself may contain dots).
                resource, _, attribute = str(value).partition(".")
                value = [resource, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {long_name: value}

    return construct


for _short, _long in _TAGS.items():
    TemplateLoader.add_constructor(f"!{_short}", _construct_tag(_long))


def load_template(path: str | Path = "template.yaml") -> dict[str, Any]:
    """Parse a CloudFormation/SAM template, short tags included, into plain Python data."""
    with Path(path).open(encoding="utf-8") as stream:
        template = yaml.load(stream, Loader=TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(template, dict):
        raise ValueError(f"{path}: not a CloudFormation template (top level is not a mapping)")
    return template


def resources_of_type(template: Mapping[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """The resources of ``type_name`` (e.g. ``AWS::DynamoDB::Table``), by logical id, in order."""
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") == type_name
    }


@dataclass(frozen=True)
class Route:
    """One HTTP API route: ``method`` is upper-case (``ANY`` for any), ``path`` as in the
    template (``/items/{id}``, ``/{proxy+}``, or ``$default`` for the catch-all route)."""

    method: str
    path: str
    function_id: str
    code_uri: str
    handler: str
    authorizer: str | None = None
    """``AWS_IAM``, a named authorizer, or ``None`` when the route is open."""

    @property
    def route_key(self) -> str:
        """API Gateway's ``routeKey``: ``"GET /me"``, or ``"$default"``."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


def _function_globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return ((template.get("Globals") or {}).get("Function")) or {}


def _route_authorizer(template: Mapping[str, Any], event_properties: Mapping[str, Any]) -> str | None:
    """The event's ``Auth.Authorizer``, else its API's ``Auth.DefaultAuthorizer`` (the ``ApiId``'s
    ``AWS::Serverless::HttpApi``, or ``Globals.HttpApi`` for SAM's implicit API); ``NONE`` is none."""
    authorizer = (event_properties.get("Auth") or {}).get("Authorizer")
    if authorizer is None:
        api_id = event_properties.get("ApiId")
        if isinstance(api_id, dict) and "Ref" in api_id:
            api = (template.get("Resources") or {}).get(api_id["Ref"]) or {}
            auth = (api.get("Properties") or {}).get("Auth") or {}
        else:
            auth = ((template.get("Globals") or {}).get("HttpApi") or {}).get("Auth") or {}
        authorizer = auth.get("DefaultAuthorizer")
    return None if authorizer in (None, "NONE") else str(authorizer)


def http_routes(template: Mapping[str, Any]) -> list[Route]:
    """Every ``Type: HttpApi`` event of every ``AWS::Serverless::Function``, in template order.

    ``CodeUri`` and ``Handler`` fall back to ``Globals.Function``. An event without ``Path``
    and ``Method`` is SAM's catch-all (``$default``) route.
    """
    globals_ = _function_globals(template)
    routes: list[Route] = []
    for function_id, resource in resources_of_type(template, SERVERLESS_FUNCTION).items():
        properties = resource.get("Properties") or {}
        code_uri = properties.get("CodeUri", globals_.get("CodeUri"))
        handler = properties.get("Handler", globals_.get("Handler"))
        for event in (properties.get("Events") or {}).values():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            event_properties = event.get("Properties") or {}
            if code_uri is None or handler is None:
                raise ValueError(f"{function_id}: an HttpApi event but no CodeUri/Handler")
            path = event_properties.get("Path")
            method = event_properties.get("Method")
            if path is None and method is None:
                path, method = "$default", "ANY"
            routes.append(
                Route(
                    method=str(method or "ANY").upper(),
                    path=str(path or "$default"),
                    function_id=function_id,
                    code_uri=str(code_uri),
                    handler=str(handler),
                    authorizer=_route_authorizer(template, event_properties),
                )
            )
    return routes


def function_environment(template: Mapping[str, Any], resolve: Callable[[Any], str | None]) -> dict[str, str]:
    """The environment of the template's functions: ``Globals.Function.Environment.Variables``
    merged with every function's own variables (one shared environment; a function's value
    overrides the global one), each value passed through ``resolve``.

    ``resolve`` gets the raw template value (a string, a number, or an intrinsic such as
    ``{"Ref": "TokensTable"}``); a ``None`` result (``AWS::NoValue``) drops the variable.
    ``Resolver(template, …).resolve_str`` is the usual ``resolve``.
    """
    raw: dict[str, Any] = {}

    def variables(container: Mapping[str, Any]) -> Mapping[str, Any]:
        return ((container.get("Environment") or {}).get("Variables")) or {}

    raw.update(variables(_function_globals(template)))
    for resource in resources_of_type(template, SERVERLESS_FUNCTION).values():
        raw.update(variables(resource.get("Properties") or {}))

    environment: dict[str, str] = {}
    for name, value in raw.items():
        resolved = resolve(value)
        if resolved is not None:
            environment[name] = resolved
    return environment


class _NoValue:
    """``AWS::NoValue``: removes the property (or list element) it stands for."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates CloudFormation intrinsic functions against what exists locally.

    ``refs`` maps a resource's logical id to what ``Ref`` returns for it (a table's name, a
    key's id, a secret's ARN, a queue's URL …); ``attributes`` maps ``(logical id, attribute)``
    to what ``Fn::GetAtt`` returns. Parameters resolve to ``parameters[name]`` if given, else
    to their ``Default``. A ``Ref`` to a resource that is not in ``refs`` (a function, the
    HTTP API …) resolves to its logical id, and an unknown ``Fn::GetAtt`` to a placeholder ARN,
    since nothing local stands behind them.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        refs: Mapping[str, str] | None = None,
        attributes: Mapping[tuple[str, str], str] | None = None,
        parameters: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        stack_name: str = "local",
    ) -> None:
        self.template = template
        self.refs: dict[str, str] = dict(refs or {})
        self.attributes: dict[tuple[str, str], str] = dict(attributes or {})
        self.parameters = dict(parameters or {})
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # -- public -------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value`` (recursively); ``NO_VALUE`` entries vanish."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    return self._intrinsic(key, argument)
            return {
                k: item
                for k, item in ((k, self.resolve(v)) for k, v in value.items())
                if item is not NO_VALUE
            }
        return value

    def resolve_str(self, value: Any) -> str | None:
        """Resolve ``value`` to the string CloudFormation would pass (``None`` for NoValue)."""
        resolved = self.resolve(value)
        if resolved is NO_VALUE or resolved is None:
            return None
        return to_string(resolved)

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name`` (parameters at their defaults)."""
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise KeyError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(definitions[name]))
        return self._conditions[name]

    # -- intrinsics ---------------------------------------------------------------------
    def _intrinsic(self, key: str, argument: Any) -> Any:  # noqa: PLR0912 - one branch per function
        if key == "Ref":
            return self._ref(str(argument))
        if key == "Condition":
            return self.condition(str(argument))
        name = key.removeprefix("Fn::")
        if name == "GetAtt":
            resource, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument)
            )
            return self._get_att(resource, attribute)
        if name == "Sub":
            return self._sub(argument)
        if name == "If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Equals":
            left, right = (self.resolve(a) for a in argument)
            return to_string(left) == to_string(right)
        if name == "Not":
            return not self.resolve(argument[0])
        if name == "And":
            return all(self.resolve(a) for a in argument)
        if name == "Or":
            return any(self.resolve(a) for a in argument)
        if name == "Join":
            delimiter, items = argument
            return str(delimiter).join(to_string(i) for i in self.resolve(items))
        if name == "Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Split":
            delimiter, source = argument
            return to_string(self.resolve(source)).split(str(delimiter))
        if name == "FindInMap":
            mapping, first, second = (self.resolve(a) for a in argument[:3])
            return self.template["Mappings"][mapping][first][second]
        if name == "Base64":
            return base64.b64encode(to_string(self.resolve(argument)).encode()).decode()
        if name == "GetAZs":
            region = self.resolve(argument) or self.pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if name == "Length":
            return len(self.resolve(argument))
        raise ValueError(f"Fn::{name} cannot be resolved locally")

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        parameters = self.template.get("Parameters") or {}
        if name in parameters:
            if name in self.parameters:
                return self.parameters[name]
            if "Default" not in parameters[name]:
                raise ValueError(f"parameter {name!r} has no Default and no value was given")
            default = parameters[name]["Default"]
            if (
                str(parameters[name].get("Type", "")).startswith("List<")
                or parameters[name].get("Type") == "CommaDelimitedList"
            ):
                return [item.strip() for item in str(default).split(",")]
            return default
        if name in self.refs:
            return self.refs[name]
        if name in (self.template.get("Resources") or {}):
            return name
        raise ValueError(f"Ref to unknown name {name!r}")

    def _get_att(self, resource: str, attribute: str) -> Any:
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        resources = self.template.get("Resources") or {}
        if resource not in resources:
            raise ValueError(f"Fn::GetAtt on unknown resource {resource!r}")
        if attribute in {"Arn", "Id"}:
            service = str(resources[resource].get("Type", "AWS::Unknown::X")).split("::")[1].lower()
            region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
            return f"arn:aws:{service}:{region}:{account}:{resource}"
        return f"{resource}.{attribute}"

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in (argument[1] or {}).items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):  # ``${!Literal}`` is the literal ``${Literal}``
                return "${" + expression[1:] + "}"
            if expression in variables:
                return to_string(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                resource, attribute = expression.split(".", 1)
                return to_string(self._get_att(resource, attribute))
            return to_string(self._ref(expression))

        return _SUB_VARIABLE.sub(replace, str(text))


def to_string(value: Any) -> str:
    """A resolved value as CloudFormation passes it on: booleans lower-case, lists comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(to_string(v) for v in value)
    return str(value)
