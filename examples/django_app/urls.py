from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("me", views.me),
    path("me-sync", views.me_sync),
    path("who", views.who),
]
