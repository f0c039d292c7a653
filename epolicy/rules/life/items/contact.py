"""联系地址变更 and 邮编变更: contact details of the policy (life guide §5), effective on the day asked."""

from __future__ import annotations

from dataclasses import replace

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_postcode

from ..contract import ContactAddress, Refusal
from ..dates import zh_date
from .base import NOT_ENDED, Context, Draft, ItemRule, Outcome, Params, Reader, from_error, line, refuse

ADDRESS_MAX = 120
ADDRESS_MIN = 6


def _postcode(reader: Reader, name: str, *, required: bool) -> str | None:
    raw = reader.text(name, "邮政编码", max_length=12, required=required)
    if raw is None:
        return None
    try:
        return validate_postcode(raw, field=name)
    except ApplicationError as exc:
        reader.refusals.append(from_error(exc))
        return None


def _no_check(ctx: Context) -> list[Refusal]:
    return []


def build_address(ctx: Context, params: Params) -> Outcome:
    reader = Reader(params)
    address = reader.text("address", "联系地址", max_length=ADDRESS_MAX)
    if address is not None and len(address) < ADDRESS_MIN:
        reader.bad("address", "联系地址过短，请填写省、市、区（县）及街道门牌号。")
        address = None
    old = ctx.state.contact
    postcode = _postcode(reader, "postcode", required=False) or old.postcode
    if reader.refusals or address is None:
        return tuple(reader.refusals)
    if address == old.address and postcode == old.postcode:
        return (refuse("address_unchanged", "新地址与原地址相同，无需变更。", field="address"),)
    new = ContactAddress(address=address, postcode=postcode)
    lines = [f"自{zh_date(ctx.on)}起，保单联系地址变更为：{address}。"]
    display = [line("联系地址", old.address, address)]
    if postcode != old.postcode:
        lines.append(f"自{zh_date(ctx.on)}起，邮政编码由{old.postcode}变更为{postcode}。")
        display.append(line("邮政编码", old.postcode, postcode))
    return Draft(
        effective_date=ctx.on,
        new_state=replace(ctx.state, contact=new),
        display=tuple(display),
        endorsement_lines=tuple(lines),
    )


def build_postcode(ctx: Context, params: Params) -> Outcome:
    reader = Reader(params)
    postcode = _postcode(reader, "postcode", required=True)
    if reader.refusals or postcode is None:
        return tuple(reader.refusals)
    old = ctx.state.contact
    if postcode == old.postcode:
        return (refuse("postcode_unchanged", "新邮编与原邮编相同，无需变更。", field="postcode"),)
    return Draft(
        effective_date=ctx.on,
        new_state=replace(ctx.state, contact=replace(old, postcode=postcode)),
        display=(line("邮政编码", old.postcode, postcode),),
        endorsement_lines=(f"自{zh_date(ctx.on)}起，邮政编码由{old.postcode}变更为{postcode}。",),
    )


ADDRESS_CHANGE = ItemRule("address_change", "联系地址变更", NOT_ENDED, _no_check, build_address)
POSTCODE_CHANGE = ItemRule("postcode_change", "邮编变更", NOT_ENDED, _no_check, build_postcode)
