from django.urls import path

from media_assets import views

app_name = "media"
urlpatterns = [
    path("recordings/<int:pk>/audio", views.recording_audio, name="recording-audio"),
    path(
        "recordings/<int:pk>/spectrogram.png",
        views.recording_spectrogram,
        name="recording-spectrogram",
    ),
]
