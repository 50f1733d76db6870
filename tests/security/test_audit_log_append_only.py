"""Finding 5: the audit log is append-only in the database itself, on PostgreSQL and on SQLite
(the embedded default), whatever path round the ORM's guard a caller takes; and the admin's reads
of patient records are audited."""

import contextlib
import json
import sqlite3
import subprocess
import sys

import pytest

from portal.core.models import AuditEvent
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import RecordingFactory
from tests.processes import ROOT
from tests.security import audit_tampering

EVERY_ATTEMPT_REFUSED = dict.fromkeys(audit_tampering.attempts(AuditEvent(pk=0)), "unchanged")


@pytest.mark.django_db(transaction=True)
def test_the_suites_database_refuses_every_way_of_changing_an_event():
    assert audit_tampering.run() == EVERY_ATTEMPT_REFUSED


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_an_sqlite_database_refuses_every_way_of_changing_an_event_and_can_still_be_flushed(
    tmp_path,
):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "REDIS_URL": "redis://127.0.0.1:1/0"}  # fmt: skip
    script = (ROOT / "tests/security/audit_tampering.py").read_text()

    migrated = manage("migrate", "--noinput", env=env)
    tampering = manage("shell", "-c", script, env=env)
    flushed = manage("flush", "--noinput", env=env)
    again = manage("shell", "-c", script, env=env)

    assert migrated.returncode == 0, migrated.stderr
    line = next(x for x in tampering.stdout.splitlines() if x.startswith("tampering:"))
    assert json.loads(line.removeprefix("tampering:")) == EVERY_ATTEMPT_REFUSED
    # The owner's reset (as TRUNCATE on PostgreSQL) still works, and the guard survives it.
    assert flushed.returncode == 0, flushed.stderr
    assert "tampering:" in again.stdout and '"changed' not in again.stdout, again.stderr


def test_an_sqlite_database_made_before_its_triggers_existed_gains_them(tmp_path):
    """Migration 0002 was given its SQLite triggers after it had shipped: an embedded database
    migrated before then has 0002 recorded without them, until the next migrate."""
    database = tmp_path / "db.sqlite3"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": "redis://127.0.0.1:1/0"}  # fmt: skip
    script = (ROOT / "tests/security/audit_tampering.py").read_text()
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with contextlib.closing(sqlite3.connect(database)) as earlier, earlier:
        earlier.execute("DROP TRIGGER portal_auditevent_no_update")
        earlier.execute("DROP TRIGGER portal_auditevent_no_delete")
        earlier.execute(
            "DELETE FROM django_migrations"
            " WHERE app = 'portal' AND name = '0010_audit_triggers_on_earlier_sqlite'"
        )
    unguarded = manage("shell", "-c", script, env=env)
    assert '"changed' in unguarded.stdout, unguarded.stderr  # what such a database allowed

    migrated = manage("migrate", "--noinput", env=env)
    tampering = manage("shell", "-c", script, env=env)

    assert migrated.returncode == 0, migrated.stderr
    line = next(x for x in tampering.stdout.splitlines() if x.startswith("tampering:"))
    assert json.loads(line.removeprefix("tampering:")) == EVERY_ATTEMPT_REFUSED


@pytest.fixture
def staff_client(client, db):
    verified_login(client, UserFactory(username="reader", is_staff=True, is_superuser=True))
    return client


def test_opening_a_patient_in_the_admin_is_audited(staff_client, site):
    patient = PatientFactory(site=site)

    response = staff_client.get(f"/admin/portal/patient/{patient.pk}/change/")

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="admin.viewed")
    assert (event.patient_id, event.object_type, event.actor.username) == (
        patient.pk, "portal.patient", "reader",
    )  # fmt: skip


@pytest.mark.parametrize("model", ["portal/patient", "media_assets/recording"])
def test_a_patient_bearing_admin_list_is_audited_with_the_ids_it_showed(staff_client, site, model):
    recordings = [RecordingFactory(patient=PatientFactory(site=site)) for _ in range(2)]
    shown = (
        [str(r.patient_id) for r in recordings]
        if model == "portal/patient"
        else [str(r.pk) for r in recordings]
    )

    response = staff_client.get(f"/admin/{model}/")

    assert response.status_code == 200
    event = AuditEvent.objects.get(action="admin.listed")
    assert sorted(event.detail["ids"]) == sorted(shown)
    assert sorted(event.detail["patients"]) == sorted(str(r.patient_id) for r in recordings)
