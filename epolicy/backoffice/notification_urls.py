"""Console pages of notification (included by epolicy/backoffice/urls.py under the console's namespace)."""

from django.urls import URLPattern, path

from . import notification_views as views

urlpatterns: list[URLPattern] = [
    path("", views.notifications, name="notifications"),
    path("<int:notification_id>/", views.notification, name="notification"),
    path("deliveries/<int:delivery_id>/retry/", views.notification_retry, name="notification_retry"),
    path("wechat/", views.wechat_outbox, name="wechat_outbox"),
]
