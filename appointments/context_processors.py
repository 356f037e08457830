from django.conf import settings


def library(request):
    return {"library_name": settings.LIBRARY_NAME, "library_phone": settings.LIBRARY_PHONE}
