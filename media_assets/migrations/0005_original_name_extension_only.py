"""Keep only the extension of the names recordings were uploaded with: a file name often held
the patient's name and birth date. The rule is ``media_assets.services.clean_original_name`` as it
was written here (a migration keeps its own copy)."""

from pathlib import PurePosixPath, PureWindowsPath

from django.db import migrations, models

AUDIO_EXTENSIONS = {"wav", "flac", "ogg", "opus", "webm", "mp3", "m4a", "mp4", "aac"}


def extension_only(name):
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    suffix = PurePosixPath(base).suffix.lower()
    return suffix if suffix.lstrip(".") in AUDIO_EXTENSIONS else ""


def keep_only_extensions(apps, schema_editor):
    Recording = apps.get_model("media_assets", "Recording")
    # One statement per distinct name, not per row: most rows share a handful of names.
    names = Recording.objects.exclude(original_name="").values_list("original_name", flat=True)
    for name in names.distinct().iterator():
        kept = extension_only(name)
        if kept != name:
            Recording.objects.filter(original_name=name).update(original_name=kept)


class Migration(migrations.Migration):

    dependencies = [
        ("media_assets", "0004_recording_pseudonym"),
    ]

    operations = [
        migrations.AlterField(
            model_name="recording",
            name="original_name",
            field=models.CharField(
                blank=True,
                help_text="The uploaded file's extension only (e.g. .wav): a file name is never stored.",
                max_length=255,
            ),
        ),
        migrations.RunPython(keep_only_extensions, migrations.RunPython.noop, elidable=True),
    ]
