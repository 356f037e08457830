from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from library_help import health

admin.site.site_header = "Library Help: staff"
admin.site.site_title = "Library Help staff"
admin.site.index_title = "Help sessions"

handler400 = "library_help.error_pages.bad_request"
handler500 = "library_help.error_pages.server_error"


def favicon(request):
    """Browsers ask for /favicon.ico; the icon's hashed name is only known once collected."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("healthz", health.service, name="healthz"),
    path("healthz/web", health.web, name="healthz_web"),
    path("healthz/live", health.live, name="healthz_live"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sso/", include("library_help.sso.urls")),
    path("", include("appointments.urls")),
]
