"""Identity-check providers: real-name four-element check, face verification, video session.

The ports are in base.py, the deterministic sandbox in sandbox.py, the HTTP adapter (the seam for a
vendor) in http.py; settings.PROVIDERS["realname" | "face" | "video"] names the class to use.
"""

from __future__ import annotations

from typing import cast

from epolicy.common.providers import get_provider

from .base import (
    FaceProvider,
    FaceResult,
    FaceSession,
    ProviderUnavailable,
    RealNameProvider,
    RealNameResult,
    UnknownReference,
    VideoProvider,
    VideoResult,
    VideoSession,
)

__all__ = [
    "FaceProvider",
    "FaceResult",
    "FaceSession",
    "ProviderUnavailable",
    "RealNameProvider",
    "RealNameResult",
    "UnknownReference",
    "VideoProvider",
    "VideoResult",
    "VideoSession",
    "face_provider",
    "realname_provider",
    "video_provider",
]


def realname_provider() -> RealNameProvider:
    """The configured real-name provider (settings.PROVIDERS["realname"])."""
    return cast(RealNameProvider, get_provider("realname"))


def face_provider() -> FaceProvider:
    """The configured face-verification provider (settings.PROVIDERS["face"])."""
    return cast(FaceProvider, get_provider("face"))


def video_provider() -> VideoProvider:
    """The configured video-session provider (settings.PROVIDERS["video"])."""
    return cast(VideoProvider, get_provider("video"))
