import django.db.models.deletion
import django.utils.timezone
import portal.core.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('media_assets', '0001_initial'), ('media_assets', '0002_quarantined_status'), ('media_assets', '0003_recording_spectrogram'), ('media_assets', '0004_recording_pseudonym'), ('media_assets', '0005_original_name_extension_only'), ('media_assets', '0006_verbose_names'), ('media_assets', '0007_home_page_indexes')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('portal', '0009_search_terms_site_required'),
    ]

    operations = [
        migrations.CreateModel(
            name='Recording',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('cough', 'Cough'), ('breath', 'Breathing'), ('speech', 'Speech')], max_length=8, verbose_name='kind')),
                ('status', models.CharField(choices=[('pending', 'Pending upload'), ('stored', 'Stored'), ('rejected', 'Rejected'), ('deleted', 'Deleted'), ('quarantined', 'Quarantined: stored object missing')], default='pending', max_length=12, verbose_name='status')),
                ('storage_key', models.CharField(max_length=255, unique=True, verbose_name='storage key')),
                ('original_name', models.CharField(blank=True, help_text="The uploaded file's extension only (e.g. .wav): a file name is never stored.", max_length=255, verbose_name='original name')),
                ('content_type', models.CharField(blank=True, max_length=100, verbose_name='content type')),
                ('size_bytes', models.BigIntegerField(blank=True, null=True, verbose_name='size bytes')),
                ('sha256', models.CharField(blank=True, max_length=64, verbose_name='sha256')),
                ('duration_s', models.FloatField(blank=True, null=True, verbose_name='duration s')),
                ('sample_rate', models.PositiveIntegerField(blank=True, null=True, verbose_name='sample rate')),
                ('channels', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='channels')),
                ('quality', models.JSONField(blank=True, default=dict, help_text='Clipping ratio, silence ratio, loudness (dBFS), cough detector score.', verbose_name='quality')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('stored_at', models.DateTimeField(blank=True, null=True, verbose_name='stored at')),
                ('spectrogram_key', models.CharField(blank=True, editable=False, help_text='The log-mel picture, rendered once after the upload (diagnostics.spectrogram).', max_length=255, verbose_name='spectrogram key')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='recordings', to='portal.patient', verbose_name='patient')),
                ('uploaded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='uploaded by')),
            ],
            options={
                'verbose_name': 'recording',
                'verbose_name_plural': 'recordings',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='RecordingPseudonym',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(default=portal.core.models.new_pseudonym, editable=False, max_length=32, unique=True, verbose_name='value')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('recording', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='research_pseudonym', to='media_assets.recording', verbose_name='recording')),
            ],
            options={
                'verbose_name': 'recording pseudonym',
                'verbose_name_plural': 'recording pseudonyms',
            },
        ),
        migrations.AddIndex(
            model_name='recording',
            index=models.Index(fields=['patient', 'created_at'], name='media_asset_patient_f6741e_idx'),
        ),
        migrations.AddIndex(
            model_name='recording',
            index=models.Index(condition=models.Q(('status', 'stored')), fields=['created_at'], name='recording_stored_idx'),
        ),
        migrations.AddConstraint(
            model_name='recording',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'stored')), fields=('patient', 'sha256'), name='unique_stored_recording_per_patient'),
        ),
        migrations.AddConstraint(
            model_name='recording',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'stored'), _negated=True), models.Q(('size_bytes__isnull', False), models.Q(('sha256', ''), _negated=True)), _connector='OR'), name='stored_recording_has_size_and_hash'),
        ),
    ]
