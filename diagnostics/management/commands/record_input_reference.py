"""``python manage.py record_input_reference NAME VERSION``: what a model's inputs should look like.

Input drift (``diagnostics.drift``) compares recent recordings with this reference: the duration
and loudness of the model's training inputs and the mean of its embeddings of them. By default the
reference is made from the stored recordings of reviewed diagnostics (the truth that training from
reviews learns from), up to ``--limit``; ``--synthetic N`` uses N sounds of the synthetic generator
(what the shipped baseline learned from; ``train_model --synthetic`` records this by itself).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from diagnostics import drift
from diagnostics.models import Diagnostic, ModelVersion
from media_assets.audio import AudioRejected
from media_assets.storage import analysis_audio
from portal.core.storage import STORAGE_ERRORS


class Command(BaseCommand):
    help = "Record the input reference (duration, loudness, embedding mean) of a model version."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("--synthetic", type=int, metavar="N", default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args, name, version, synthetic, seed, limit, **options):
        from diagnostics.model_cache import get_model  # TensorFlow: only for this command

        found = ModelVersion.objects.filter(name=name, version=version).first()
        if found is None:
            raise CommandError(f"No model version {name} {version} is registered.")
        clips = synthetic_clips(synthetic, seed) if synthetic else reviewed_clips(limit)
        if len(clips) < 2:
            raise CommandError("Fewer than two recordings to make a reference from.")
        reference = drift.reference_from_clips(
            get_model(found), clips, settings.ANALYSIS_SAMPLE_RATE
        )
        drift.set_reference(version=found, reference=reference)
        self.stdout.write(self.style.SUCCESS(
            f"Reference of {found} from {len(clips)} recordings: duration "
            f"{reference['duration']['mean']:.2f} s, loudness {reference['loudness']['mean']:.1f} dBFS."
        ))  # fmt: skip


def synthetic_clips(n: int, seed: int) -> list:
    from diagnostics.ml import synth

    return [sound.samples for sound in synth.generate_dataset(n, seed=seed)]


def reviewed_clips(limit: int) -> list:
    keys = (
        Diagnostic.objects.exclude(review_label="")
        .order_by("-reviewed_at")
        .values_list("recording__storage_key", flat=True)[:limit]
    )
    clips = []
    for key in keys:
        try:
            clips.append(analysis_audio(key).samples)
        except (AudioRejected, *STORAGE_ERRORS):
            continue  # gone from storage, or unreadable: the reference is made from the rest
    return clips
