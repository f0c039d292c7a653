"""Form fields of an endorsement request, read into the `changes` the services check."""

from __future__ import annotations

from typing import Any


def changes_from_form(kind: str, post: Any) -> dict[str, Any]:
    """The `changes` of an endorsement of `kind` from a submitted form (the policyholder's page and the
    staff console share the fields: templates portal/endorse/_change_fields.html)."""
    if kind == "contact":
        return {k: post.get(k, "").strip() for k in ("phone", "email", "address") if post.get(k, "").strip()}
    if kind == "plate":
        return {"plate": post.get("plate", "")}
    if kind == "vehicle":
        return {
            k: post.get(k, "").strip()
            for k in ("vin", "engine_number", "brand_model")
            if post.get(k, "").strip()
        }
    if kind == "transfer":
        return {
            "new_owner": {
                "name": post.get("owner_name", ""),
                "id_type": post.get("owner_id_type", "resident_id"),
                "id_number": post.get("owner_id_number", ""),
                "phone": post.get("owner_phone", ""),
            }
        }
    if kind == "cancel":
        return {"ground": post.get("ground", "")}
    if kind == "coverage":
        add: dict[str, Any] = {"code": post.get("add_code", "").strip()}
        for name in ("parent", "amount", "days", "daily_amount", "seats", "rate"):
            value = post.get(f"add_{name}", "").strip()
            if value:
                add[name] = value  # text as typed: the request's check (CoverageIn) reads the numbers
        return {"remove": post.getlist("remove"), "add": [add] if add["code"] else []}
    return {}
