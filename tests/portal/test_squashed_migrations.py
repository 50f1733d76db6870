"""Each app's migrations are squashed into one (``0001_squashed_*``): a new database applies it
instead of the chain, in half the time. The chain stays for databases migrated before the
squash, so the two must give every model exactly the same fields, options, indexes and
constraints; the audit log's triggers, which the squash carries, are tested on both paths in
``tests/security/test_audit_log_append_only.py``."""

import pytest
from django.db.migrations.loader import MigrationLoader

APPS = ("portal", "sso", "fhir", "media_assets", "diagnostics", "recommender")


def models_of(state):
    """What a migration state says of each of the project's models, in an order-free form (the
    squash lists fields, indexes and constraints in the models' order, the chain in the order
    they were added)."""
    described = {}
    for (app_label, name), model in state.models.items():
        if app_label not in APPS:
            continue
        options = dict(model.options)
        for kind in ("indexes", "constraints"):
            options[kind] = sorted(repr(item.deconstruct()) for item in options.get(kind, []))
        fields = sorted(
            (field_name, field.deconstruct()[1:]) for field_name, field in model.fields.items()
        )
        described[app_label, name] = {
            "fields": fields,
            "options": options,
            "bases": model.bases,
            "managers": model.managers,
        }
    return described


def chain_of(loader, app_label):
    """The app's migrations from before its squash, in order."""
    return sorted(
        key for key in loader.disk_migrations if key[0] == app_label and "squashed" not in key[1]
    )


@pytest.fixture(scope="module")
def squashed():
    return MigrationLoader(None, ignore_no_migrations=True)


@pytest.fixture(scope="module")
def chain():
    return MigrationLoader(None, ignore_no_migrations=True, replace_migrations=False)


def test_every_app_has_one_squashed_migration_replacing_its_whole_chain(squashed, chain):
    for app_label in APPS:
        replacing = [key for key in squashed.graph.leaf_nodes(app_label) if "squashed" in key[1]]

        assert len(replacing) == 1, (app_label, squashed.graph.leaf_nodes(app_label))
        assert sorted(squashed.disk_migrations[replacing[0]].replaces) == chain_of(chain, app_label)


def test_the_squashed_migrations_give_the_models_what_the_chains_give(squashed, chain):
    # The chain's graph holds the squashed migrations too (not replacing anything): its state is
    # taken at the last migration of each chain, which no squashed migration comes before.
    chain_ends = [
        key for key in chain.graph.leaf_nodes() if "squashed" not in key[1] and key[0] not in APPS
    ] + [chain_of(chain, app_label)[-1] for app_label in APPS]
    by_squash = models_of(squashed.project_state())
    by_chain = models_of(chain.project_state(nodes=chain_ends))

    assert sorted(by_squash) == sorted(by_chain)
    differing = [key for key in by_chain if by_squash[key] != by_chain[key]]
    assert differing == []


def test_a_squashed_migration_waits_for_no_more_of_other_apps_than_its_chain_did(squashed, chain):
    """A database migrated before the squash may have one app's chain whole and another's not (the
    audit triggers' 0010 came after the other apps' last migrations): its squash counts as applied
    there, and a dependency its chain never had would be unapplied history, which ``migrate``
    refuses (``InconsistentMigrationHistory``)."""
    for app_label in APPS:
        (key,) = [key for key in squashed.graph.leaf_nodes(app_label) if "squashed" in key[1]]
        migration = squashed.disk_migrations[key]
        had = {
            dependency
            for replaced in migration.replaces
            for dependency in chain.disk_migrations[replaced].dependencies
        }

        assert {d for d in migration.dependencies if d[0] != app_label} <= had, key
