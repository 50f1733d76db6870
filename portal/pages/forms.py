"""Forms of the clinician pages: they parse and type the input; the services decide what is valid
for the record (birth date, unique external id) and the views map those failures back here."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.models import Label
from diagnostics.reviews import Decision
from portal.core import second_factor
from portal.core.models import Sex


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class PatientForm(forms.Form):
    """Create and edit. ``site`` is offered only to users of several sites, and only on create."""

    external_id = forms.CharField(
        label=_("External id"), max_length=64,
        help_text=_("The hospital's record number for the patient."),
    )  # fmt: skip
    given_name = forms.CharField(label=_("Given name"), max_length=150)
    family_name = forms.CharField(label=_("Family name"), max_length=150)
    birth_date = forms.DateField(label=_("Birth date"), widget=DateInput())
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, initial=Sex.UNKNOWN)
    research_consent = forms.BooleanField(
        label=_("The patient consents to the use of their de-identified data for research"),
        required=False,
        help_text=_("The date of consent is recorded when you save; unticking withdraws it."),
    )

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The user's sites are already loaded for the page; a ChoiceField avoids a second query.
        self._sites = {str(site.pk): site for site in sites or []}
        if len(self._sites) > 1:
            self.fields["site"] = forms.ChoiceField(
                label=_("Site"), choices=[(pk, site.name) for pk, site in self._sites.items()]
            )
            self.order_fields(["site"])

    def clean_site(self):
        return self._sites[self.cleaned_data["site"]]

    def clean_birth_date(self):
        # Checked again by the model; here too so the message comes with the field at once.
        birth_date = self.cleaned_data["birth_date"]
        if birth_date > timezone.localdate():
            raise forms.ValidationError(_("The birth date cannot be in the future."))
        return birth_date


class PatientSearchForm(forms.Form):
    """The patient list's search. Posted, then kept in the session (``views.patients``): a
    name or external id never appears in a URL. Invalid values fall back to "no filter"."""

    NO_FILTERS = {"query": "", "consent": None, "to_review": False, "after": None, "before": None}

    CONSENT_CHOICES = [("", _("Any")), ("yes", _("Consented")), ("no", _("Not consented"))]

    q = forms.CharField(label=_("Name or external id"), required=False, max_length=100)
    consent = forms.ChoiceField(label=_("Research consent"), choices=CONSENT_CHOICES,
                                required=False)  # fmt: skip
    to_review = forms.BooleanField(label=_("Has results to review"), required=False)
    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> dict:
        if not self.is_valid():
            return dict(self.NO_FILTERS)
        data = self.cleaned_data
        consent = {"yes": True, "no": False}.get(data["consent"])
        return {"query": data["q"], "consent": consent, "to_review": data["to_review"],
                "after": data["after"], "before": data["before"]}  # fmt: skip

    def criteria(self) -> dict:
        """What to keep of a valid search (no paging), as JSON for the session."""
        return {key: self.cleaned_data[key] for key in ("q", "consent", "to_review")}


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=Decision.CHOICES,
                                 widget=forms.RadioSelect)  # fmt: skip
    label = forms.ChoiceField(
        label=_("Correct label"), choices=[("", _("Choose a label")), *Label.choices],
        required=False,
    )  # fmt: skip
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == Decision.CORRECT and not cleaned.get("label"):
            self.add_error("label", _("Choose the correct label."))
        return cleaned


class SignInForm(AuthenticationForm):
    """The password, and the one-time code where the account needs a second factor
    (``portal.core.second_factor``). The password is never rendered back into the page."""

    otp_token = forms.RegexField(
        label=_("One-time code"),
        regex=r"^\d{6}$",
        required=False,
        help_text=_("From your authenticator app, if your account has one."),
        error_messages={"invalid": _("Enter the 6-digit code shown in the app.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The user name and password do not match. Please try again."),
        "otp_required": _("Enter the one-time code from your authenticator app as well."),
        "otp_invalid": _(
            "That one-time code did not match. Check the time on your phone and try again."
        ),
        "enrolment_required": _(
            "Your account needs an authenticator app. Open the enrolment link your "
            "administrator gave you to set one up."
        ),
    }

    device = None  # the device that accepted the code, for the view to record in the session

    def clean(self):
        cleaned = super().clean()  # the password (django-axes counts failures)
        user = self.get_user()
        if user is not None and second_factor.required_for(user):
            if not second_factor.has_device(user):
                raise self._error("enrolment_required")
            if not cleaned.get("otp_token"):
                raise self._error("otp_required")
            self.device = second_factor.verify(user, cleaned["otp_token"])
            if self.device is None:
                raise self._error("otp_invalid")
        return cleaned

    def _error(self, code: str) -> forms.ValidationError:
        return forms.ValidationError(self.error_messages[code], code=code)


class RecordSearchForm(forms.Form):
    """Search the hospital's record (FHIR) for a patient: by identifier, or else by name."""

    identifier = forms.CharField(
        label=_("Hospital record number"), required=False, max_length=64,
        help_text=_("Exact, as the hospital's record has it."),
    )  # fmt: skip
    name = forms.CharField(label=_("Name"), required=False, max_length=100)

    def clean(self):
        cleaned = super().clean()
        if (
            not (cleaned.get("identifier") or "").strip()
            and not (cleaned.get("name") or "").strip()
        ):
            raise forms.ValidationError(_("Enter a record number or a name."))
        return cleaned


class RecordPickForm(forms.Form):
    """The record chosen (its id on the hospital's server), and the site for a user of several."""

    record = forms.RegexField(regex=r"^[A-Za-z0-9\-.]{1,64}$", widget=forms.HiddenInput)

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._sites = {str(site.pk): site for site in sites or []}
        if len(self._sites) > 1:
            self.fields["site"] = forms.ChoiceField(
                label=_("Site"), choices=[(pk, site.name) for pk, site in self._sites.items()]
            )

    def clean_site(self):
        return self._sites[self.cleaned_data["site"]]
