"""Private file modes stop at stored files: the image's ``collectstatic`` (run by root under
production settings, as deploy/Containerfile runs it) still loads the settings and leaves public
assets that the image's unprivileged user can read."""

import os
import shlex
import subprocess
import sys

from tests.deploy.conftest import DEPLOY
from tests.deploy.containerfile import parse
from tests.processes import ROOT


def collectstatic_environment() -> dict[str, str]:
    (run,) = [r for r in parse(DEPLOY / "Containerfile")[-1].all("RUN")
              if "manage.py collectstatic" in r.arguments]  # fmt: skip
    words = shlex.split(run.arguments.replace("\\\n", " "))
    return dict(word.split("=", 1) for word in words[: words.index("python")])


def test_the_images_collectstatic_leaves_files_every_user_can_read(tmp_path):
    keep = {"PATH", "HOME", "LANG"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(collectstatic_environment(), VAR_DIR=str(tmp_path / "var"))

    result = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$0" manage.py collectstatic --noinput', sys.executable],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    collected = [p for p in (tmp_path / "var" / "staticfiles").rglob("*")]
    assert collected and all(p.stat().st_mode & 0o004 for p in collected)
