"""Upload quotas: a clinician and a site may upload so many recordings, and so many bytes, an
hour; the next upload gets 429 with Retry-After in the API's error shape and stores nothing
(issue 17.8: 300 valid uploads for one patient in 5 s were all accepted). Parallel uploads cannot
pass a quota together."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from media_assets.errors import UploadQuotaExceeded
from media_assets.models import Recording
from media_assets.quotas import charge_upload
from portal.core.models import Role
from tests.conftest import stored_objects
from tests.factories import MembershipFactory, UserFactory
from tests.media_assets.test_direct_upload import open_upload
from tests.media_assets.uploading import cough_wav, post_recording

pytestmark = pytest.mark.django_db


def assert_over_quota(response, quota: str) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 3600
    error = response.json()["error"]
    assert error["code"] == "upload_quota_exceeded" and error["quota"] == quota
    assert "limit" in error["message"]


def test_the_upload_after_a_clinicians_hourly_count_gets_429_and_stores_nothing(
    settings, api, patient, media_root
):
    settings.UPLOAD_QUOTA_USER_PER_HOUR = 3

    accepted = [post_recording(api, patient, cough_wav(seed=i)).status_code for i in range(3)]
    stored = stored_objects(media_root)
    refused = post_recording(api, patient, cough_wav(seed=99))

    assert accepted == [201, 201, 201]
    assert_over_quota(refused, "user")
    assert Recording.objects.count() == 3 and stored_objects(media_root) == stored


def test_a_clinicians_hourly_bytes_are_limited_too(settings, api, patient):
    clip = cough_wav(seed=1)
    settings.UPLOAD_QUOTA_USER_BYTES_PER_HOUR = 2 * len(clip) + 100

    accepted = [post_recording(api, patient, cough_wav(seed=i)).status_code for i in range(2)]
    refused = post_recording(api, patient, cough_wav(seed=2))

    assert accepted == [201, 201]
    assert_over_quota(refused, "user")


def test_a_sites_quota_counts_all_its_clinicians(settings, client, site, patient):
    settings.UPLOAD_QUOTA_SITE_PER_HOUR = 2
    colleagues = []
    for name in ("a", "b", "c"):
        user = UserFactory(username=f"clin-{name}")
        MembershipFactory(user=user, site=site, role=Role.CLINICIAN)
        colleagues.append(user)

    answers = []
    for seed, user in enumerate(colleagues):
        client.force_login(user)
        answers.append(post_recording(client, patient, cough_wav(seed=seed)))

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_over_quota(answers[2], "site")


def test_opening_a_direct_upload_is_charged_its_declared_size(settings, api, patient):
    settings.UPLOAD_QUOTA_USER_PER_HOUR = 1

    first = open_upload(api, patient, cough_wav(seed=1))
    second = open_upload(api, patient, cough_wav(seed=2))

    assert first.status_code == 201
    assert_over_quota(second, "user")
    assert Recording.objects.count() == 1


def test_of_parallel_uploads_exactly_the_quota_passes(settings, clinician, site):
    settings.UPLOAD_QUOTA_USER_PER_HOUR = 50

    def upload(_):
        try:
            charge_upload(actor=clinician, site_id=site.pk, size_bytes=1000)
        except UploadQuotaExceeded:
            return 0
        return 1

    with ThreadPoolExecutor(16) as pool:
        passed = sum(pool.map(upload, range(300)))

    print(f"upload quota 50/hour: {passed} of 300 parallel uploads passed", file=sys.__stderr__)
    assert passed == 50
