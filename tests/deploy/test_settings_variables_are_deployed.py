"""Every environment variable the settings (and the Celery app) read is either set by the
Kubernetes manifests (ConfigMap, the Secret's example, a container's env) or listed in
docs/deploy.md as optional, so no setting is forgotten on the way to production."""

import ast
import importlib.util
import re
from pathlib import Path

from tests.deploy.conftest import DEPLOY, load_documents, of_kind
from tests.deploy.kustomize import containers
from tests.processes import ROOT

ENV_READERS = {"str", "int", "float", "bool", "list", "db", "json", "url", "path", "dict"}
READING_MODULES = ["portal.settings", "portal.celery"]


def _reads_environment(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "env":  # env("NAME")
        return True
    if isinstance(func, ast.Attribute):
        owner = ast.unparse(func.value)
        return (
            (owner == "env" and func.attr in ENV_READERS)  # env.str("NAME", ...)
            or (owner == "os.environ" and func.attr in {"get", "setdefault"})
            or (owner == "os" and func.attr == "getenv")
        )
    return False


def variables_read(source: str) -> set[str]:
    """Names passed as a constant to an environment reader, or to a function of the module that
    passes its first parameter to one (``_require("SECRET_KEY")``); ``os.environ["NAME"]`` too."""
    tree = ast.parse(source)
    wrappers = set()
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)):
        if function.args.args:
            first = function.args.args[0].arg
            if any(
                isinstance(call, ast.Call)
                and _reads_environment(call)
                and call.args
                and ast.unparse(call.args[0]) == first
                for call in ast.walk(function)
            ):
                wrappers.add(function.name)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            is_wrapper = isinstance(node.func, ast.Name) and node.func.id in wrappers
            first = node.args[0]
            constant = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if constant and (_reads_environment(node) or is_wrapper):
                names.add(first.value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return names


def settings_variables() -> set[str]:
    names = set()
    for module in READING_MODULES:
        names |= variables_read(Path(importlib.util.find_spec(module).origin).read_text())
    return names - {"DJANGO_SETTINGS_MODULE"}  # the image and the manage.py entry points set it


def manifest_variables(production) -> set[str]:
    names = set()
    for config_map in of_kind(production, "ConfigMap"):
        names |= set(config_map["data"])
    (secret,) = load_documents(DEPLOY / "k8s" / "base" / "secret.example.yaml")
    names |= set(secret["stringData"])
    for container in containers(production.values()):
        names |= {item["name"] for item in container.get("env", [])}
    return names


def documented_optional_variables() -> set[str]:
    docs = (ROOT / "docs" / "deploy.md").read_text()
    section = re.search(r"^## Optional variables\n(.*?)(?=^## |\Z)", docs, re.M | re.S)
    assert section, 'docs/deploy.md has no "## Optional variables" section'
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section.group(1)))


def test_the_parser_finds_every_kind_of_environment_read():
    source = (
        "import os\nenv = object()\n"
        "def _require(name):\n    return env.str(name, default='')\n"
        "A = env.str('A', default='')\nB = env.bool('B', default=True)\nC = env('C')\n"
        "D = os.environ.get('D')\nE = os.environ['E']\nF = os.getenv('F')\n"
        "G = _require('G')\nH = env.list('H', cast=int, default=[])\n"
    )

    assert variables_read(source) == set("ABCDEFGH")


def test_the_settings_read_the_variables_this_check_expects():
    """A sanity floor: the parser still sees the settings' main variables."""
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "STORAGE_BACKEND",
            "INFERENCE_BATCH_SIZE", "CELERY_METRICS_PORT"} <= settings_variables()  # fmt: skip


def test_every_variable_the_settings_read_is_deployed_or_documented_as_optional(production):
    missing = (
        settings_variables() - manifest_variables(production) - documented_optional_variables()
    )

    assert missing == set(), "set these in deploy/k8s or list them in docs/deploy.md"


def test_no_variable_is_both_deployed_and_listed_as_optional(production):
    assert manifest_variables(production) & documented_optional_variables() == set()
