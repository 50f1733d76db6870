"""What every process pays for when it starts: the web workers, the Celery workers and each
management command load the settings, the apps, the routes and the template engine. Libraries that
only some requests need are imported by those requests: pysaml2 (a second, its XML schemas) on
the first SAML request, fhir.resources (its pydantic models) on the first delivery to the
hospital's record, TensorFlow in the inference worker alone."""

import json
import os

from tests.processes import run_python

STARTING = """
import json, sys, django
from django.core.management import call_command
from django.http import Http404
from django.template import engines
from django.test import RequestFactory
from django.urls import resolve

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & {"saml2", "fhir", "tensorflow"})

django.setup()
call_command("check")  # resolves every route
engines["django"].engine  # the template engine, with every app's tag libraries
at_start = loaded()
try:
    resolve("/sso/saml/metadata/").func(RequestFactory().get("/sso/saml/metadata/"))
except Http404:  # SAML is not configured here
    pass
print(json.dumps([at_start, loaded()]))
"""


def test_a_process_start_leaves_saml_fhir_and_tensorflow_to_the_requests_that_need_them():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}

    at_start, after_a_saml_request = json.loads(run_python(STARTING, env=env).splitlines()[-1])

    assert at_start == []
    assert after_a_saml_request == ["saml2"]
