"""infra.cfn: reading template.yaml, short tags included, without AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import cfn
from tests.local_stack.conftest import FIXTURE_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]


def test_short_tags_become_the_long_form(tmp_path: Path) -> None:
    # Given a template using every short tag form
    path = tmp_path / "t.yaml"
    path.write_text(
        """
AWSTemplateFormatVersion: 2010-09-09
Values:
  ref: !Ref TokensTable
  getatt: !GetAtt TokenKey.Arn
  getatt_dotted: !GetAtt Stack.Outputs.Name
  getatt_list: !GetAtt [TokenKey, KeyId]
  sub: !Sub "${AWS::Region}-x"
  sub_list: !Sub ["${a}", {a: !Ref B}]
  if: !If [Cond, 1, !Ref AWS::NoValue]
  cond: !Condition Cond
  logic: !And [!Equals [a, b], !Not [!Or [!Condition C1, !Condition C2]]]
  join: !Join [",", !Split ["|", "a|b"]]
  select: !Select [0, !GetAZs ""]
  map: !FindInMap [M, k1, k2]
  imp: !ImportValue shared-vpc
  b64: !Base64 text
  cidr: !Cidr ["10.0.0.0/16", 2, 8]
""",
        encoding="utf-8",
    )
    # When it is loaded
    template = cfn.load_template(path)
    # Then the tags have their long form and dates stay strings
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Values"] == {
        "ref": {"Ref": "TokensTable"},
        "getatt": {"Fn::GetAtt": ["TokenKey", "Arn"]},
        "getatt_dotted": {"Fn::GetAtt": ["Stack", "Outputs.Name"]},
        "getatt_list": {"Fn::GetAtt": ["TokenKey", "KeyId"]},
        "sub": {"Fn::Sub": "${AWS::Region}-x"},
        "sub_list": {"Fn::Sub": ["${a}", {"a": {"Ref": "B"}}]},
        "if": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]},
        "cond": {"Condition": "Cond"},
        "logic": {
            "Fn::And": [
                {"Fn::Equals": ["a", "b"]},
                {"Fn::Not": [{"Fn::Or": [{"Condition": "C1"}, {"Condition": "C2"}]}]},
            ]
        },
        "join": {"Fn::Join": [",", {"Fn::Split": ["|", "a|b"]}]},
        "select": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "map": {"Fn::FindInMap": ["M", "k1", "k2"]},
        "imp": {"Fn::ImportValue": "shared-vpc"},
        "b64": {"Fn::Base64": "text"},
        "cidr": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]},
    }


def test_the_loader_is_safe(tmp_path: Path) -> None:
    # Given YAML asking for a Python object
    path = tmp_path / "evil.yaml"
    path.write_text("x: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    # Then it is refused, not constructed
    with pytest.raises(Exception, match="python/object"):
        cfn.load_template(path)


def test_http_routes_take_code_and_handler_from_the_function_or_globals() -> None:
    routes = cfn.http_routes(cfn.load_template(FIXTURE_TEMPLATE))
    assert routes == [
        cfn.Route("GET", "/echo", "EchoFunction", "echo/", "app.handler"),
        cfn.Route("POST", "/echo", "EchoFunction", "echo/", "app.handler"),
        cfn.Route("GET", "/items/{id}", "EchoFunction", "echo/", "app.handler"),
        cfn.Route("ANY", "/files/{proxy+}", "EchoFunction", "echo/", "app.handler"),
        cfn.Route("GET", "/v1/echo", "EchoFunction", "echo/", "app.handler", "AWS_IAM"),
        cfn.Route("POST", "/v1/echo", "EchoFunction", "echo/", "app.handler", "AWS_IAM"),
        cfn.Route("GET", "/private/echo", "EchoFunction", "echo/", "app.handler", "AWS_IAM"),
        cfn.Route("GET", "/v1/open", "EchoFunction", "echo/", "app.handler", None),
        cfn.Route("GET", "/fail", "OtherFunction", "echo/", "app.other"),
        cfn.Route("GET", "/items/new", "OtherFunction", "echo/", "app.other"),
        cfn.Route("GET", "/bare", "BareFunction", "echo/", "app.bare"),
        cfn.Route("GET", "/binary", "BareFunction", "echo/", "app.bare"),
    ]
    assert routes[0].route_key == "GET /echo"


def test_a_route_without_its_own_authorizer_takes_its_apis_default(tmp_path: Path) -> None:
    # Given an HttpApi whose default authorizer is AWS_IAM, and routes on it and on the implicit API
    path = tmp_path / "t.yaml"
    path.write_text(
        """
Globals:
  Function: {CodeUri: f/, Handler: app.handler}
  HttpApi: {Auth: {DefaultAuthorizer: AWS_IAM}}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties: {Auth: {DefaultAuthorizer: AWS_IAM}}
  OpenApi:
    Type: AWS::Serverless::HttpApi
  Function:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: GET}}
        Opted: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /b, Method: GET, Auth: {Authorizer: NONE}}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref OpenApi, Path: /c, Method: GET}}
        Implicit: {Type: HttpApi, Properties: {Path: /d, Method: GET}}
""",
        encoding="utf-8",
    )
    # When its routes are read
    routes = cfn.http_routes(cfn.load_template(path))
    # Then each has the authorizer API Gateway would apply
    assert {route.path: route.authorizer for route in routes} == {
        "/a": "AWS_IAM",
        "/b": None,
        "/c": None,
        "/d": "AWS_IAM",
    }


def test_function_environment_merges_globals_and_functions_and_resolves_values() -> None:
    # Given the fixture template and a resolver that knows the local resources
    template = cfn.load_template(FIXTURE_TEMPLATE)
    resolver = cfn.Resolver(
        template,
        refs={"TokensTable": "TokensTable", "TokenKey": "key-id"},
        attributes={("TokenKey", "Arn"): "arn:aws:kms:us-east-1:123456789012:key/key-id"},
        region="eu-west-1",
    )
    # When the environment is resolved
    environment = cfn.function_environment(template, resolver.resolve_str)
    # Then Globals and the function's own variables are there, intrinsics resolved
    assert environment["TOKENS_TABLE"] == "TokensTable"
    assert environment["TOKEN_KEY_ID"] == "key-id"
    assert environment["TOKEN_KEY_ARN"] == "arn:aws:kms:us-east-1:123456789012:key/key-id"
    assert environment["STAGE_LABEL"] == "eu-west-1/test/${literal}"
    assert environment["PUBLIC_BASE_URL"] == ""  # the parameter's Default
    assert environment["STATE_TTL_SECONDS"] == "600"
    assert environment["FEATURE_ENABLED"] == "true"
    assert environment["ECHO_ONLY"] == "echo"
    # And !If on a false condition with AWS::NoValue drops the variable
    assert "CUSTOM_DOMAIN" not in environment


def test_parameter_values_override_defaults_and_drive_conditions() -> None:
    template = cfn.load_template(FIXTURE_TEMPLATE)
    resolver = cfn.Resolver(template, parameters={"PublicBaseUrl": "https://api.example.com"})
    environment = cfn.function_environment(template, resolver.resolve_str)
    assert environment["CUSTOM_DOMAIN"] == "https://api.example.com"
    assert resolver.condition("HasPublicBaseUrl") is True


def test_resources_of_type_keeps_template_order() -> None:
    template = cfn.load_template(FIXTURE_TEMPLATE)
    assert list(cfn.resources_of_type(template, "AWS::SQS::Queue")) == ["SyncDeadLetterQueue", "SyncQueue"]
    assert list(cfn.resources_of_type(template, "AWS::DynamoDB::Table")) == ["TokensTable", "StatesTable"]


@pytest.mark.skipif(not (ROOT / "template.yaml").exists(), reason="template.yaml not written yet")
def test_the_product_template_routes_point_at_existing_code() -> None:
    # The real template: every HttpApi route's handler module exists where CodeUri says.
    routes = cfn.http_routes(cfn.load_template(ROOT / "template.yaml"))
    assert routes, "template.yaml declares no HttpApi route"
    for route in routes:
        module = route.handler.rpartition(".")[0].replace(".", "/") + ".py"
        assert (ROOT / route.code_uri / module).is_file(), route
