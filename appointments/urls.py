from django.urls import path

from . import calls, desk, feeds, report_views, today, views

app_name = "appointments"

urlpatterns = [
    path("", views.home, name="home"),
    path("book/<slug:slug>/", views.need, name="need"),
    path("book/<slug:slug>/time/", views.choose_time, name="time"),
    path("book/<slug:slug>/contact/", views.contact, name="contact"),
    path("book/<slug:slug>/waiting-list/", views.join_waitlist, name="join_waitlist"),
    path("waiting-list/<str:token>/", views.waitlist_offer, name="waitlist_offer"),
    path("waiting-list/<str:token>/change/", views.waitlist_place, name="waitlist_place"),
    path("waiting-list/<str:token>/leave/", views.waitlist_leave, name="waitlist_leave"),
    path("booking/<str:token>/", views.manage, name="manage"),
    path("booking/<str:token>/calendar.ics", views.calendar_file, name="calendar_file"),
    path("booking/<str:token>/cancel/", views.cancel, name="cancel"),
    path("booking/<str:token>/change/", views.reschedule, name="reschedule"),
    path("booking/<str:token>/my-data/", views.my_data, name="my_data"),
    path("booking/<str:token>/my-data/delete/", views.forget_me, name="forget_me"),
    path("feedback/<str:token>/", views.feedback, name="feedback"),
    path("privacy/", views.privacy, name="privacy"),
    path("desk/reports/", report_views.reports, name="reports"),
    path("desk/reports/<slug:table>.csv", report_views.report_csv, name="report_csv"),
    path("desk/statistics/", report_views.old_statistics, name="statistics"),
    path("calendar/<uuid:key>.ics", feeds.staff_calendar, name="staff_calendar"),
    path("desk/today/", today.today, name="today"),
    path("desk/today/walk-in/", today.walk_in, name="walk_in"),
    path("desk/session/<uuid:reference>/", desk.session, name="session"),
    path("desk/session/<uuid:reference>/mark/", today.mark, name="mark"),
    path("desk/session/<uuid:reference>/move/", desk.move_session, name="session_move"),
    path("desk/session/<uuid:reference>/cancel/", desk.cancel_session, name="session_cancel"),
    path("desk/patron/<int:patron_id>/lift-pause/", today.lift_pause, name="lift_pause"),
    path("desk/calls/", calls.call_list, name="calls"),
    path("desk/calls/<int:pk>/", calls.mark_call, name="mark_call"),
    path("desk/calls/<int:pk>/undo/", calls.undo_call, name="undo_call"),
    path(
        "desk/calls/failed/<int:pk>/",
        calls.mark_failed_handled,
        name="mark_failed_handled",
    ),
    path("desk/", desk.find_patron, name="desk"),
    path("desk/patron/new/", desk.add_patron, name="desk_add_patron"),
    path("desk/patron/<int:patron_id>/", desk.patron, name="desk_patron"),
    path("desk/patron/<int:patron_id>/book/", desk.book, name="desk_book"),
    path("desk/booked/<uuid:reference>/", desk.booked, name="desk_booked"),
]
