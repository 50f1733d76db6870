from django.urls import path

from media_assets import views

app_name = "media"
urlpatterns = [
    path("recordings/<int:pk>/audio", views.recording_audio, name="recording-audio"),
]
