"""The portal's tables as its models have them, in one step, for a new database; and the audit
log's guard, which rejects UPDATE and DELETE of audit events in the database itself, so that not
even raw SQL from the application (or a queryset that bypasses the model's guard) can rewrite it.

PostgreSQL: a trigger function; TRUNCATE stays possible for the database owner, which test runs
and ``manage.py flush`` use to reset tables. SQLite (the embedded default): a trigger per
statement kind; ``portal.core.db.sqlite3`` lets ``flush`` (the owner's reset there) lift and
restore them. Anyone who can write the SQLite file can drop a trigger: the guard protects the log
from the application, not from the machine's administrator.

This replaces 0001 to 0010, which stay for databases migrated before it: Django applies it to a
new database (recording the ten as applied) and the ten where any of them has been applied. Their
data migrations fill columns of rows that exist; a new database has none, so they are left out
here. The trigger statements live here, and 0002 and 0010 take them from this module, so that
the ten can be deleted once every database has them all.
"""

import django.db.models.deletion
import django.utils.timezone
import portal.core.models
from django.conf import settings
from django.db import migrations, models

POSTGRESQL_CREATE = [
    """
CREATE OR REPLACE FUNCTION portal_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_auditevent_append_only();
"""
]

POSTGRESQL_DROP = [
    """
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_auditevent_append_only();
"""
]

# SQLite runs one statement per execute.
SQLITE_CREATE = [
    f"""
CREATE TRIGGER portal_auditevent_no_{operation.lower()}
    BEFORE {operation} ON portal_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only ({operation} rejected)');
END;
"""
    for operation in ("UPDATE", "DELETE")
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS portal_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS portal_auditevent_no_delete;",
]


def _execute(schema_editor, statements):
    vendor = schema_editor.connection.vendor
    for statement in statements.get(vendor, []):
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor):
    _execute(schema_editor, {"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE})


def drop_triggers(apps, schema_editor):
    _execute(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP})


class Migration(migrations.Migration):

    replaces = [('portal', '0001_initial'), ('portal', '0002_audit_events_append_only'), ('portal', '0003_patient_search_columns'), ('portal', '0004_authentication'), ('portal', '0005_patient_search_terms'), ('portal', '0006_verbose_names'), ('portal', '0007_patient_identifier'), ('portal', '0008_search_terms_by_site'), ('portal', '0009_search_terms_site_required'), ('portal', '0010_audit_triggers_on_earlier_sqlite')]

    initial = True

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Site',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(help_text='Short code used in exports.', max_length=32, unique=True, verbose_name='code')),
                ('name', models.CharField(max_length=200, verbose_name='name')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'site',
                'verbose_name_plural': 'sites',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='TokenGeneration',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='token_generation', serialize=False, to=settings.AUTH_USER_MODEL, verbose_name='user')),
                ('value', models.PositiveIntegerField(default=0, verbose_name='value')),
            ],
            options={
                'verbose_name': 'token generation',
                'verbose_name_plural': 'token generations',
            },
        ),
        migrations.CreateModel(
            name='EnrolmentLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('secret_hash', models.CharField(max_length=64, unique=True, verbose_name='secret hash')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('expires_at', models.DateTimeField(verbose_name='expires at')),
                ('used_at', models.DateTimeField(blank=True, null=True, verbose_name='used at')),
                ('issued_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='issued by')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrolment_links', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'enrolment link',
                'verbose_name_plural': 'enrolment links',
            },
        ),
        migrations.CreateModel(
            name='Patient',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('external_id', models.CharField(help_text="The hospital's record number for the patient.", max_length=64, verbose_name='external id')),
                ('given_name', models.CharField(max_length=150, verbose_name='given name')),
                ('family_name', models.CharField(max_length=150, verbose_name='family name')),
                ('birth_date', models.DateField(verbose_name='birth date')),
                ('sex', models.CharField(choices=[('female', 'Female'), ('male', 'Male'), ('other', 'Other'), ('unknown', 'Unknown')], default='unknown', max_length=8, verbose_name='sex')),
                ('identifier_system', models.CharField(blank=True, help_text="The hospital record's identifier system (a URI), for a linked patient.", max_length=255, verbose_name='identifier system')),
                ('identifier_value', models.CharField(blank=True, help_text="The patient's identifier in that system.", max_length=64, verbose_name='identifier value')),
                ('research_consent', models.BooleanField(default=False, verbose_name='research consent')),
                ('research_consent_at', models.DateTimeField(blank=True, null=True, verbose_name='research consent at')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('search_name', models.CharField(blank=True, editable=False, max_length=310, verbose_name='search name')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='patients', to='portal.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'patient',
                'verbose_name_plural': 'patients',
                'ordering': ['family_name', 'given_name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ResearchPseudonym',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(default=portal.core.models.new_pseudonym, editable=False, max_length=32, unique=True, verbose_name='value')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('patient', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='pseudonym', to='portal.patient', verbose_name='patient')),
            ],
            options={
                'verbose_name': 'research pseudonym',
                'verbose_name_plural': 'research pseudonyms',
            },
        ),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('clinician', 'Clinician'), ('site_admin', 'Site administrator'), ('researcher', 'Researcher')], max_length=16, verbose_name='role')),
                ('data_use_agreement_until', models.DateField(blank=True, help_text='Researchers only: the limited data set may be exported until this date.', null=True, verbose_name='data use agreement until')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created at')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='portal.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'membership',
                'verbose_name_plural': 'memberships',
            },
        ),
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='at')),
                ('action', models.CharField(max_length=64, verbose_name='action')),
                ('object_type', models.CharField(blank=True, max_length=64, verbose_name='object type')),
                ('object_id', models.CharField(blank=True, max_length=64, verbose_name='object id')),
                ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='ip')),
                ('request_id', models.CharField(blank=True, max_length=64, verbose_name='request id')),
                ('detail', models.JSONField(blank=True, default=dict, verbose_name='detail')),
                ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='actor')),
                ('patient', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='portal.patient', verbose_name='patient')),
                ('site', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='portal.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'audit event',
                'verbose_name_plural': 'audit events',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='PatientSearchTerm',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('term', models.CharField(max_length=310, verbose_name='term')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='search_terms_set', to='portal.patient', verbose_name='patient')),
                ('site', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'patient search term',
                'verbose_name_plural': 'patient search terms',
                'indexes': [models.Index(fields=['term'], name='patient_search_term_like', opclasses=['varchar_pattern_ops']), models.Index(fields=['site', 'term'], name='patient_search_site_term', opclasses=['int8_ops', 'varchar_pattern_ops'])],
                'constraints': [models.UniqueConstraint(fields=('patient', 'term'), name='unique_patient_search_term')],
            },
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['site', 'family_name', 'given_name'], name='portal_pati_site_id_f22be6_idx'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['search_name', 'id'], name='patient_search_name_id'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.UniqueConstraint(fields=('site', 'external_id'), name='unique_patient_external_id_per_site'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.CheckConstraint(condition=models.Q(('research_consent', False), ('research_consent_at__isnull', False), _connector='OR'), name='research_consent_has_a_date'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('identifier_system', ''), ('identifier_value', '')), models.Q(models.Q(('identifier_system', ''), _negated=True), models.Q(('identifier_value', ''), _negated=True)), _connector='OR'), name='patient_identifier_system_and_value_together'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.UniqueConstraint(condition=models.Q(('identifier_value', ''), _negated=True), fields=('site', 'identifier_system', 'identifier_value'), name='unique_patient_identifier_per_site'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(fields=('user', 'site', 'role'), name='unique_membership_role'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('data_use_agreement_until__isnull', True), ('role', 'researcher'), _connector='OR'), name='data_use_agreement_only_for_researchers'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['patient', 'at'], name='portal_audi_patient_a8b1c0_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor', 'at'], name='portal_audi_actor_i_276eb3_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['action', 'at'], name='portal_audi_action_d703ff_idx'),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
