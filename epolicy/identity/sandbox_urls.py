"""Pages of the sandbox identity providers (where a real provider's SDK or hosted page would be)."""

from django.urls import URLPattern, path

from . import sandbox_views

app_name = "identity_sandbox"
urlpatterns: list[URLPattern] = [
    path("face/<slug:reference>/", sandbox_views.face, name="face"),
    path("video/<slug:reference>/", sandbox_views.video, name="video"),
    # WeChat's consent screen of the web authorization (网页授权), as the sandbox plays it.
    path("wechat/authorize", sandbox_views.wechat_authorize, name="wechat_authorize"),
]
