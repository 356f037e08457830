from django.contrib import admin
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

admin.site.site_header = "Library Help: staff"
admin.site.site_title = "Library Help staff"
admin.site.index_title = "Help sessions"


def healthz(request):
    """For load balancers and uptime checks: the app answers (no database work)."""
    return HttpResponse("ok", content_type="text/plain")


def favicon(request):
    """Browsers ask for /favicon.ico; the icon's hashed name is only known once collected."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("", include("appointments.urls")),
]
