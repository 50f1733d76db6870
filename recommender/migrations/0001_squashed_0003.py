import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('recommender', '0001_initial'), ('recommender', '0002_index_builds_priorities_evaluations'), ('recommender', '0003_verbose_names')]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('diagnostics', '0009_verbose_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='IndexBuild',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('flat', 'Exact (flat inner product)'), ('ivf', 'Approximate (IVF, inner product)'), ('hnsw', 'Approximate (HNSW, inner product)')], max_length=8, verbose_name='kind')),
                ('count', models.PositiveIntegerField(verbose_name='count')),
                ('high_water', models.BigIntegerField(default=0, verbose_name='high water')),
                ('index_key', models.CharField(max_length=255, verbose_name='index key')),
                ('mapping_key', models.CharField(max_length=255, verbose_name='mapping key')),
                ('meta_key', models.CharField(max_length=255, verbose_name='meta key')),
                ('built_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='built at')),
                ('build_seconds', models.FloatField(default=0.0, verbose_name='build seconds')),
                ('reason', models.CharField(blank=True, max_length=32, verbose_name='reason')),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'index build',
                'verbose_name_plural': 'index builds',
                'ordering': ['-id'],
                'get_latest_by': 'id',
            },
        ),
        migrations.CreateModel(
            name='RecommenderEvaluation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('data', models.CharField(choices=[('reviewed', 'Reviewed diagnostics'), ('synthetic', 'SYNTHETIC cases')], max_length=16, verbose_name='data')),
                ('k', models.PositiveSmallIntegerField(verbose_name='k')),
                ('cases', models.PositiveIntegerField(verbose_name='cases')),
                ('queries', models.PositiveIntegerField(verbose_name='queries')),
                ('results', models.JSONField(default=dict, verbose_name='results')),
                ('parameters', models.JSONField(blank=True, default=dict, verbose_name='parameters')),
                ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'recommender evaluation',
                'verbose_name_plural': 'recommender evaluations',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ReviewPriority',
            fields=[
                ('diagnostic', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='review_priority', serialize=False, to='diagnostics.diagnostic', verbose_name='diagnostic')),
                ('uncertainty', models.FloatField(verbose_name='uncertainty')),
                ('disagreement', models.FloatField(blank=True, help_text='Share of similar reviewed cases whose label differs.', null=True, verbose_name='disagreement')),
                ('neighbours', models.PositiveSmallIntegerField(default=0, verbose_name='neighbours')),
                ('neighbour_labels', models.JSONField(blank=True, default=dict, verbose_name='neighbour labels')),
                ('base_score', models.FloatField(verbose_name='base score')),
                ('rank_key', models.FloatField(db_index=True, verbose_name='rank key')),
                ('computed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='computed at')),
                ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'review priority',
                'verbose_name_plural': 'review priorities',
            },
        ),
        migrations.CreateModel(
            name='CaseEmbedding',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('vector', models.BinaryField(help_text='L2-normalised float32 vector.', verbose_name='vector')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('diagnostic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='embeddings', to='diagnostics.diagnostic', verbose_name='diagnostic')),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'case embedding',
                'verbose_name_plural': 'case embeddings',
                'indexes': [models.Index(fields=['model_version', 'id'], name='embedding_version_id')],
                'constraints': [models.UniqueConstraint(fields=('diagnostic', 'model_version'), name='one_embedding_per_model_version')],
            },
        ),
        migrations.CreateModel(
            name='Interaction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('viewed', 'Viewed'), ('marked_similar', 'Marked similar'), ('dismissed', 'Dismissed as not similar')], max_length=16, verbose_name='kind')),
                ('at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='at')),
                ('diagnostic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='interactions', to='diagnostics.diagnostic', verbose_name='diagnostic')),
                ('source', models.ForeignKey(blank=True, help_text='The case the user was looking at when this one was viewed or marked.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='diagnostics.diagnostic', verbose_name='source')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='case_interactions', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'interaction',
                'verbose_name_plural': 'interactions',
                'ordering': ['-at'],
                'indexes': [models.Index(fields=['diagnostic', 'kind'], name='recommender_diagnos_78700b_idx'), models.Index(fields=['user', 'at'], name='recommender_user_id_7e961c_idx'), models.Index(fields=['source', 'kind'], name='interaction_source_kind')],
            },
        ),
    ]
