"""Reading the archive register: a policy's documents, each with its versions (motor standard §7.1.4 a)."""

from __future__ import annotations

import dataclasses

from epolicy.common.errors import ApplicationError
from epolicy.common.models import ApiClient

from .models import ArchivedObject
from .subjects import visible_to


@dataclasses.dataclass(frozen=True)
class ArchivedDocument:
    """One document and its versions, oldest first; `latest` is the version served by default."""

    versions: tuple[ArchivedObject, ...]

    @property
    def latest(self) -> ArchivedObject:
        return self.versions[-1]


def document_chains(objects: list[ArchivedObject]) -> list[ArchivedDocument]:
    """Archived objects grouped into version chains (each first version with its later ones), in order."""
    by_id = {o.pk: o for o in objects}
    later_versions = {o.superseded_by_id for o in objects if o.superseded_by_id in by_id}
    documents = []
    for first in objects:
        if first.pk in later_versions:
            continue  # a later version of a chain started elsewhere
        chain = [first]
        seen = {first.pk}
        while chain[-1].superseded_by_id in by_id and chain[-1].superseded_by_id not in seen:
            nxt = by_id[chain[-1].superseded_by_id]  # type: ignore[index]
            seen.add(nxt.pk)
            chain.append(nxt)
        documents.append(ArchivedDocument(versions=tuple(chain)))
    return documents


def archive_object_get(*, public_id: str, client: ApiClient | None = None) -> ArchivedObject:
    """An archived object by its public id; with `client`, only one of that client's applications."""
    objects = ArchivedObject.objects.filter(public_id=public_id)
    if client is not None:
        objects = objects.filter(visible_to(client))
    obj = objects.first()
    if obj is None:
        raise ApplicationError("not_found", "没有这个影像资料编号。")
    return obj
