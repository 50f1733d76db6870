"""Routes of the REST API under ``/api/v1/``."""

from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from diagnostics import api as diagnostics_api
from media_assets import api as media_api
from recommender import api as recommender_api

urlpatterns = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token_obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("recordings/", media_api.RecordingUploadView.as_view(), name="recording-upload"),
    path("uploads/", media_api.DirectUploadCreateView.as_view(), name="upload-create"),
    path("uploads/<int:pk>/content", media_api.UploadContentView.as_view(), name="upload-content"),
    path(
        "uploads/<int:pk>/complete/", media_api.UploadCompleteView.as_view(), name="upload-complete"
    ),
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
        "diagnostics/<int:pk>/similar/",
        recommender_api.SimilarCasesView.as_view(),
        name="diagnostic-similar",
    ),
    path(
        "diagnostics/<int:pk>/similar/<int:other_id>/feedback/",
        recommender_api.SimilarCaseFeedbackView.as_view(),
        name="diagnostic-similar-feedback",
    ),
]
