from django.contrib import admin
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Library Help: staff"
admin.site.site_title = "Library Help staff"
admin.site.index_title = "Help sessions"


def healthz(request):
    """For load balancers and uptime checks: the app answers (no database work)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("appointments.urls")),
]
