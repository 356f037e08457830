from django.urls import path

from . import views

app_name = "sso"
urlpatterns = [
    path("<slug:key>/start/", views.start, name="start"),
    path("<slug:key>/callback/", views.callback, name="callback"),
]
