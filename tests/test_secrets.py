"""Access keys, secret keys and session tokens never show in repr, str, exceptions or log output.

The dangerous case is the service itself echoing them: AWS answers a bad signature with the canonical
request it expected, which lists the signed ``x-amz-security-token`` header with its value, and an
incomplete signature with the ``Authorization`` header, which holds the access key id. The scripted
server here answers with exactly what the client sent, so the test fails if any of it reaches the caller.
"""

from __future__ import annotations

import logging
import textwrap

import kinesis
import kinesis.aio
import pytest
from kinesis import exceptions as kx
from scripted_server import Reply, Request

ACCESS_KEY_ID = "AKIDSECRETSTEST7777"
SECRET_KEY = "wJalrSECRETSTESTsecretkey/K7MDENG+bPxRfiCY"
SESSION_TOKEN = "FQoGZXIvYXdzSECRETSTESTtoken/abc+def=="
PROXY_PASSWORD = "proxySECRETSTESTpassword"
SECRETS = (ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN, PROXY_PASSWORD)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into: {text[:2000]}"


def connect(scripted, **kw):
    credentials = {
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": SESSION_TOKEN,
    }
    return kinesis.connect_to_region(
        "us-east-1", endpoint_url=scripted.endpoint_url, num_retries=0, **{**credentials, **kw}
    )


def echo_signature_mismatch(request: Request) -> Reply:
    """What AWS answers to a bad signature: the canonical request, signed headers and their values included."""
    signed = "".join(f"{name}:{request.headers.get(name, '')}\n" for name in sorted(request.headers))
    message = (
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.\n\n"
        f"The Canonical String for this request should have been\n'POST\n/\n\n{signed}'\n\n"
        f"The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n{request.headers.get('x-amz-date', '')}'\n"
    )
    return Reply.error("InvalidSignatureException", message, request_id="rid-sig")


def echo_incomplete_signature(request: Request) -> Reply:
    """What AWS answers to a malformed Authorization header: the header itself, access key id included."""
    message = f"Authorization header requires 'Signature' parameter. Authorization={request.headers['authorization']}"
    return Reply.error("IncompleteSignatureException", message, status=403)


def echo_everything_as_html(request: Request) -> Reply:
    """A proxy's error page that dumps the request headers (seen in the wild)."""
    dump = "<br>".join(f"{k}: {v}" for k, v in request.headers.items())
    return Reply.raw(f"<html><body>Bad gateway<br>{dump}</body></html>".encode(), status=502, content_type="text/html")


def echo_in_a_200(request: Request) -> Reply:
    """A success status whose body is the headers, unparsable as an answer: a ResponseError with the body."""
    return Reply.raw(repr(request.headers).encode(), status=200)


ECHOES = {
    "signature-mismatch": (echo_signature_mismatch, kx.JSONResponseError),
    "incomplete-signature": (echo_incomplete_signature, kx.JSONResponseError),
    "html-dump": (echo_everything_as_html, kx.JSONResponseError),
    "200-dump": (echo_in_a_200, kx.ResponseError),
}


@pytest.mark.parametrize("echo", list(ECHOES))
def test_secrets_echoed_by_the_server_never_reach_the_exception(scripted, echo, caplog):
    responder, expected = ECHOES[echo]
    scripted.always("DescribeStream", responder)
    caplog.set_level(logging.DEBUG)
    with connect(scripted) as conn:
        with pytest.raises(expected) as info:
            conn.describe_stream("s")
    # the server really was sent (and echoed) the secrets the caller must not see again
    sent = scripted.requests[0].headers
    assert sent["x-amz-security-token"] == SESSION_TOKEN and ACCESS_KEY_ID in sent["authorization"]
    err = info.value
    texts = [str(err), repr(err), str(err.args), str(getattr(err, "body", "")), str(getattr(err, "message", ""))]
    for text in texts:
        assert_no_secret(text)
    assert_no_secret(caplog.text)
    shown = str(err) + str(getattr(err, "body", ""))
    assert "<redacted>" in shown, "the echo should still be recognisable, with the values cut out"


async def test_secrets_echoed_to_the_asyncio_face(scripted):
    scripted.always("DescribeStream", echo_signature_mismatch)
    async with kinesis.aio.connect_to_region(
        "us-east-1",
        endpoint_url=scripted.endpoint_url,
        num_retries=0,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
        security_token=SESSION_TOKEN,
    ) as conn:
        with pytest.raises(kx.JSONResponseError) as info:
            await conn.describe_stream("s")
    assert_no_secret(str(info.value) + repr(info.value) + str(info.value.body))


@pytest.mark.parametrize(
    ("error_type", "status"),
    [("UnrecognizedClientException", 400), ("InvalidSignatureException", 403), ("AccessDeniedException", 400)],
)
def test_auth_failures_name_the_problem_not_the_key(scripted, error_type, status):
    scripted.always(
        "ListStreams", Reply.error(error_type, "The security token included in the request is invalid.", status=status)
    )
    with connect(scripted) as conn:
        with pytest.raises(kx.BotoServerError) as info:
            conn.list_streams()
    assert info.value.error_code == error_type
    assert_no_secret(str(info.value) + repr(info.value))


def test_connection_attributes_hold_no_secret(scripted):
    with connect(scripted) as conn:
        shown = [repr(conn), str(conn), conn.host, conn.region_name, conn.credential_source, str(conn.endpoint_url)]
        shown.append(repr(conn.region))
        assert_no_secret(" ".join(shown))
        assert conn.credential_source  # it says where the credentials came from, not what they are


def test_connect_errors_hold_no_secret(scripted):
    for bad in (
        {"aws_secret_access_key": None, "aws_session_token": None},  # a key id without its secret
        {"aws_access_key_id": None, "aws_session_token": None},  # a secret without its key id
        {"proxy": f"http://proxyuser:{PROXY_PASSWORD}@::::"},
        {"proxy": "::::", "proxy_user": "proxyuser", "proxy_pass": PROXY_PASSWORD},
        {"read_timeout": -1},
    ):
        with pytest.raises((TypeError, ValueError)) as info:
            connect(scripted, **bad)
        assert_no_secret(str(info.value) + repr(info.value))


def test_credentials_files_never_echoed(monkeypatch, tmp_path, scripted):
    # A profile with a session token but no secret: the error names the profile, not its values.
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        textwrap.dedent(
            f"""
            [broken]
            aws_access_key_id = {ACCESS_KEY_ID}
            aws_session_token = {SESSION_TOKEN}
            """
        )
    )
    monkeypatch.setenv("HOME", str(home))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(kx.KinesisError) as info:
        kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, profile_name="broken")
    assert "broken" in str(info.value)
    assert_no_secret(str(info.value) + repr(info.value))


def test_environment_credentials_never_in_output(monkeypatch, scripted, caplog):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    caplog.set_level(logging.DEBUG)
    scripted.always("ListStreams", echo_signature_mismatch)
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, num_retries=1)
    assert_no_secret(repr(conn) + conn.credential_source)
    with pytest.raises(kx.JSONResponseError) as info:
        conn.list_streams()
    assert_no_secret(str(info.value) + caplog.text)
    conn.close()
