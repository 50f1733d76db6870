"""Pages for clinicians (server-rendered), sign-in, language and the JavaScript catalogue."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from portal.pages.views import access, diagnostics, home, patients, records, review
from portal.sso.views import SignOutView

# Namespaced: the API has routes of the same names (``diagnostic-detail``), and the pages' must not
# shadow them.
app_name = "pages"

urlpatterns = [
    path("", home.home, name="home"),
    path("patients/", patients.patient_index, name="patient-list"),
    path("patients/new/", patients.patient_create, name="patient-create"),
    path("patients/new/from-record/", records.patient_from_record, name="patient-from-record"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", patients.patient_edit, name="patient-edit"),
    path("diagnostics/<int:pk>/", diagnostics.diagnostic_detail, name="diagnostic-detail"),
    path("diagnostics/<int:pk>/card/", diagnostics.diagnostic_card, name="diagnostic-card"),
    path("diagnostics/<int:pk>/review/", diagnostics.diagnostic_review, name="diagnostic-review"),
    path(
        "diagnostics/<int:pk>/similar/<int:other_id>/feedback/",
        diagnostics.similar_feedback,
        name="similar-feedback",
    ),
    path("diagnostics/<int:pk>/retry/", diagnostics.diagnostic_retry, name="diagnostic-retry"),
    path("review/", review.review_index, name="review-queue"),
    path("sites/switch/", access.switch_site, name="switch-site"),
    # Sign-in: only the views the portal uses (no e-mail password reset: IT resets passwords).
    path("accounts/login/", access.SignInView.as_view(), name="login"),
    # Signs out at the identity provider too, for a session that came through it.
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/password_change/", access.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/session/", access.keep_session_alive, name="session-keepalive"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]
