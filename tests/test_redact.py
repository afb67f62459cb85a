"""The one redaction helper every output uses (issue 11, item 5)."""

from __future__ import annotations

import pytest

from tongket.models.redact import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("smtp://bao-cao:S3cret@mail.example.vn:587?starttls=1", "smtp://bao-cao:***@mail.example.vn:587?starttls=1"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://tongket@db/tongket", "postgresql://tongket@db/tongket"),
        (
            "https://xa.vn/api/{unit}/{period}?token=abc&year=2023",
            "https://xa.vn/api/{unit}/{period}?token=***&year=***",
        ),
        ("https://xa.vn/p#access_token=abc", "https://xa.vn/p#***"),
        ("smtps://u:p%40ss@h", "smtps://u:***@h"),
        ("smtp://[::1", "smtp://[::1"),  # not parseable: kept as far as nothing secret shows
    ],
)
def test_a_url_keeps_where_it_points_and_loses_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_text_are_redacted_and_the_sentence_kept() -> None:
    text = "fetch failed: https://x.vn/a?token=zz: timed out; mail via smtp://a:b@c."
    assert redact_text(text) == "fetch failed: https://x.vn/a?token=***: timed out; mail via smtp://a:***@c."
