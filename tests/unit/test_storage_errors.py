"""One translation of S3 errors (chalicelib/storage.py ``s3_call``), used by both small stores and the
record store. Errors are botocore's own classes, built as botocore builds them from S3's XML error
(``ClientError(error_response, operation_name)``: botocore/exceptions.py)."""

from __future__ import annotations

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.errors import StorageError
from chalicelib.storage import NOT_FOUND_CODES, s3_call


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetObject")


def raising(exc: BaseException) -> object:
    raise exc


def test_a_client_error_becomes_a_storage_error_naming_the_action_and_s3_code() -> None:
    with pytest.raises(StorageError) as caught:
        s3_call("could not read template 'x'", lambda: raising(client_error("AccessDenied")))
    assert caught.value.message == "could not read template 'x' (AccessDenied)"


def test_an_expected_code_is_answered_instead_and_any_other_code_is_not() -> None:
    assert s3_call("read", lambda: raising(client_error("NoSuchKey")), expected=NOT_FOUND_CODES, instead=lambda: None) is None
    with pytest.raises(StorageError):
        s3_call("read", lambda: raising(client_error("SlowDown")), expected=NOT_FOUND_CODES, instead=lambda: None)


def test_network_and_upload_failures_are_storage_errors_and_other_bugs_are_not() -> None:
    with pytest.raises(StorageError) as network:
        s3_call("upload", lambda: raising(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")))
    assert network.value.message == "upload (EndpointConnectionError)"
    try:
        raise client_error("EntityTooLarge")
    except ClientError as cause:
        wrapped = S3UploadFailedError("Failed to upload")
        wrapped.__context__ = cause
    with pytest.raises(StorageError) as upload:
        s3_call("upload", lambda: raising(wrapped))
    assert upload.value.message == "upload (EntityTooLarge)"
    with pytest.raises(KeyError):
        s3_call("read", lambda: raising(KeyError("Body")))
