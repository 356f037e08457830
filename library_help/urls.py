from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from library_help import health

admin.site.site_header = "Library Help: staff"
admin.site.site_title = "Library Help staff"
admin.site.index_title = "Help sessions"

urlpatterns = [
    path("healthz", health.service, name="healthz"),
    path("healthz/web", health.web, name="healthz_web"),
    path("healthz/live", health.live, name="healthz_live"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("appointments.urls")),
]
