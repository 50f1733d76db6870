"""Routes of the REST API under ``/api/v1/``."""

from django.urls import path

from diagnostics import api as diagnostics_api
from diagnostics import upload_api
from portal.core import api as patients_api
from portal.core.rest import tokens
from portal.research import views as research
from recommender import api as recommender_api

urlpatterns = [
    # No anonymous rate here: a ward behind one proxy signs in at once. Failed sign-ins are
    # limited per address and per username by portal.core.lockout, successes never.
    path("auth/token/", tokens.SignInView.as_view(throttle_classes=()), name="token_obtain"),
    path("auth/token/refresh/", tokens.RefreshView.as_view(), name="token_refresh"),
    path("auth/token/revoke/", tokens.RevokeView.as_view(), name="token_revoke"),
    path("recordings/", upload_api.RecordingUploadView.as_view(), name="recording-upload"),
    path("uploads/", upload_api.DirectUploadCreateView.as_view(), name="upload-create"),
    path("uploads/<int:pk>/content", upload_api.UploadContentView.as_view(), name="upload-content"),
    path(
        "uploads/<int:pk>/complete/",
        upload_api.UploadCompleteView.as_view(),
        name="upload-complete",
    ),
    path("patients/", patients_api.PatientListCreateView.as_view(), name="patient-list"),
    path("patients/lookup/", patients_api.PatientLookupView.as_view(), name="patient-lookup"),
    path("patients/<int:pk>/", patients_api.PatientDetailView.as_view(), name="patient-detail"),
    path(
        "patients/<int:pk>/pending/",
        diagnostics_api.PatientPendingResultsView.as_view(),
        name="patient-pending-results",
    ),
    path("diagnostics/", diagnostics_api.DiagnosticListView.as_view(), name="diagnostic-list"),
    path(
        "diagnostics/<int:pk>/",
        diagnostics_api.DiagnosticDetailView.as_view(),
        name="diagnostic-detail",
    ),
    path(
        "diagnostics/<int:pk>/retry/",
        diagnostics_api.DiagnosticRetryView.as_view(),
        name="diagnostic-retry",
    ),
    path(
        "diagnostics/<int:pk>/review/",
        diagnostics_api.DiagnosticReviewView.as_view(),
        name="diagnostic-review",
    ),
    path(
        "diagnostics/<int:pk>/similar/",
        recommender_api.SimilarCasesView.as_view(),
        name="diagnostic-similar",
    ),
    path(
        "diagnostics/<int:pk>/similar/<int:other_id>/feedback/",
        recommender_api.SimilarCaseFeedbackView.as_view(),
        name="diagnostic-similar-feedback",
    ),
    path("models/", diagnostics_api.ModelVersionListView.as_view(), name="model-version-list"),
    path(
        "research/diagnostics/",
        research.ResearchDiagnosticExportView.as_view(),
        name="research-diagnostics",
    ),
    path(
        "research/recordings/<str:pseudonym>/audio",
        research.ResearchAudioLinkView.as_view(),
        name="research-audio-link",
    ),
    path("research/audio/<str:token>", research.audio_download, name="research-audio-download"),
]
