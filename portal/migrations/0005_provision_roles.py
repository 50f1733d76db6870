"""The role groups and their permissions, so that a fresh database has them without a command.

``portal.roles.provision_after_migrate`` also runs after every ``migrate`` (so a change to
``portal.roles`` reaches existing databases), and ``manage.py setup_roles`` runs it by hand.
"""

from django.db import migrations

from portal.roles import provision_after_migrate


def provision(apps, schema_editor):
    provision_after_migrate(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("portal", "0004_recording_pseudonym"),
        ("media_assets", "0002_quarantined_status"),
        ("diagnostics", "0002_embedding_and_task_id"),
    ]

    operations = [migrations.RunPython(provision, migrations.RunPython.noop)]
