"""The alert rules load in Prometheus and every alert fires and stays quiet as its unit tests say
(promtool, Debian's ``prometheus`` package)."""

import subprocess

from tests.deploy.conftest import DEPLOY

RULES = DEPLOY / "prometheus" / "rules.yml"
UNIT_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))


def test_alert_rules_are_valid_prometheus_rules(promtool):
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_expect(promtool):
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, UNIT_TESTS)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_makes_it_fire_and_one_that_does_not():
    import yaml

    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired, quiet = set(), set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])

    assert alerts - fired == set(), "alerts no unit test makes fire"
    assert alerts - quiet == set(), "alerts no unit test keeps quiet"
