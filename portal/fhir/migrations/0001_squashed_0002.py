import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [('fhir', '0001_initial'), ('fhir', '0002_verbose_names')]

    initial = True

    dependencies = [
        ('diagnostics', '0009_verbose_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('trigger', models.CharField(choices=[('result', 'Result'), ('review', 'Review')], max_length=8, verbose_name='trigger')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('dead', 'Gave up (dead letter)'), ('skipped', 'Skipped: patient not linked to the record')], default='pending', max_length=10, verbose_name='status')),
                ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                ('last_error', models.CharField(blank=True, help_text='Why the last attempt failed (no patient data).', max_length=200, verbose_name='last error')),
                ('report_status', models.CharField(blank=True, help_text='The report status last sent: final or amended.', max_length=10, verbose_name='report status')),
                ('report_id', models.CharField(blank=True, help_text="The report's id on the hospital's FHIR server.", max_length=64, verbose_name='report id')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered at')),
                ('diagnostic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='fhir_deliveries', to='diagnostics.diagnostic', verbose_name='diagnostic')),
            ],
            options={
                'verbose_name': 'FHIR delivery',
                'verbose_name_plural': 'FHIR deliveries',
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['status', 'updated_at'], name='fhir_delive_status_29ca33_idx')],
            },
        ),
    ]
