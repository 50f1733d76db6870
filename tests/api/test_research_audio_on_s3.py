"""With S3 storage, an audio link is the storage's own presigned GET: short-lived, named by the
recording's pseudonym rather than anything uploaded, and of the research copy, not the original."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.research_data import RECORDER_TAGS, export, rows_of, seed_cohort
from tests.media_assets.test_s3_storage import s3, s3_endpoint  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_an_s3_audio_link_is_a_presigned_get_that_expires(agreement_api, site, s3):  # noqa: F811
    seed_cohort(site, store_audio=True)
    rows = rows_of("csv", export(agreement_api, "csv", dataset="limited")[1])

    link = agreement_api.get(rows[0]["audio_url"]).json()["url"]
    query = parse_qs(urlsplit(link).query)
    fetched = httpx.get(link)

    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    assert query["response-content-disposition"] == [
        f'attachment; filename="{rows[0]["recording_id"]}.wav"'
    ]
    assert fetched.status_code == 200 and fetched.content.startswith(b"RIFF")
    assert RECORDER_TAGS not in fetched.content and "/research-copies/" in urlsplit(link).path
