"""status_url and Location point where the caller reached the API: with the stage behind API Gateway."""

from __future__ import annotations

from typing import Any

from chalice.app import Request

from chalicelib.exports.urls import api_base_url


def api_gateway_event(domain: str = "a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com") -> dict[str, Any]:
    # A REST API proxy-integration event, as in the API Gateway developer guide ("Input format of a
    # Lambda function for proxy integration"): the stage and host are in requestContext.
    return {
        "resource": "/exports",
        "path": "/exports",
        "httpMethod": "POST",
        "headers": {"Host": domain, "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/exports",
            "httpMethod": "POST",
            "path": "/api/exports",
            "stage": "api",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "apiId": domain.split(".")[0],
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10"},
        },
        "body": "{}",
        "isBase64Encoded": False,
    }


def chalice_local_event(host: str = "127.0.0.1:8000") -> dict[str, Any]:
    # What `chalice local` builds (chalice/local.py LambdaEventConverter): no stage, no domainName.
    return {
        "requestContext": {"httpMethod": "POST", "resourcePath": "/exports", "identity": {"sourceIp": "127.0.0.1"}, "path": "/exports"},
        "headers": {"host": host, "content-type": "application/json"},
        "pathParameters": {},
        "stageVariables": {},
        "multiValueQueryStringParameters": None,
        "body": "{}",
    }


def base_url(event: dict[str, Any]) -> str:
    request = Request(event)
    return api_base_url(request.context, request.headers)


def test_behind_api_gateway_the_url_carries_the_stage() -> None:
    assert base_url(api_gateway_event()) == "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/api"


def test_under_chalice_local_the_url_is_the_host_alone() -> None:
    assert base_url(chalice_local_event()) == "http://127.0.0.1:8000"


def test_a_custom_domain_maps_its_own_base_path_so_no_stage_is_added() -> None:
    assert base_url(api_gateway_event("exports.example.com")) == "https://exports.example.com"


def test_a_request_naming_no_host_keeps_the_path_relative() -> None:
    event = chalice_local_event()
    event["headers"] = {}
    assert base_url(event) == ""
