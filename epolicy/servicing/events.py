"""What servicing tells the apps above it when a reviewer decides a change.

Servicing does not import the channels that feed it (self-service, partner API); a channel that needs
to follow a change it submitted registers a listener here once (in its AppConfig.ready). Listeners run
inside the review's transaction, so what they record commits or rolls back with the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import PolicyChange

ReviewListener = Callable[["PolicyChange"], None]
_review_listeners: list[ReviewListener] = []


def on_review_decided(listener: ReviewListener) -> None:
    """Register `listener(change)` for every approval, rejection or approval that failed on the rules."""
    if listener not in _review_listeners:
        _review_listeners.append(listener)


def review_decided(change: PolicyChange) -> None:
    for listener in list(_review_listeners):
        listener(change)
