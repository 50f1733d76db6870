"""Every accepted format decodes to 16 kHz mono float32 of the right length and pitch."""

import io
import struct

import numpy as np
import pytest

from media_assets.audio import DecodedAudio, RecordingTooShort, decode, to_wav
from tests.fixtures import audio_corpus as corpus

LIMITS = {"max_duration_s": 30.0, "min_duration_s": 0.5}
FORMATS = ["wav", "wav_float", "flac", "ogg_opus", "webm_opus", "mp3", "m4a", "ogg_vorbis"]
# Opus always decodes at 48 kHz, whatever rate it was recorded at.
DECODED_RATE = {"ogg_opus": 48000, "webm_opus": 48000}


def _tone_file(name: str, rate: int, channels: int, freq: float = 1000.0) -> bytes:
    if reason := corpus.missing_encoder(name):
        pytest.skip(reason)
    # 1.5 s: AAC pads to whole 1024-sample frames, +36 ms at 8 and 16 kHz, inside the tolerance.
    return corpus.encode(corpus.tone(freq, seconds=1.5, rate=rate, channels=channels), rate, name)


def _peak_frequency(decoded: DecodedAudio) -> float:
    spectrum = np.abs(np.fft.rfft(decoded.samples * np.hanning(decoded.samples.size)))
    return float(np.fft.rfftfreq(decoded.samples.size, 1 / decoded.sample_rate)[spectrum.argmax()])


@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
@pytest.mark.parametrize("rate", corpus.SAMPLE_RATES)
@pytest.mark.parametrize("name", FORMATS)
def test_every_format_decodes_to_16_khz_mono_float32_with_the_right_duration(name, rate, channels):
    decoded = decode(_tone_file(name, rate, channels), **LIMITS)

    assert decoded.samples.dtype == np.float32
    assert decoded.samples.ndim == 1
    assert decoded.sample_rate == 16000
    assert decoded.samples.size == round(decoded.duration_s * 16000)
    assert decoded.duration_s == pytest.approx(1.5, abs=0.05)
    assert decoded.channels == channels
    assert decoded.original_sample_rate == DECODED_RATE.get(name, rate)
    assert decoded.container == corpus.FORMATS[name].container


@pytest.mark.parametrize("rate", corpus.SAMPLE_RATES)
@pytest.mark.parametrize("name", FORMATS)
def test_a_tones_frequency_survives_decoding_and_resampling(name, rate):
    for freq in (440.0, 3000.0):
        decoded = decode(_tone_file(name, rate, 1, freq), **LIMITS)

        assert _peak_frequency(decoded) == pytest.approx(freq, abs=5.0)


@pytest.mark.parametrize("name", ["wav", "flac", "webm_opus"])
def test_stereo_is_averaged_to_mono_so_levels_are_kept(name):
    in_phase = corpus.tone(440.0, rate=48000, channels=2, amplitude=0.8)
    opposite = in_phase * np.array([[1.0], [-1.0]], dtype=np.float32)

    same = decode(corpus.encode(in_phase, 48000, name), **LIMITS)
    cancelled = decode(corpus.encode(opposite, 48000, name), **LIMITS)

    # Summing at -3 dB, FFmpeg's default downmix, would give 1.13 and fake clipping.
    assert np.abs(same.samples).max() == pytest.approx(0.8, abs=0.03)
    assert np.abs(cancelled.samples).max() < 0.05


def test_decode_reports_the_codec_it_used():
    assert decode(corpus.encode(corpus.tone(), 16000, "webm_opus"), **LIMITS).codec == "opus"
    assert decode(corpus.encode(corpus.tone(), 16000, "flac"), **LIMITS).codec == "flac"
    assert decode(corpus.encode(corpus.tone(), 16000, "m4a"), **LIMITS).codec == "aac"


def test_decode_reads_a_path_bytes_or_a_file_object_alike(tmp_path):
    data = corpus.encode(corpus.cough_like(), 16000, "flac")
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    upload = io.BytesIO(data)
    upload.seek(100)

    from_path = decode(path, **LIMITS)
    from_str = decode(str(path), **LIMITS)
    from_bytes = decode(data, **LIMITS)
    from_file = decode(upload, **LIMITS)

    assert upload.tell() == 0  # rewound for whoever stores the file next
    for other in (from_str, from_bytes, from_file):
        np.testing.assert_array_equal(other.samples, from_path.samples)


def test_wav_with_a_metadata_chunk_after_the_samples_is_accepted():
    decoded = decode(corpus.wav_with_metadata_after_samples(), **LIMITS)

    assert decoded.duration_s == pytest.approx(1.5, abs=0.001)


def test_a_wav_followed_by_one_stray_pad_byte_is_accepted():
    data = corpus.pcm_wav(corpus.tone(), 16000) + b"\x00"

    assert decode(data, **LIMITS).duration_s == pytest.approx(1.5, abs=0.001)


def test_other_target_rates_can_be_asked_for():
    decoded = decode(corpus.encode(corpus.tone(440.0), 16000, "wav"), target_rate=8000, **LIMITS)

    assert decoded.sample_rate == 8000
    assert decoded.samples.size == 12000
    assert _peak_frequency(decoded) == pytest.approx(440.0, abs=5.0)


def test_a_sample_rate_in_the_allowed_set_is_accepted():
    data = corpus.encode(corpus.tone(rate=44100), 44100, "flac")

    decoded = decode(data, allowed_sample_rates=(16000, 44100, 48000), **LIMITS)

    assert decoded.original_sample_rate == 44100


def test_normalised_wav_decodes_back_to_the_same_samples():
    decoded = decode(corpus.encode(corpus.cough_like(), 44100, "m4a"), **LIMITS)

    again = decode(to_wav(decoded.samples, decoded.sample_rate), **LIMITS)

    assert again.container == "wav"
    assert again.original_sample_rate == 16000
    np.testing.assert_allclose(again.samples, decoded.samples, atol=1 / 16000)


def test_undecodable_text_in_the_tags_does_not_fail_the_upload():
    flac = corpus.encode(corpus.tone(), 16000, "flac")
    vendor = flac.find(b"Lavf")  # the encoder's name in the Vorbis comment block
    broken_tag = flac[: vendor + 2] + b"\xc6" + flac[vendor + 3 :]

    assert decode(broken_tag, **LIMITS).duration_s == pytest.approx(1.5, abs=0.001)


def test_mp3_whose_sample_rate_changes_part_way_decodes_whole():
    first = corpus.encode(corpus.tone(440.0, seconds=1.0, rate=44100), 44100, "mp3_without_id3")
    second = corpus.encode(
        corpus.tone(880.0, seconds=1.0, rate=22050, channels=2), 22050, "mp3_without_id3"
    )

    decoded = decode(first + second, **LIMITS)

    assert decoded.duration_s == pytest.approx(2.0, abs=0.15)  # encoder delay at the joint
    half = decoded.samples.size // 2
    for part, freq in ((decoded.samples[:half], 440.0), (decoded.samples[half:], 880.0)):
        spectrum = np.abs(np.fft.rfft(part))
        assert spectrum.argmax() * 16000 / part.size == pytest.approx(freq, abs=10.0)


def _as_extensible(wav: bytes) -> bytes:
    """The same 16-bit PCM behind a WAVE_FORMAT_EXTENSIBLE header, which only FFmpeg decodes."""
    channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HIIHH", wav, 22)
    pcm_guid = bytes.fromhex("0100000000001000800000aa00389b71")
    fmt = struct.pack(
        "<HHIIHHHHI16s", 0xFFFE, channels, rate, byte_rate, block_align, bits,
        22, bits, 0, pcm_guid,
    )  # fmt: skip
    rest = wav[36:]  # the data chunk and whatever follows it
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + rest
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("channels", [1, 2])
def test_pcm_wav_at_the_analysis_rate_reads_the_same_samples_as_ffmpeg(channels):
    rng = np.random.default_rng(channels)
    signal = np.clip(rng.normal(0, 0.3, size=(channels, 16000)), -1, 1)
    data = corpus.pcm_wav(signal, 16000, trailing_chunks=b"LIST\x04\x00\x00\x00abcd")

    fast = decode(data, **LIMITS)
    ffmpeg = decode(_as_extensible(data), **LIMITS)

    assert fast.codec == "pcm_s16le" and fast.channels == channels
    assert ffmpeg.codec == "pcm_s16le" and ffmpeg.channels == channels
    assert fast.samples.dtype == np.float32 and fast.duration_s == ffmpeg.duration_s == 1.0
    np.testing.assert_allclose(fast.samples, ffmpeg.samples, atol=1e-6)
    with pytest.raises(RecordingTooShort):
        decode(corpus.pcm_wav(signal[:, :4000], 16000), **LIMITS)
