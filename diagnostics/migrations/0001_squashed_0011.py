import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('diagnostics', '0001_initial'), ('diagnostics', '0002_embedding_and_task_id'), ('diagnostics', '0003_waiting_for_review_index'), ('diagnostics', '0004_unanalysed_status'), ('diagnostics', '0005_diagnostic_quality_gate'), ('diagnostics', '0006_urgent_and_queue_order'), ('diagnostics', '0007_model_watch'), ('diagnostics', '0008_training_run'), ('diagnostics', '0009_verbose_names'), ('diagnostics', '0010_home_page_indexes'), ('diagnostics', '0011_review_imported')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('media_assets', '0006_verbose_names'),
        ('portal', '0009_search_terms_site_required'),
    ]

    operations = [
        migrations.CreateModel(
            name='ModelVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('version', models.CharField(max_length=50, verbose_name='version')),
                ('artifact', models.CharField(help_text='Storage key of the model artifact.', max_length=255, verbose_name='artifact')),
                ('sha256', models.CharField(max_length=64, verbose_name='sha256')),
                ('labels', models.JSONField(default=list, verbose_name='labels')),
                ('sample_rate', models.PositiveIntegerField(default=16000, verbose_name='sample rate')),
                ('clip_seconds', models.FloatField(default=5.0, verbose_name='clip seconds')),
                ('metrics', models.JSONField(blank=True, default=dict, verbose_name='metrics')),
                ('trained_on', models.CharField(default='synthetic', help_text="'synthetic' for models trained on generated sounds: not for clinical use.", max_length=32, verbose_name='trained on')),
                ('status', models.CharField(choices=[('candidate', 'Candidate'), ('canary', 'Canary'), ('shadow', 'Shadow'), ('production', 'Production'), ('archived', 'Archived')], default='candidate', max_length=12, verbose_name='status')),
                ('canary_fraction', models.FloatField(default=0.0, help_text='The share of new diagnostics a canary or shadow analyses.', verbose_name='canary fraction')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('promoted_at', models.DateTimeField(blank=True, null=True, verbose_name='promoted at')),
                ('features', models.JSONField(blank=True, default=dict, help_text="The log-mel front end's settings (from the artifact).", verbose_name='features')),
                ('clinically_validated', models.BooleanField(default=False, help_text='Set by an administrator once the model has been validated for clinical use. Until then every result says: research use only, not a medical device.', verbose_name='clinically validated')),
                ('input_reference', models.JSONField(blank=True, default=dict, help_text="What its training inputs looked like (duration, loudness, the embedding's mean): the reference input drift is measured against.", verbose_name='input reference')),
                ('canary_started_at', models.DateTimeField(blank=True, help_text='When its current canary or shadow period began.', null=True, verbose_name='canary started at')),
                ('rolled_back_at', models.DateTimeField(blank=True, null=True, verbose_name='rolled back at')),
                ('rollback_reasons', models.JSONField(blank=True, default=list, verbose_name='rollback reasons')),
                ('evaluation', models.JSONField(blank=True, default=dict, help_text='Held-out evaluation: AUC interval, operating points, calibration, subgroups.', verbose_name='evaluation')),
                ('comparison', models.JSONField(blank=True, default=dict, help_text='The promotion gate: this version and production on the same evaluation set.', verbose_name='comparison')),
            ],
            options={
                'verbose_name': 'model version',
                'verbose_name_plural': 'model versions',
                'ordering': ['-created_at', '-id'],
                'constraints': [models.UniqueConstraint(fields=('name', 'version'), name='unique_model_name_version'), models.UniqueConstraint(condition=models.Q(('status', 'production')), fields=('status',), name='one_production_model_version'), models.CheckConstraint(condition=models.Q(('canary_fraction__gte', 0), ('canary_fraction__lte', 1)), name='canary_fraction_is_a_fraction')],
            },
        ),
        migrations.CreateModel(
            name='Diagnostic',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('unanalysed', 'Not analysed')], default='queued', max_length=10, verbose_name='status')),
                ('label', models.CharField(blank=True, choices=[('healthy', 'likely healthy'), ('anomaly', 'possible respiratory anomaly'), ('inconclusive', 'inconclusive: please re-record or review')], max_length=16, verbose_name='label')),
                ('confidence', models.FloatField(blank=True, null=True, verbose_name='confidence')),
                ('scores', models.JSONField(blank=True, default=dict, verbose_name='scores')),
                ('quality_gate', models.CharField(blank=True, choices=[('mostly_silent', 'the recording is mostly silence'), ('clipped', 'the sound is distorted (clipped)'), ('no_cough', 'no cough was detected')], help_text='Set when the recording failed the quality gate: the result shows inconclusive.', max_length=16, verbose_name='quality gate')),
                ('symptoms', models.JSONField(blank=True, default=dict, verbose_name='symptoms')),
                ('timings', models.JSONField(blank=True, default=dict, verbose_name='timings')),
                ('embedding', models.BinaryField(blank=True, help_text="The model's L2-normalised embedding (float32).", null=True, verbose_name='embedding')),
                ('task_id', models.CharField(blank=True, help_text='The task that claimed this diagnostic last.', max_length=64, verbose_name='task id')),
                ('urgent', models.BooleanField(default=False, help_text='Set by the clinician: analysed ahead of routine recordings.', verbose_name='urgent')),
                ('queued_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='queued at')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started at')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished at')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('review_label', models.CharField(blank=True, choices=[('healthy', 'likely healthy'), ('anomaly', 'possible respiratory anomaly'), ('inconclusive', 'inconclusive: please re-record or review')], max_length=16, verbose_name='review label')),
                ('review_note', models.TextField(blank=True, verbose_name='review note')),
                ('reviewed_at', models.DateTimeField(blank=True, null=True, verbose_name='reviewed at')),
                ('review_imported', models.BooleanField(db_default=False, default=False, verbose_name='label imported from a data set')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='diagnostics', to='portal.patient', verbose_name='patient')),
                ('recording', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='diagnostics', to='media_assets.recording', verbose_name='recording')),
                ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='reviewed by')),
                ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='diagnostics', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'diagnostic',
                'verbose_name_plural': 'diagnostics',
                'ordering': ['-queued_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='DailyInputStats',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('count', models.PositiveIntegerField(verbose_name='count')),
                ('duration_sum', models.FloatField(verbose_name='duration sum')),
                ('duration_sq_sum', models.FloatField(verbose_name='duration sum of squares')),
                ('loudness_count', models.PositiveIntegerField(verbose_name='loudness count')),
                ('loudness_sum', models.FloatField(verbose_name='loudness sum')),
                ('loudness_sq_sum', models.FloatField(verbose_name='loudness sum of squares')),
                ('embedding_count', models.PositiveIntegerField(verbose_name='embedding count')),
                ('embedding_sum', models.JSONField(default=list, verbose_name='embedding sum')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.site', verbose_name='site')),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
        ),
        migrations.CreateModel(
            name='DailyAgreement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('model_label', models.CharField(choices=[('healthy', 'likely healthy'), ('anomaly', 'possible respiratory anomaly'), ('inconclusive', 'inconclusive: please re-record or review')], max_length=16, verbose_name='model label')),
                ('review_label', models.CharField(choices=[('healthy', 'likely healthy'), ('anomaly', 'possible respiratory anomaly'), ('inconclusive', 'inconclusive: please re-record or review')], max_length=16, verbose_name='review label')),
                ('count', models.PositiveIntegerField(verbose_name='count')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.site', verbose_name='site')),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'agreement with reviews',
                'verbose_name_plural': 'agreement with reviews',
            },
        ),
        migrations.CreateModel(
            name='ShadowResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('unanalysed', 'Not analysed')], max_length=10, verbose_name='status')),
                ('label', models.CharField(blank=True, choices=[('healthy', 'likely healthy'), ('anomaly', 'possible respiratory anomaly'), ('inconclusive', 'inconclusive: please re-record or review')], max_length=16, verbose_name='label')),
                ('confidence', models.FloatField(blank=True, null=True, verbose_name='confidence')),
                ('quality_gate', models.CharField(blank=True, choices=[('mostly_silent', 'the recording is mostly silence'), ('clipped', 'the sound is distorted (clipped)'), ('no_cough', 'no cough was detected')], max_length=16, verbose_name='quality gate')),
                ('error', models.CharField(blank=True, max_length=64, verbose_name='error')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('diagnostic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.diagnostic', verbose_name='diagnostic')),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
        ),
        migrations.CreateModel(
            name='TrainingRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=10, verbose_name='status')),
                ('parameters', models.JSONField(blank=True, default=dict, verbose_name='parameters')),
                ('snapshot', models.JSONField(blank=True, default=list, verbose_name='snapshot')),
                ('n_examples', models.PositiveIntegerField(default=0, verbose_name='examples')),
                ('epoch', models.PositiveSmallIntegerField(default=0, verbose_name='epoch')),
                ('history', models.JSONField(blank=True, default=list, help_text='Metrics after each epoch.', verbose_name='history')),
                ('metrics', models.JSONField(blank=True, default=dict, verbose_name='metrics')),
                ('evaluation', models.JSONField(blank=True, default=dict, verbose_name='evaluation')),
                ('log', models.TextField(blank=True, verbose_name='log')),
                ('cancel_requested', models.BooleanField(default=False, verbose_name='cancel requested')),
                ('task_id', models.CharField(blank=True, max_length=64, verbose_name='task id')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started at')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished at')),
                ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='training_runs', to='diagnostics.modelversion', verbose_name='model version')),
                ('reproduces', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='reproductions', to='diagnostics.trainingrun', verbose_name='reproduces')),
                ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='started by')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(fields=['patient', 'queued_at'], name='diagnostics_patient_1a63ec_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(fields=['status', 'queued_at'], name='diagnostics_status_c9402a_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(condition=models.Q(('status', 'queued')), fields=['-urgent', 'queued_at', 'id'], name='diagnostic_queue_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(condition=models.Q(('review_label', ''), ('status', 'succeeded')), fields=['queued_at', 'id'], name='diagnostic_waiting_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(fields=['model_version', 'finished_at'], name='diagnostic_model_day_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(condition=models.Q(('status', 'succeeded')), fields=['-finished_at', '-id'], name='diagnostic_finished_idx'),
        ),
        migrations.AddIndex(
            model_name='diagnostic',
            index=models.Index(condition=models.Q(('review_label', ''), _negated=True), fields=['reviewed_at'], name='diagnostic_reviewed_idx'),
        ),
        migrations.AddConstraint(
            model_name='diagnostic',
            constraint=models.CheckConstraint(condition=models.Q(('confidence__isnull', True), models.Q(('confidence__gte', 0), ('confidence__lte', 1)), _connector='OR'), name='confidence_is_a_probability'),
        ),
        migrations.AddConstraint(
            model_name='diagnostic',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'succeeded'), _negated=True), models.Q(('label', ''), _negated=True), _connector='OR'), name='succeeded_diagnostic_has_a_label'),
        ),
        migrations.AddConstraint(
            model_name='diagnostic',
            constraint=models.CheckConstraint(condition=models.Q(('review_label', ''), ('reviewed_at__isnull', False), _connector='OR'), name='review_has_a_time'),
        ),
        migrations.AddConstraint(
            model_name='dailyinputstats',
            constraint=models.UniqueConstraint(fields=('day', 'model_version', 'site'), name='one_daily_input_row'),
        ),
        migrations.AddIndex(
            model_name='dailyagreement',
            index=models.Index(fields=['model_version', 'day'], name='diagnostics_model_v_0f9bbc_idx'),
        ),
        migrations.AddConstraint(
            model_name='dailyagreement',
            constraint=models.UniqueConstraint(fields=('day', 'model_version', 'site', 'model_label', 'review_label'), name='one_daily_agreement_cell'),
        ),
        migrations.AddIndex(
            model_name='shadowresult',
            index=models.Index(fields=['model_version', 'created_at'], name='diagnostics_model_v_467022_idx'),
        ),
        migrations.AddConstraint(
            model_name='shadowresult',
            constraint=models.UniqueConstraint(fields=('model_version', 'diagnostic'), name='one_shadow_result_per_version'),
        ),
    ]
