"""The one redaction: every listed secret name, user info, redirect targets, free text."""

from __future__ import annotations

import logging

import pytest

from transforms.core.redact import (
    SECRET_PARAMS,
    RedactingFilter,
    is_secret_param,
    redact_record,
    redact_text,
    redact_url,
)

SECRET = "S3cr3tV4lue"


@pytest.mark.parametrize("name", sorted(SECRET_PARAMS))
def test_every_listed_name_is_masked_in_query_fragment_and_path(name):
    for spelling in (name, name.upper(), name.replace("_", "-")):
        url = f"https://news.example/a;{spelling}={SECRET}/b?x=1&{spelling}={SECRET}#{spelling}={SECRET}"
        out = redact_url(url)
        assert SECRET not in out, (spelling, out)
        assert out.startswith("https://news.example/a;") and "x=1" in out


@pytest.mark.parametrize(
    "name",
    [
        "X-Goog-Signature",
        "X-Goog-Credential",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "PHPSESSID",
        "JSESSIONID",
        "ASPSESSIONIDQQGGQ",
        "partner_token",
    ],
)
def test_cloud_signatures_and_session_ids(name):
    assert is_secret_param(name)
    assert SECRET not in redact_url(f"https://cdn.example/f.xml?{name}={SECRET}&X-Amz-Date=1")


def test_user_info_is_removed_and_other_parts_kept_byte_for_byte():
    url = f"https://reader:{SECRET}@feeds.example:8443/rss%20x?q=a+b%2Fc&page=2"
    assert redact_url(url) == "https://feeds.example:8443/rss%20x?q=a+b%2Fc&page=2"


def test_secret_inside_a_redirect_target_value():
    url = f"https://h.example/go?u=https%3A%2F%2Fx.example%2Fa%3Fjwt%3D{SECRET}&n=1"
    out = redact_url(url)
    assert SECRET not in out and out.startswith("https://h.example/go?u=") and out.endswith("&n=1")


def test_non_secret_names_are_left_alone():
    url = "https://h.example/a?id=42&keyword=flood&monkey=1&page=3"
    assert redact_url(url) == url


def test_free_text_messages():
    text = (
        f"GET https://u:{SECRET}@h.example/a?sig={SECRET} failed after redirect to "
        f"http://h.example/b?client_secret={SECRET}; header Authorization: Bearer {SECRET}; "
        f'{{"access_token": "{SECRET}"}} password={SECRET} proxy user:{SECRET}@proxy.example'
    )
    out = redact_text(text)
    assert SECRET not in out
    assert redact_text("status code: 404") == "status code: 404"


def test_record_fields_and_ids_untouched():
    record = {
        "story_id": "abc",
        "url": f"https://h.example/a?token={SECRET}",
        "feed_url": f"https://u:{SECRET}@h.example/rss",
        "error": f"see https://h.example/?key={SECRET}",
        "text": "body",
    }
    out = redact_record(record)
    assert SECRET not in str(out) and out["story_id"] == "abc" and out["text"] == "body"
    assert record["url"].endswith(SECRET)  # a copy: in-memory records keep what the fetch needs


def test_log_filter_redacts_formatted_messages():
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "fetch %s",
        (f"https://h.example/?api_key={SECRET}",),
        None,
    )
    assert RedactingFilter().filter(record)
    assert SECRET not in record.getMessage()
