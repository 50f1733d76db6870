"""The container is recognised from its first bytes only, and anything else is refused as not audio."""

import pytest

from media_assets.audio import (
    CONTENT_TYPES,
    SNIFF_BYTES,
    STORAGE_EXTENSIONS,
    NotAudio,
    decode,
    sniff,
)
from tests.fixtures import audio_corpus as corpus


@pytest.mark.parametrize("name", sorted(corpus.FORMATS))
def test_each_supported_format_is_recognised_from_its_first_bytes(name):
    if reason := corpus.missing_encoder(name):
        pytest.skip(reason)
    data = corpus.encode(corpus.tone(), 16000, name)

    assert sniff(data[:SNIFF_BYTES]) == corpus.FORMATS[name].container


def test_mp3_without_id3_tag_is_recognised_from_its_frame_sync():
    data = corpus.encode(corpus.tone(), 16000, "mp3_without_id3")

    assert data[:3] != b"ID3"
    assert sniff(data[:SNIFF_BYTES]) == "mp3"


def test_adts_aac_is_not_taken_for_mp3_despite_the_same_sync_word():
    adts_header = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC])  # layer bits 00

    with pytest.raises(NotAudio):
        sniff(adts_header + bytes(100))


def test_flac_behind_an_id3_tag_is_recognised_as_flac():
    flac = corpus.encode(corpus.tone(), 16000, "flac")
    id3_tag = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10)

    assert sniff(id3_tag + flac[:100]) == "flac"


def test_flac_behind_an_id3_tag_longer_than_the_sniffed_head_decodes_as_flac():
    flac = corpus.encode(corpus.tone(), 16000, "flac")
    size = 3 * SNIFF_BYTES  # like a tag carrying cover art
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    tagged = b"ID3\x04\x00\x00" + syncsafe + bytes(size) + flac

    decoded = decode(tagged, max_duration_s=30, min_duration_s=0.5)

    assert decoded.container == "flac"
    assert decoded.duration_s == pytest.approx(1.5, abs=0.05)


def test_matroska_audio_that_is_not_webm_is_still_accepted_as_matroska():
    webm = corpus.encode(corpus.tone(), 16000, "webm_opus")
    head = webm[:SNIFF_BYTES].replace(b"webm", b"mkv!", 1)

    assert sniff(webm[:SNIFF_BYTES]) == "webm"
    assert sniff(head) == "matroska"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(corpus.random_bytes(), id="random-bytes"),
        pytest.param(corpus.html_page(), id="html"),
        pytest.param(corpus.zip_archive(), id="zip-holding-a-wav"),
        pytest.param(corpus.png_image(), id="png"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", id="pdf"),
        pytest.param(b"patient,cough\n1,yes\n", id="csv"),
        pytest.param(b"RIFF\x24\x00\x00\x00AVI LIST", id="riff-but-avi"),
        pytest.param(b"ID3\x04\x00\x00\x80\x00\x00\x00", id="id3-with-bad-size"),
        pytest.param(b"RI", id="two-bytes"),
    ],
)
def test_bytes_that_are_not_a_supported_audio_container_are_not_audio(data):
    with pytest.raises(NotAudio) as caught:
        sniff(data)

    assert caught.value.kind == "unsupported"
    assert caught.value.code == "not_audio"


def test_every_container_sniff_can_name_has_a_storage_extension_and_content_type():
    containers = {spec.container for spec in corpus.FORMATS.values()} | {"matroska"}

    for container in containers:
        assert STORAGE_EXTENSIONS[container].isalnum()
        assert CONTENT_TYPES[container].startswith("audio/")
    assert STORAGE_EXTENSIONS["webm"] == "webm"
    assert STORAGE_EXTENSIONS["m4a"] == "m4a"
