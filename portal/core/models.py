"""Sites, memberships, patients, research pseudonyms and the append-only audit log."""

import re
import secrets
import unicodedata

from anyascii import anyascii
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Site(models.Model):
    """A clinic. Every patient belongs to exactly one site; users reach patients through sites."""

    code = models.SlugField(
        max_length=32,
        unique=True,
        help_text=_("Short code used in exports."),
        verbose_name=_("code"),
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLINICIAN = "clinician", _("Clinician")
    SITE_ADMIN = "site_admin", _("Site administrator")
    RESEARCHER = "researcher", _("Researcher")


class Membership(models.Model):
    """A user's role at a site; a researcher's data-use agreement is recorded here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("site")
    )
    role = models.CharField(max_length=16, choices=Role.choices, verbose_name=_("role"))
    data_use_agreement_until = models.DateField(
        null=True,
        blank=True,
        help_text=_("Researchers only: the limited data set may be exported until this date."),
        verbose_name=_("data use agreement until"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site", "role"], name="unique_membership_role"),
            models.CheckConstraint(
                condition=Q(data_use_agreement_until__isnull=True) | Q(role="researcher"),
                name="data_use_agreement_only_for_researchers",
            ),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.site}"

    def clean(self) -> None:
        if self.data_use_agreement_until and self.role != Role.RESEARCHER:
            raise ValidationError(
                {"data_use_agreement_until": _("Only researchers have data-use agreements.")}
            )

    def has_data_use_agreement(self, on=None) -> bool:
        on = on or timezone.localdate()
        return bool(self.data_use_agreement_until and self.data_use_agreement_until >= on)


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")


def search_key(text: str) -> str:
    """Fold text for prefix search: Latin letters only, no case, words split on anything else
    ("Zoë Ğüneş-Ødegård" -> "zoe gunes odegard", "O'Brien" -> "obrien").

    Letters that are not accented forms (ø, æ, ß, ł, đ, and other scripts) are transliterated by
    ``anyascii``, so a name typed on any keyboard folds to the same key as the stored one.
    """
    folded = anyascii(unicodedata.normalize("NFC", text or "")).casefold()
    return " ".join(_NOT_ALPHANUMERIC.sub(" ", _APOSTROPHES.sub("", folded)).split())


def search_terms(*, given_name: str, family_name: str, external_id: str) -> set[str]:
    """The keys a patient is found by, each searched from its start: the name from each of its
    words on ("gunes odegard zoe", "odegard zoe", "zoe gunes odegard", ...), so any word of any
    name part, alone or with the words after it, is a prefix of one key; and the external id whole."""
    terms = {search_key(external_id)}
    for name in (f"{family_name} {given_name}", f"{given_name} {family_name}"):
        words = search_key(name).split()
        terms.update(" ".join(words[start:]) for start in range(len(words)))
    terms.discard("")
    return terms


class PatientQuerySet(models.QuerySet):
    def search(self, query: str, *, site_ids=None) -> "PatientQuerySet":
        """Patients with a search term starting with the folded ``query`` (all of them for an
        empty one): one indexed prefix lookup in ``PatientSearchTerm``, on SQLite and PostgreSQL.
        ``site_ids``, the sites the caller may search (its queryset is scoped to them already),
        keeps the lookup to their terms on the (site, term) index: a common prefix at a million
        patients matches thousands at every site, which would each be read only to be dropped."""
        term = search_key(query)
        if not term:
            return self
        if connections[self.db].vendor == "sqlite":
            # SQLite's LIKE ignores case, so it cannot use a binary index; keys are lowercase
            # ASCII, so the same prefix is a binary range, which it can.
            prefix = Q(term__gte=term, term__lt=term + "\x7f")
        else:
            prefix = Q(term__startswith=term)  # a range on the varchar_pattern_ops index
        matching = PatientSearchTerm.objects.filter(prefix)
        if site_ids is not None:
            matching = matching.filter(site_id__in=site_ids)
        return self.filter(pk__in=matching.values("patient_id"))


class Patient(models.Model):
    site_path = "site"  # how portal.core.permissions.restrict reaches the site

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="patients", verbose_name=_("site")
    )
    external_id = models.CharField(
        _("external id"),
        max_length=64,
        help_text=_("The hospital's record number for the patient."),
    )
    given_name = models.CharField(max_length=150, verbose_name=_("given name"))
    family_name = models.CharField(max_length=150, verbose_name=_("family name"))
    birth_date = models.DateField(verbose_name=_("birth date"))
    sex = models.CharField(
        max_length=8, choices=Sex.choices, default=Sex.UNKNOWN, verbose_name=_("sex")
    )
    # The patient's identifier in the hospital's record (FHIR ``Patient.identifier``): both set
    # for a patient linked to the record, both empty otherwise. Results are pushed to the record,
    # and names and birth dates reconciled from it, only for linked patients.
    identifier_system = models.CharField(
        _("identifier system"),
        max_length=255,
        blank=True,
        help_text=_("The hospital record's identifier system (a URI), for a linked patient."),
    )
    identifier_value = models.CharField(
        _("identifier value"),
        max_length=64,
        blank=True,
        help_text=_("The patient's identifier in that system."),
    )
    research_consent = models.BooleanField(default=False, verbose_name=_("research consent"))
    research_consent_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("research consent at")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # Derived from the names on every save (see ``search_key``); the patient list's sort key.
    search_name = models.CharField(
        max_length=310, blank=True, editable=False, verbose_name=_("search name")
    )

    SEARCH_SOURCES = ("given_name", "family_name", "external_id", "site", "site_id")

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"], name="unique_patient_external_id_per_site"
            ),
            models.CheckConstraint(
                condition=Q(research_consent=False) | Q(research_consent_at__isnull=False),
                name="research_consent_has_a_date",
            ),
            models.CheckConstraint(
                condition=Q(identifier_system="", identifier_value="")
                | (~Q(identifier_system="") & ~Q(identifier_value="")),
                name="patient_identifier_system_and_value_together",
            ),
            # One local patient per record at a site (the reconciliation's lookup, too).
            models.UniqueConstraint(
                fields=["site", "identifier_system", "identifier_value"],
                condition=~Q(identifier_value=""),
                name="unique_patient_identifier_per_site",
            ),
        ]
        indexes = [
            models.Index(fields=["site", "family_name", "given_name"]),
            # The patient list pages by (search_name, id).
            models.Index(fields=["search_name", "id"], name="patient_search_name_id"),
        ]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")

    def __str__(self) -> str:
        # Deliberately not the name: object reprs end up in logs and admin history.
        return f"Patient #{self.pk}"

    def save(self, *args, **kwargs):
        # Here rather than in a service so that every writer (services, admin, API) keeps the
        # search keys true; bulk_create callers call index_for_search() themselves.
        self.refresh_search_columns()
        update_fields = kwargs.get("update_fields")
        searched = update_fields is None or set(update_fields) & set(self.SEARCH_SOURCES)
        if update_fields is not None and searched:
            kwargs["update_fields"] = {*update_fields, "search_name"}
        with transaction.atomic():
            super().save(*args, **kwargs)
            if searched:
                index_for_search([self])

    def refresh_search_columns(self) -> None:
        self.search_name = search_key(f"{self.family_name} {self.given_name}")

    def search_terms(self) -> set[str]:
        return search_terms(
            given_name=self.given_name, family_name=self.family_name, external_id=self.external_id
        )

    @property
    def is_linked(self) -> bool:
        """Linked to the hospital's record (its identifier system and value are known)."""
        return bool(self.identifier_system and self.identifier_value)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age(self, on=None) -> int:
        """Whole years on ``on`` (today by default)."""
        on = on or timezone.localdate()
        born = self.birth_date
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    def clean(self) -> None:
        errors = {}
        if self.birth_date and self.birth_date > timezone.localdate():
            errors["birth_date"] = _("The birth date cannot be in the future.")
        if self.research_consent and not self.research_consent_at:
            self.research_consent_at = timezone.now()
        if not self.research_consent:
            self.research_consent_at = None
        if errors:
            raise ValidationError(errors)


class PatientSearchTerm(models.Model):
    """One key a patient is found by (see ``search_terms``), searched with ``LIKE 'term%'`` on
    an index: a name's later words get their own rows, since no index finds a word mid-column."""

    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="search_terms_set",
        verbose_name=_("patient"),
    )
    # The patient's site, copied here so that a search within sites reads only their terms.
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("site")
    )
    term = models.CharField(max_length=310, verbose_name=_("term"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "term"], name="unique_patient_search_term")
        ]
        indexes = [
            # A prefix range on PostgreSQL needs the pattern opclass (ignored on SQLite, whose
            # LIKE is case-insensitive already and uses the plain index for a prefix).
            models.Index(
                fields=["term"], name="patient_search_term_like", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["site", "term"],
                name="patient_search_site_term",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ]
        verbose_name = _("patient search term")
        verbose_name_plural = _("patient search terms")

    def __str__(self) -> str:
        return f"search term of patient #{self.patient_id}"


def index_for_search(patients) -> None:
    """Replace the search keys of saved ``patients`` (a list) with their current ones."""
    PatientSearchTerm.objects.filter(patient__in=[p.pk for p in patients]).delete()
    PatientSearchTerm.objects.bulk_create(
        PatientSearchTerm(patient_id=p.pk, site_id=p.site_id, term=term)
        for p in patients
        for term in p.search_terms()
    )


def new_pseudonym() -> str:
    # Random, not derived from anything about the person, so it cannot be reversed or recomputed.
    return secrets.token_hex(12)


class ResearchPseudonym(models.Model):
    """A patient's research id: made on first export, stable across exports."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="pseudonym", verbose_name=_("patient")
    )
    value = models.CharField(
        max_length=32, unique=True, default=new_pseudonym, editable=False, verbose_name=_("value")
    )
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )

    class Meta:
        verbose_name = _("research pseudonym")
        verbose_name_plural = _("research pseudonyms")

    def __str__(self) -> str:
        return self.value


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly

    def delete(self):
        raise AuditLogIsAppendOnly


class AuditLogIsAppendOnly(Exception):
    def __init__(self) -> None:
        super().__init__("Audit events are append-only: they cannot be changed or deleted.")


class AuditEvent(models.Model):
    """Who did what to which record, when and from where. Append-only on every code path.

    The foreign keys carry no database constraint and do nothing on delete, so that an event
    outlives the user or patient it names (a deletion must not rewrite the log). PostgreSQL adds a
    trigger that rejects UPDATE and DELETE (see the migration).
    """

    at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True, verbose_name=_("at")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(max_length=64, verbose_name=_("action"))
    object_type = models.CharField(max_length=64, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object id"))
    patient = models.ForeignKey(
        Patient,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("patient"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"))

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient", "at"]),
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["action", "at"]),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AuditLogIsAppendOnly
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly


class TokenGeneration(models.Model):
    """A user's API token generation: every token carries the generation it was issued under, and
    moving it on (sign-out, a lost membership) ends them all at once (``portal.core.revocation``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="token_generation",
        verbose_name=_("user"),
    )
    value = models.PositiveIntegerField(default=0, verbose_name=_("value"))

    class Meta:
        verbose_name = _("token generation")
        verbose_name_plural = _("token generations")

    def __str__(self) -> str:
        return f"{self.user} · {self.value}"


class EnrolmentLink(models.Model):
    """A one-time link an administrator issues to enrol an authenticator app for a user.

    Only a hash of the link's secret is kept: the link is shown once, to the administrator who
    passes it on. It works once, and only before it expires.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="enrolment_links",
        verbose_name=_("user"),
    )
    secret_hash = models.CharField(max_length=64, unique=True, verbose_name=_("secret hash"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    verbose_name=_("issued by"))  # fmt: skip
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, verbose_name=_("created at")
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("enrolment link")
        verbose_name_plural = _("enrolment links")

    def __str__(self) -> str:
        return f"{self.user} · {self.created_at:%Y-%m-%d}"

    def is_usable(self, now=None) -> bool:
        return self.used_at is None and self.expires_at > (now or timezone.now())
