"""Openids bound to people (epolicy.identity.models.WeChatBinding), for the layers below the WeChat
pages: the notification of a policy's issuance, endorsement and expiry (epolicy.policies.services).

A binding names the Customer row that proved the person; the motor side makes a new Customer row for
each application, so the person is matched by the blind index of their ID number: policies issued to
the same person later reach the same openids without binding again.
"""

from __future__ import annotations

from collections.abc import Iterable

from epolicy.parties.models import Customer

from .models import WeChatBinding


def openid_index_of(openid: str) -> str:
    """Keyed blind index of an openid (how bindings are looked up)."""
    return WeChatBinding.index_of(openid)


def wechat_openids_for(customer_ids: Iterable[int]) -> list[str]:
    """Every openid bound to the people of these customers (by their ID numbers), each once, oldest
    binding first; [] when none is bound."""
    ids = [pk for pk in customer_ids if pk is not None]
    if not ids:
        return []
    people = Customer.objects.filter(pk__in=ids).values("id_number_index")
    seen: set[str] = set()
    openids: list[str] = []
    for binding in WeChatBinding.objects.filter(customer__id_number_index__in=people).order_by("pk"):
        if binding.openid_index not in seen:
            seen.add(binding.openid_index)
            openids.append(binding.openid)
    return openids


def wechat_people_of(openid: str) -> list[str]:
    """The ID-number blind indexes of the people bound to an openid."""
    return list(
        # No ordering: an ORDER BY column would enter the DISTINCT and keep a person twice.
        WeChatBinding.objects.filter(openid_index=openid_index_of(openid))
        .order_by()
        .values_list("customer__id_number_index", flat=True)
        .distinct()
    )
