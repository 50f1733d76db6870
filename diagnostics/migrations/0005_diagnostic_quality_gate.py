"""The quality gate's reason beside the model's answer (diagnostics.quality_gate)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("diagnostics", "0004_unanalysed_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="diagnostic",
            name="quality_gate",
            field=models.CharField(
                blank=True,
                choices=[
                    ("mostly_silent", "the recording is mostly silence"),
                    ("clipped", "the sound is distorted (clipped)"),
                    ("no_cough", "no cough was detected"),
                ],
                help_text="Set when the recording failed the quality gate: the result shows inconclusive.",
                max_length=16,
            ),
        ),
    ]
