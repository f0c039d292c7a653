"""Which archived objects an API client may see: each domain app that archives documents registers, for
its subject type, the ids of its subjects a client owns (the archive never imports the domains).

An API client without archive:all sees only the documents of what it submitted; a subject type nobody
registered is visible to no such client.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from epolicy.common.models import ApiClient

# subject type ("motor.application") -> the ids of subjects that client owns, as a queryset or list
OwnedIds = Callable[[ApiClient], "QuerySet | list[int]"]
_OWNED: dict[str, OwnedIds] = {}


def register_subject_owner(subject_type: str, owned_ids: OwnedIds) -> None:
    """Called from the domain app's AppConfig.ready()."""
    _OWNED[subject_type] = owned_ids


def visible_to(client: ApiClient) -> Q:
    """A filter on ArchivedObject: the objects of subjects the client owns."""
    query = Q(pk__in=[])
    for subject_type, owned_ids in _OWNED.items():
        query |= Q(subject_type=subject_type, subject_id__in=owned_ids(client))
    return query
