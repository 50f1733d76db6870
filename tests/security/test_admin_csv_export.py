"""Finding 6: the admin's CSV export neutralises formula prefixes (OWASP's rule: a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``), and its
audit event names the exported rows."""

import csv
import io

import pytest

from portal.core.models import AuditEvent
from tests.factories import PatientFactory, UserFactory, verified_login

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def admin_client(client):
    verified_login(client, UserFactory(username="exporter", is_staff=True, is_superuser=True))
    return client


def export(client, patients):
    response = client.post(
        "/admin/portal/patient/",
        {"action": "export_as_csv", "_selected_action": [p.pk for p in patients]},
    )
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_cells_starting_with_a_formula_prefix_are_written_as_text(admin_client, site):
    patients = [PatientFactory(site=site, family_name=value) for value in FORMULAS]

    rows = export(admin_client, patients)

    family = rows[0].index("family_name")
    assert sorted(row[family] for row in rows[1:]) == sorted(f"'{value}" for value in FORMULAS)


def test_ordinary_cells_are_left_as_they_are(admin_client, site):
    rows = export(admin_client, [PatientFactory(site=site, family_name="O'Neill-Smith")])

    assert rows[1][rows[0].index("family_name")] == "O'Neill-Smith"


def test_the_export_event_names_the_exported_rows(admin_client, site):
    patients = [PatientFactory(site=site) for _ in range(3)]

    export(admin_client, patients)

    event = AuditEvent.objects.get(action="admin.exported")
    assert sorted(event.detail["ids"]) == sorted(str(p.pk) for p in patients)
    assert event.detail["rows"] == 3
