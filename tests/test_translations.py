"""The Arabic catalogues are complete: every string that the pages, the admin and the JavaScript
can show is in ``locale/ar`` (a fresh extraction of the tree, made as ``make messages`` makes it,
finds nothing new and nothing gone), translated in every plural form, nothing fuzzy, and the
committed ``.mo`` files say exactly what their ``.po`` files say.

Needs GNU gettext (``apt-get install gettext``), as ``makemessages`` does; skipped without it,
except with ``CI=true``.
"""

import os
import shutil
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "locale" / "ar" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")
ARABIC_PLURALS = 6
# The options of `make messages` (Makefile): locations name files only, so that work on
# different lines of one file does not conflict in the catalogues.
IGNORED = ["var", "test-artifacts", "node_modules"]
MAKEMESSAGES = {"locale": ["ar"], "no_obsolete": True, "add_location": "file",
                "ignore_patterns": IGNORED, "verbosity": 0}  # fmt: skip
NOT_SOURCE = shutil.ignore_patterns(".*", "__pycache__", *IGNORED)
HOW_TO_FIX = (
    "run `make messages`, translate them in locale/ar/LC_MESSAGES, then `make compilemessages`"
)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict[str, polib.POFile]:
    """The catalogues as `make messages` would leave them now: the strings of a copy of the tree,
    merged with the committed translations (new strings empty, changed ones fuzzy)."""
    missing = [tool for tool in ("xgettext", "msgmerge", "msgattrib") if not shutil.which(tool)]
    if missing:
        reason = f"GNU gettext is missing ({', '.join(missing)}): apt-get install gettext"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    tree = tmp_path_factory.mktemp("messages") / "tree"
    shutil.copytree(ROOT, tree, ignore=NOT_SOURCE)
    here = Path.cwd()
    os.chdir(tree)  # makemessages reads the tree it runs in
    try:
        with override_settings(LOCALE_PATHS=[tree / "locale"]):
            for domain in DOMAINS:
                call_command("makemessages", domain=domain, **MAKEMESSAGES)
    finally:
        os.chdir(here)
    folder = tree / "locale" / "ar" / "LC_MESSAGES"
    return {domain: polib.pofile(str(folder / f"{domain}.po")) for domain in DOMAINS}


def key(entry) -> tuple:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


def translated(entry) -> bool:
    if entry.msgid_plural:
        forms = entry.msgstr_plural
        return len(forms) == ARABIC_PLURALS and all(forms.get(n) for n in range(ARABIC_PLURALS))
    return bool(entry.msgstr)


def listed(entries) -> str:
    return "\n".join(f"  {entry.msgid!r}" for entry in entries)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_is_translated_in_every_plural_form_and_none_is_fuzzy(fresh, domain):
    entries = [entry for entry in fresh[domain] if not entry.obsolete]

    untranslated = [entry for entry in entries if not translated(entry)]
    fuzzy = [entry for entry in entries if "fuzzy" in entry.flags]

    assert not untranslated, f"{domain}: not translated into Arabic ({HOW_TO_FIX}):\n" + listed(
        untranslated
    )
    assert not fuzzy, f"{domain}: fuzzy, to check and unmark ({HOW_TO_FIX}):\n" + listed(fuzzy)


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_catalogue_holds_exactly_the_strings_of_the_tree(fresh, domain):
    committed = polib.pofile(str(CATALOGUES / f"{domain}.po"))
    kept = {key(entry) for entry in committed if not entry.obsolete}
    current = {key(entry) for entry in fresh[domain] if not entry.obsolete}

    assert current - kept == set(), f"{domain}: strings missing from the catalogue ({HOW_TO_FIX})"
    assert kept - current == set(), f"{domain}: strings no longer used ({HOW_TO_FIX})"
    assert committed.metadata["Plural-Forms"].startswith(f"nplurals={ARABIC_PLURALS};")


def table(entries) -> dict:
    return {
        (entry.msgctxt, entry.msgid): (
            tuple(sorted(entry.msgstr_plural.items())) if entry.msgid_plural else entry.msgstr
        )
        for entry in entries
        if entry.msgid and not entry.obsolete and "fuzzy" not in entry.flags and translated(entry)
    }


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalogue_matches_its_po_file(domain):
    po = polib.pofile(str(CATALOGUES / f"{domain}.po"))
    mo = polib.mofile(str(CATALOGUES / f"{domain}.mo"))

    assert table(mo) == table(po), f"{domain}.mo is out of date: run `make compilemessages`"
    assert mo.metadata["Plural-Forms"] == po.metadata["Plural-Forms"]
