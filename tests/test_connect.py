"""connect_to_region, regions, KinesisConnection options, endpoints and the credential chain."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import kinesis
import kinesis.aio
import kinesis.layer1
import pytest
from kinesis.exceptions import KinesisError, NoCredentialsError
from scripted_server import ScriptedServer

# --- connect_to_region and regions --------------------------------------------------------------


def test_connect_to_region_returns_layer1_connection(scripted):
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    assert isinstance(conn, kinesis.layer1.KinesisConnection)
    assert conn.list_streams() == {"StreamNames": [], "HasMoreStreams": False}
    conn.close()


def test_connect_to_region_unknown_keyword_is_type_error():
    with pytest.raises(TypeError, match="no_such_option"):
        kinesis.connect_to_region("us-east-1", no_such_option=1)


def test_aio_connect_to_region_checks_arguments_too():
    with pytest.raises(TypeError, match="no_such_option"):
        kinesis.aio.connect_to_region("us-east-1", no_such_option=1)
    with pytest.raises(TypeError):
        kinesis.aio.connect_to_region("us-east-1", region=kinesis.regions()[0])
    with pytest.raises(ValueError, match="region_name"):
        kinesis.aio.connect_to_region("US East")


def test_connect_to_region_region_keyword_is_type_error():
    region = kinesis.regions()[0]
    with pytest.raises(TypeError):
        kinesis.connect_to_region("us-east-1", region=region)


@pytest.mark.parametrize("bad", ["US East", "", "us_east_1", "us-east-1 ", "../etc"])
def test_malformed_region_is_value_error_naming_region_name(bad):
    with pytest.raises(ValueError, match="region_name"):
        kinesis.connect_to_region(bad)


def test_region_name_must_be_a_string():
    with pytest.raises(TypeError, match="region_name"):
        kinesis.connect_to_region(None)


def test_connection_constructor_is_keyword_only(scripted):
    with pytest.raises(TypeError):
        kinesis.layer1.KinesisConnection("AKID", "secret")
    with pytest.raises(TypeError, match="bogus"):
        kinesis.layer1.KinesisConnection(bogus=True)


def test_connect_to_a_region_the_sdk_knows_without_a_list_entry(scripted):
    # every well-formed region works (signing region = region_name), not just the boto 2.49 list
    conn = kinesis.connect_to_region("ap-southeast-7", endpoint_url=scripted.endpoint_url)
    conn.list_streams()
    assert "/ap-southeast-7/kinesis/aws4_request" in scripted.requests[0].headers["authorization"]
    conn.close()


def test_regions():
    regions = kinesis.regions()
    assert isinstance(regions, list)
    by_name = {r.name: r for r in regions}
    assert {"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"} <= set(by_name)
    us = by_name["us-east-1"]
    assert us.endpoint == "kinesis.us-east-1.amazonaws.com"
    assert repr(us) == "RegionInfo:us-east-1"
    for region in regions:
        assert region.endpoint.startswith(f"kinesis.{region.name}.amazonaws.com")
    if "cn-north-1" in by_name:
        assert by_name["cn-north-1"].endpoint == "kinesis.cn-north-1.amazonaws.com.cn"


def test_region_info_connect(scripted):
    region = next(r for r in kinesis.regions() if r.name == "us-west-2")
    conn = region.connect(endpoint_url=scripted.endpoint_url)
    assert isinstance(conn, kinesis.layer1.KinesisConnection)
    conn.list_streams()
    assert "/us-west-2/kinesis/aws4_request" in scripted.requests[0].headers["authorization"]
    conn.close()


def test_region_keyword_on_connection(scripted):
    region = next(r for r in kinesis.regions() if r.name == "eu-west-1")
    conn = kinesis.layer1.KinesisConnection(region=region, endpoint_url=scripted.endpoint_url)
    conn.list_streams()
    assert "/eu-west-1/kinesis/aws4_request" in scripted.requests[0].headers["authorization"]
    conn.close()


# --- endpoints ----------------------------------------------------------------------------------


def test_host_port_is_secure(scripted):
    conn = kinesis.connect_to_region("us-east-1", host="127.0.0.1", port=scripted.port, is_secure=False)
    conn.list_streams()
    assert scripted.actions() == ["ListStreams"]
    assert "/us-east-1/kinesis/aws4_request" in scripted.requests[0].headers["authorization"]
    conn.close()


def test_host_port_on_connection_class(scripted):
    conn = kinesis.layer1.KinesisConnection(host="127.0.0.1", port=scripted.port, is_secure=False)
    conn.list_streams()
    assert scripted.actions() == ["ListStreams"]
    conn.close()


@pytest.fixture
def three_servers():
    with ScriptedServer() as a, ScriptedServer() as b, ScriptedServer() as c:
        yield a, b, c


def test_aws_endpoint_url_env(monkeypatch, three_servers):
    a, _b, _c = three_servers
    monkeypatch.setenv("AWS_ENDPOINT_URL", a.endpoint_url)
    conn = kinesis.connect_to_region("us-east-1")
    conn.list_streams()
    assert a.actions() == ["ListStreams"]
    conn.close()


def test_service_specific_endpoint_env_wins(monkeypatch, three_servers):
    a, b, _c = three_servers
    monkeypatch.setenv("AWS_ENDPOINT_URL", a.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", b.endpoint_url)
    conn = kinesis.connect_to_region("us-east-1")
    conn.list_streams()
    assert (a.actions(), b.actions()) == ([], ["ListStreams"])
    conn.close()


def test_explicit_endpoint_url_wins_over_env(monkeypatch, three_servers):
    a, b, c = three_servers
    monkeypatch.setenv("AWS_ENDPOINT_URL", a.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", b.endpoint_url)
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=c.endpoint_url)
    conn.list_streams()
    assert (a.actions(), b.actions(), c.actions()) == ([], [], ["ListStreams"])
    conn.close()


def test_explicit_host_wins_over_env(monkeypatch, three_servers):
    a, b, c = three_servers
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", b.endpoint_url)
    conn = kinesis.connect_to_region("us-east-1", host="127.0.0.1", port=c.port, is_secure=False)
    conn.list_streams()
    assert (a.actions(), b.actions(), c.actions()) == ([], [], ["ListStreams"])
    conn.close()


async def test_endpoint_env_async(monkeypatch, three_servers):
    _a, b, _c = three_servers
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", b.endpoint_url)
    async with kinesis.aio.connect_to_region("us-east-1") as conn:
        await conn.list_streams()
    assert b.actions() == ["ListStreams"]


# --- repr, close, context manager ---------------------------------------------------------------


def test_repr_default_endpoint_and_no_network_on_construction():
    conn = kinesis.connect_to_region("us-east-1")
    assert repr(conn) == "KinesisConnection:kinesis.us-east-1.amazonaws.com"
    conn.close()
    conn = kinesis.connect_to_region("eu-west-1")
    assert repr(conn) == "KinesisConnection:kinesis.eu-west-1.amazonaws.com"
    conn.close()


def test_repr_never_contains_secrets(scripted):
    conn = kinesis.connect_to_region(
        "us-east-1",
        endpoint_url=scripted.endpoint_url,
        aws_access_key_id="AKIDSHOWN",
        aws_secret_access_key="SUPERSECRETVALUE",
        security_token="SESSIONTOKENVALUE",
    )
    text = repr(conn) + str(conn)
    assert text.startswith("KinesisConnection:")
    assert "127.0.0.1" in repr(conn)
    assert "SUPERSECRETVALUE" not in text
    assert "SESSIONTOKENVALUE" not in text
    conn.close()


async def test_aio_repr():
    conn = kinesis.aio.connect_to_region("us-west-2")
    assert "kinesis.us-west-2.amazonaws.com" in repr(conn)
    await conn.close()


def test_context_manager_and_close(scripted):
    with kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url) as conn:
        assert isinstance(conn, kinesis.layer1.KinesisConnection)
        conn.list_streams()
    conn.close()  # closing twice is harmless
    assert scripted.actions() == ["ListStreams"]


def test_many_connections_open_and_close(scripted):
    for _ in range(20):
        conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
        conn.list_streams()
        conn.close()
    assert scripted.request_count() == 20


# --- credentials --------------------------------------------------------------------------------


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """No credentials anywhere: empty HOME, empty cwd, no AWS_* keys, no boto config."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "BOTO_CONFIG",
        "BOTO_PATH",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return home, work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def sent_key(scripted: ScriptedServer, **kw) -> str:
    """Connect with ``kw``, make one call, and return the access key id the server saw."""
    before = scripted.request_count()
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, **kw)
    conn.list_streams()
    conn.close()
    return scripted.requests[before].access_key_id


def sent_token(scripted: ScriptedServer) -> str | None:
    return scripted.requests[-1].headers.get("x-amz-security-token")


def test_no_credentials_is_a_quick_clear_error(bare, scripted):
    start = time.monotonic()
    with pytest.raises(NoCredentialsError) as info:
        kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    message = str(info.value)
    assert "AWS_ACCESS_KEY_ID" in message
    assert ".aws/credentials" in message
    assert "boto" in message.lower()
    assert isinstance(info.value, KinesisError)
    assert scripted.requests == []


async def test_no_credentials_async(bare, scripted):
    start = time.monotonic()
    with pytest.raises(NoCredentialsError):
        kinesis.aio.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    assert time.monotonic() - start < 1.0


def test_keyword_credentials(bare, scripted):
    assert sent_key(scripted, aws_access_key_id="AKIDKEYWORD", aws_secret_access_key="s") == "AKIDKEYWORD"
    assert sent_token(scripted) is None


def test_keyword_security_token(bare, scripted):
    sent_key(scripted, aws_access_key_id="AKIDKEYWORD", aws_secret_access_key="s", security_token="TOKEN1")
    assert sent_token(scripted) == "TOKEN1"
    sent_key(scripted, aws_access_key_id="AKIDKEYWORD", aws_secret_access_key="s", aws_session_token="TOKEN2")
    assert sent_token(scripted) == "TOKEN2"


def test_keywords_win_over_env(bare, scripted, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert sent_key(scripted, aws_access_key_id="AKIDKEYWORD", aws_secret_access_key="s") == "AKIDKEYWORD"


def test_env_credentials(bare, scripted, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert sent_key(scripted) == "AKIDENV"
    assert sent_token(scripted) is None


@pytest.mark.parametrize("var", ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])
def test_env_session_token(bare, scripted, monkeypatch, var):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    monkeypatch.setenv(var, "ENVTOKEN")
    assert sent_key(scripted) == "AKIDENV"
    assert sent_token(scripted) == "ENVTOKEN"


def test_env_wins_over_files(bare, scripted, monkeypatch):
    home, _ = bare
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
    write(home / ".boto", "[Credentials]\naws_access_key_id = AKIDBOTO\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert sent_key(scripted) == "AKIDENV"


def test_default_profile_in_aws_credentials(bare, scripted):
    home, _ = bare
    write(
        home / ".aws" / "credentials",
        """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = d
        aws_session_token = FILETOKEN
        """,
    )
    assert sent_key(scripted) == "AKIDDEFAULT"
    assert sent_token(scripted) == "FILETOKEN"


def test_named_profile_keyword(bare, scripted):
    home, _ = bare
    write(
        home / ".aws" / "credentials",
        """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = d

        [work]
        aws_access_key_id = AKIDWORK
        aws_secret_access_key = w
        """,
    )
    assert sent_key(scripted, profile_name="work") == "AKIDWORK"


def test_aws_profile_env(bare, scripted, monkeypatch):
    home, _ = bare
    write(
        home / ".aws" / "credentials",
        """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = d

        [envprofile]
        aws_access_key_id = AKIDENVPROFILE
        aws_secret_access_key = e
        """,
    )
    monkeypatch.setenv("AWS_PROFILE", "envprofile")
    assert sent_key(scripted) == "AKIDENVPROFILE"


def test_profile_keyword_wins_over_aws_profile_env(bare, scripted, monkeypatch):
    home, _ = bare
    write(
        home / ".aws" / "credentials",
        """
        [one]
        aws_access_key_id = AKIDONE
        aws_secret_access_key = o

        [two]
        aws_access_key_id = AKIDTWO
        aws_secret_access_key = t
        """,
    )
    monkeypatch.setenv("AWS_PROFILE", "one")
    assert sent_key(scripted, profile_name="two") == "AKIDTWO"


def test_profile_in_boto_config(bare, scripted, monkeypatch, tmp_path):
    cfg = write(
        tmp_path / "boto.cfg",
        """
        [Credentials]
        aws_access_key_id = AKIDBOTODEFAULT
        aws_secret_access_key = b

        [profile legacy]
        aws_access_key_id = AKIDLEGACY
        aws_secret_access_key = l
        """,
    )
    monkeypatch.setenv("BOTO_CONFIG", str(cfg))
    assert sent_key(scripted, profile_name="legacy") == "AKIDLEGACY"


def test_missing_named_profile_is_an_error(bare, scripted):
    home, _ = bare
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n")
    with pytest.raises((KinesisError, ValueError)) as info:
        kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url, profile_name="nosuchprofile")
    assert "nosuchprofile" in str(info.value)
    assert scripted.requests == []


def test_aws_credentials_default_wins_over_boto_config(bare, scripted):
    home, _ = bare
    write(home / ".aws" / "credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
    write(home / ".boto", "[Credentials]\naws_access_key_id = AKIDBOTO\naws_secret_access_key = b\n")
    assert sent_key(scripted) == "AKIDFILE"


def test_boto_config_env(bare, scripted, monkeypatch, tmp_path):
    cfg = write(
        tmp_path / "cfg" / "boto.cfg",
        """
        [Credentials]
        aws_access_key_id = AKIDBOTOCONFIG
        aws_secret_access_key = b
        aws_security_token = BOTOTOKEN
        """,
    )
    monkeypatch.setenv("BOTO_CONFIG", str(cfg))
    assert sent_key(scripted) == "AKIDBOTOCONFIG"
    assert sent_token(scripted) == "BOTOTOKEN"


def test_boto_config_env_excludes_home_boto(bare, scripted, monkeypatch, tmp_path):
    home, _ = bare
    write(home / ".boto", "[Credentials]\naws_access_key_id = AKIDHOMEBOTO\naws_secret_access_key = h\n")
    cfg = write(tmp_path / "only.cfg", "[Boto]\nis_secure = True\n")  # no credentials in it
    monkeypatch.setenv("BOTO_CONFIG", str(cfg))
    with pytest.raises(NoCredentialsError):
        kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)


def test_boto_path_later_wins(bare, scripted, monkeypatch, tmp_path):
    first = write(tmp_path / "first.cfg", "[Credentials]\naws_access_key_id = AKIDFIRST\naws_secret_access_key = 1\n")
    second = write(
        tmp_path / "second.cfg", "[Credentials]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = 2\n"
    )
    monkeypatch.setenv("BOTO_PATH", os.pathsep.join([str(first), str(second)]))
    assert sent_key(scripted) == "AKIDSECOND"


def test_home_boto(bare, scripted):
    home, _ = bare
    write(home / ".boto", "[Credentials]\naws_access_key_id = AKIDHOMEBOTO\naws_secret_access_key = h\n")
    assert sent_key(scripted) == "AKIDHOMEBOTO"


def test_cwd_boto_wins_over_home_boto(bare, scripted):
    home, work = bare
    write(home / ".boto", "[Credentials]\naws_access_key_id = AKIDHOMEBOTO\naws_secret_access_key = h\n")
    write(work / ".boto", "[Credentials]\naws_access_key_id = AKIDCWDBOTO\naws_secret_access_key = c\n")
    assert sent_key(scripted) == "AKIDCWDBOTO"


def test_credentials_resolved_at_construction(bare, scripted, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFIRST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    conn = kinesis.connect_to_region("us-east-1", endpoint_url=scripted.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLATER")
    conn.list_streams()
    assert scripted.requests[0].access_key_id == "AKIDFIRST"
    conn.close()
