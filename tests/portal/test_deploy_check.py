"""``manage.py check --deploy`` under production settings reports nothing, and migrations match."""

import os
import secrets
import subprocess
import sys

from tests.processes import ROOT


def run_manage(*args, env_overrides=None, tmp_path=None):
    env = dict(os.environ)
    # The browser tests allow sync ORM calls next to Playwright's loop in their own process only.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(env_overrides or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_deploy_check_with_production_settings_reports_no_issues(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={
            "DJANGO_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "ALLOWED_HOSTS": "portal.example.org",
            "VAR_DIR": str(tmp_path),
        },
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_models_and_migrations_agree(tmp_path):
    result = run_manage(
        "makemigrations", "--check", "--dry-run", env_overrides={"VAR_DIR": str(tmp_path)}
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
