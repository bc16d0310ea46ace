"""Callback URLs a client may give, addresses the service may call, and the retry schedule."""

from __future__ import annotations

import ipaddress

import pytest

from ragcore.config import Settings
from pydantic import ValidationError

from ragcore.domain.callbacks import RetrySchedule, Verdict, address_refusal, callback_problem, verdict
from ragcore.domain.messages import ChatRequest


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "not a public"), ("::1", "loopback"), ("::", "unspecified"),
    ("fe80::1", "link-local"), ("fd00::1", "private"), ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"), ("2002:a00:1::", "private"),
    ("fec0::1", "site-local"), ("feff:ffff::1", "site-local"),
])
def test_internal_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    refused = address_refusal(ipaddress.ip_address(address))
    assert refused is not None and kind in refused


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_may_be_called(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_offline_allows_http_and_loopback_but_never_credentials() -> None:
    assert callback_problem("http://127.0.0.1:8000/hook", allow_private=True) is None
    assert callback_problem("http://127.0.0.1:8000/hook", allow_private=False) == "must be an https URL"
    assert "credentials" in (callback_problem("http://a:b@127.0.0.1/", allow_private=True) or "")
    assert callback_problem("https://hooks.example.com/x?y=1", allow_private=False) is None
    assert callback_problem("https://hooks.example.com/#frag", allow_private=False) == "must not have a fragment (#...)"
    assert "not a valid URL" in (callback_problem("https://[::1/", allow_private=True) or "")


@pytest.mark.parametrize("url", [
    "https://exa mple.com/", "https://exa_mple.com/hook", "https://-hooks.example.com/",
    "https://hooks-.example.com/", "https://a..example.com/", f"https://{'a' * 64}.example.com/",
    "https://ex%41mple.com/", "https://[v1.x]/", "https://bü cher.example/", "https://xn--.example/",
])
def test_a_host_that_is_no_valid_name_or_ip_address_is_refused(url: str) -> None:
    assert (callback_problem(url, allow_private=False) or "").startswith("must name a")
    assert (callback_problem(url, allow_private=True) or "").startswith("must name a")  # offline too


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/", "https://HOOKS.Example.com./in", "https://a-b.c0.example:8443/",
    "https://xn--bcher-kva.example/", "https://bücher.example/", "https://8.8.8.8/",
    "https://[2606:4700::1111]/",
])
def test_valid_names_and_public_addresses_pass(url: str) -> None:
    assert callback_problem(url, allow_private=False) is None


@pytest.mark.parametrize(("url", "refused"), [
    ("https://[fec0::1]/", "fec0::1 is a site-local address"),
    ("https://2130706433/", "127.0.0.1 is a loopback address"),  # what a resolver reads it as
    ("https://127.1/", "127.0.0.1 is a loopback address"),
    ("https://１２７.０.０.１/", "127.0.0.1 is a loopback address"),  # full-width digits, mapped
    ("https://api.localhost/", "localhost is a loopback address"),
    ("https://ＬＯＣＡＬＨＯＳＴ/", "localhost is a loopback address"),
])
def test_other_spellings_of_internal_hosts_are_refused(url: str, refused: str) -> None:
    assert callback_problem(url, allow_private=False) == f"cannot be called: {refused}"


def test_an_internationalised_host_is_kept_in_its_ascii_form() -> None:
    """The form DNS and the Host header carry (a non-ASCII Host header cannot be sent), by IDNA
    2008 with UTS #46 mapping: ß stays a letter of its own, upper case is folded."""
    assert ChatRequest(query="q", callback_url="https://Bücher.example:8443/in?q=ü").callback_url == (
        "https://xn--bcher-kva.example:8443/in?q=ü")
    assert ChatRequest(query="q", callback_url="https://faß.de/").callback_url == "https://xn--fa-hia.de/"
    assert ChatRequest(query="q", callback_url="https://hooks.example.com/x").callback_url == (
        "https://hooks.example.com/x")  # ASCII: as given
    with pytest.raises(ValidationError) as refused:
        ChatRequest(query="q", callback_url="https://exa mple.com/")
    (error,) = refused.value.errors()
    assert error["loc"] == ("callback_url",) and "must name a valid host" in error["msg"]


def test_2xx_delivers_410_gives_up_the_rest_retry() -> None:
    assert [verdict(s) for s in (200, 204, 299)] == [Verdict.DELIVERED] * 3
    assert verdict(410) is Verdict.GIVE_UP
    assert [verdict(s) for s in (None, 301, 400, 404, 429, 500, 503)] == [Verdict.RETRY] * 7


def test_the_default_schedule_retries_for_over_an_hour_and_matches_the_template() -> None:
    schedule = Settings().webhook_schedule
    assert schedule.span_seconds() >= 3600
    assert [schedule.delay(n) for n in range(1, 10)] == [30, 60, 120, 300, 600, 1200, 1800, 1800, 1800]
    assert RetrySchedule((1,), 4).span_seconds() == 3


def test_private_callbacks_are_refused_in_lambda() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_ALLOW_PRIVATE"):
        Settings(aws_lambda_function_name="ragcore-worker", webhook_allow_private=True)


def test_the_template_gives_the_queue_as_many_receives_as_the_function_attempts() -> None:
    import yaml

    from ragcore.local.template import _CfnLoader
    from tests.support.paths import ROOT

    resources = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)["Resources"]  # noqa: S506
    variables = resources["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    deployed = Settings(webhook_retry_delays=variables["WEBHOOK_RETRY_DELAYS"],
                        webhook_max_attempts=variables["WEBHOOK_MAX_ATTEMPTS"])
    assert deployed.webhook_schedule == Settings().webhook_schedule
    receives = resources["WebhookQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    assert receives == deployed.webhook_max_attempts
