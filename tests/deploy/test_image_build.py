"""deploy/Containerfile, checked as a file (containers cannot be built here): every file it copies
exists in the build context, every command it runs is documented in the README, its final stage
runs as a user that is not root, has no compilers and collects the static files, its health check
asks /healthz, and TensorFlow is chosen by a build argument at the pinned version."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY
from tests.deploy.containerfile import command_words, parse, shell_commands, without_options
from tests.processes import ROOT, asgi_server, free_port

CONTAINERFILE = DEPLOY / "Containerfile"
COMPILERS = {"build-essential", "gcc", "g++", "clang", "make", "cc"}
# What the final stage may install from Debian: xmlsec1 checks SAML signatures at run time.
RUNTIME_PACKAGES = {"xmlsec1"}


@pytest.fixture(scope="module")
def stages():
    return parse(CONTAINERFILE)


def readme_code() -> list[str]:
    return re.findall(r"`([^`\n]+)`", (ROOT / "README.md").read_text())


def command_head(words: list[str]) -> str:
    """What the README must name of a command: the program and its subcommand or script."""
    program = Path(words[0]).name
    rest = words[1:]
    if program == "python" and rest[:1] == ["-m"]:
        return " ".join(["python", *rest[:2]])
    if program == "python" and rest[:1] == ["manage.py"]:
        return " ".join(["python", *rest[:2]])
    if rest and not rest[0].startswith("-") and program in {"apt-get", "uvicorn", "python"}:
        return f"{program} {rest[0]}"
    return program


def ignored_by_context(source: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    first = source.strip("/").split("/")[0]
    return any(pattern.strip("/") == first for pattern in patterns)


def test_every_file_the_image_copies_exists_in_the_build_context(stages):
    sources = []
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy.arguments:
                continue
            sources += without_options(copy.arguments).split()[:-1]

    assert sources, "the Containerfile copies nothing"
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored_by_context(source), f"{source} is left out by .dockerignore"


def test_every_command_the_image_runs_is_documented_in_the_readme(stages):
    documented = readme_code()
    heads = set()
    for stage in stages:
        for run in stage.all("RUN"):
            heads |= {command_head(words) for words in shell_commands(run.arguments)}
    final = stages[-1]
    started = [
        " ".join(command_words(i.arguments)) for i in final.all("CMD") + final.all("ENTRYPOINT")
    ]
    healthcheck = without_options(final.all("HEALTHCHECK")[0].arguments).removeprefix("CMD ")
    started.append(" ".join(command_words(healthcheck)))

    assert [head for head in sorted(heads) if not any(head in code for code in documented)] == []
    assert [command for command in started if command not in documented] == []


def test_the_final_stage_runs_as_a_user_that_is_not_root(stages):
    users = stages[-1].all("USER")

    assert users, "no USER: the processes would run as root"
    user = users[-1].arguments.split(":")[0]
    assert user not in {"root", "0"}


def runtime_packages(stage) -> set[str]:
    """The packages a stage's ``apt-get install`` commands name (options left out)."""
    packages = set()
    for run in stage.all("RUN"):
        for words in shell_commands(run.arguments):
            if words[:2] == ["apt-get", "install"]:
                packages |= {word for word in words[2:] if not word.startswith("-")}
    return packages


def test_the_final_stage_installs_xmlsec1_and_keeps_no_package_lists(stages):
    final = stages[-1]
    (install,) = [run for run in final.all("RUN") if "apt-get install" in run.arguments]

    assert "--no-install-recommends" in install.arguments
    assert "rm -rf /var/lib/apt/lists/*" in install.arguments


def test_compilers_are_installed_only_in_the_build_stage(stages):
    *build_stages, final = stages

    def installed(stage):
        return {word for run in stage.all("RUN") for word in run.arguments.split()}

    assert installed(final) & COMPILERS == set()
    assert runtime_packages(final) == RUNTIME_PACKAGES
    assert [copy.arguments for copy in final.all("COPY") if "--from=" in copy.arguments] == [
        "--from=build /opt/venv /opt/venv"
    ], "only the virtual environment comes from the build stage"
    assert any(installed(stage) & COMPILERS for stage in build_stages)


def test_static_files_are_collected_at_build_time_under_production_settings(stages):
    (collect,) = [r for r in stages[-1].all("RUN") if "manage.py collectstatic" in r.arguments]

    assert "DJANGO_ENV=production" in collect.arguments
    instructions = stages[-1].instructions
    assert instructions.index(collect) < instructions.index(stages[-1].all("USER")[-1])


def test_tensorflow_is_a_build_argument_that_defaults_to_the_pinned_version(stages):
    (pin,) = re.findall(r"^tensorflow==\S+$", (ROOT / "requirements.txt").read_text(), re.M)
    build = stages[0]
    (argument,) = [a.arguments for a in build.all("ARG") if a.arguments.startswith("TENSORFLOW=")]

    assert argument == f"TENSORFLOW={pin}"
    assert any('"${TENSORFLOW}"' in run.arguments and "pip install" in run.arguments
               for run in build.all("RUN"))  # fmt: skip


@pytest.mark.slow
def test_the_health_check_passes_while_web_answers_healthz_and_fails_without_it(
    process_env, tmp_path
):
    server = asgi_server(process_env, tmp_path)
    port = server.url.rsplit(":", 1)[1]
    check = [sys.executable, str(DEPLOY / "healthcheck.py")]
    try:
        alive = subprocess.run(check, env={"PORT": port}, capture_output=True, text=True)
    finally:
        server.stop()
    gone = subprocess.run(check, env={"PORT": str(free_port())}, capture_output=True, text=True)

    assert alive.returncode == 0, alive.stderr
    assert gone.returncode == 1 and "unhealthy" in gone.stderr
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text()
