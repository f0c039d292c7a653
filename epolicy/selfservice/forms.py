"""The form of each change item (data/item_forms.yaml), turned into the engine's parameters.

One definition serves the customer's pages, the self-service API and the staff console. Input is
checked strictly — amounts are plain ASCII decimals with at most two places, integers ASCII digits —
and every bad field is reported at once with a Chinese message (like the engine's `Reader`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from epolicy.common.errors import ApplicationError
from epolicy.common.identifiers import validate_bank_card, validate_postcode
from epolicy.rules.life import ITEM_NAMES, PolicyState
from epolicy.rules.life.catalogue import LifeCatalogue
from epolicy.rules.life.items.payment import REGULAR
from epolicy.rules.life.vocab import DIVIDEND_OPTION_NAMES, SURVIVAL_OPTION_NAMES

FORMS_PATH = Path(__file__).with_name("data") / "item_forms.yaml"
VOCABULARIES: dict[str, dict[str, str]] = {
    "payment_frequency": dict(REGULAR),
    "dividend_option": {str(k): v for k, v in DIVIDEND_OPTION_NAMES.items()},
    "survival_option": {str(k): v for k, v in SURVIVAL_OPTION_NAMES.items()},
}
TYPES = {"text", "postcode", "amount", "integer", "choice", "bank_account", "health"}
AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")  # ASCII only: no １２３, no ١٢٣, no 1e26
INTEGER = re.compile(r"^[0-9]{1,6}$")
# Filled by the server, never by the customer: the account token comes from the real-name check.
ACCOUNT_TOKEN_PENDING = "pending-realname-check"  # noqa: S105 — a placeholder, not a secret


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    required: bool = True
    max_length: int = 200
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    holder: str = ""  # bank_account: whose name the account must be in (applicant | survival_payee)
    required_when: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class ItemForm:
    item: str
    fields: tuple[FieldSpec, ...]

    @property
    def needs_bank_card(self) -> bool:
        return any(f.type == "bank_account" for f in self.fields)


@dataclass
class FormResult:
    params: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    bank_card: str = ""  # the clear card number of a bank_account field (for the real-name check)

    def problem(self, name: str, message: str) -> None:
        self.problems.append({"field": name, "message": message})


def _spec(raw: dict[str, Any]) -> FieldSpec:
    kind = raw["type"]
    if kind not in TYPES:
        raise ValueError(f"unknown field type {kind!r}")
    choices: tuple[tuple[str, str], ...] = ()
    if kind == "choice":
        choices = tuple(VOCABULARIES[raw["choices"]].items())
    return FieldSpec(
        name=raw["name"],
        label=raw["label"],
        type=kind,
        required=bool(raw.get("required", True)),
        max_length=int(raw.get("max_length", 200)),
        placeholder=str(raw.get("placeholder", "")),
        choices=choices,
        holder=str(raw.get("holder", "")),
        required_when=tuple((raw.get("required_when") or {}).items()),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
    )


@cache
def _forms(path: str) -> dict[str, ItemForm]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    forms = {
        item: ItemForm(item, tuple(_spec(f) for f in (spec.get("fields") or [])))
        for item, spec in raw.items()
    }
    if set(forms) != set(ITEM_NAMES):
        missing, unknown = sorted(set(ITEM_NAMES) - set(forms)), sorted(set(forms) - set(ITEM_NAMES))
        raise ValueError(f"item forms: missing {missing}, unknown {unknown}")
    return forms


def item_form(item: str) -> ItemForm:
    forms = _forms(str(FORMS_PATH))
    if item not in forms:
        raise ApplicationError("not_found", "没有这个保全项目。", {"item": item})
    return forms[item]


def holder_name(spec: FieldSpec, state: PolicyState) -> str:
    """Whose name a bank account of this field must be in."""
    if spec.holder == "survival_payee":
        payee = state.survival_beneficiary or state.insured
        return payee.name
    return state.applicant.name


def health_questions(state: PolicyState, catalogue: LifeCatalogue) -> tuple[tuple[str, str], ...]:
    """The product's health questions of reinstatement (code, text)."""
    terms = catalogue.product(state.product_code).terms_for(state.effective_date)
    return tuple((q.code, q.text_zh) for q in terms.health_questions)


def form_context(item: str, state: PolicyState, catalogue: LifeCatalogue) -> dict[str, Any]:
    """What a page needs to draw the item's fields (the partial selfservice/_item_fields.html)."""
    form = item_form(item)
    bank = next((f for f in form.fields if f.type == "bank_account"), None)
    return {
        "form": form,
        "questions": health_questions(state, catalogue)
        if any(f.type == "health" for f in form.fields)
        else (),
        "holder": holder_name(bank, state) if bank else "",
        "holder_role": "生存金领取人" if bank and bank.holder == "survival_payee" else "投保人",
    }


def parse_or_refuse(
    item: str, data: dict[str, Any], *, state: PolicyState, catalogue: LifeCatalogue
) -> FormResult:
    """`parse_item_form`, every problem raised at once as one coded refusal naming the fields."""
    result = parse_item_form(item, data, state=state, catalogue=catalogue)
    if result.problems:
        listed = "；".join(p["message"] for p in result.problems[:6])
        raise ApplicationError("validation_error", f"请修改后重试：{listed}", {"fields": result.problems})
    return result


def posted_fields(post: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """A posted form's fields as typed (to show again) and as data for `parse_item_form`."""
    values = {k: v for k, v in post.items() if k != "csrfmiddlewaretoken"}
    data: dict[str, Any] = dict(values)
    health = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("health_declaration.")}
    if health:
        data["health_declaration"] = {k: v == "yes" for k, v in health.items()}
    return values, data


def _applies(spec: FieldSpec, data: dict[str, Any]) -> bool:
    return (
        all(str(data.get(k, "")).strip() == v for k, v in spec.required_when) if spec.required_when else True
    )


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    # Control characters have no place in a form field (they would end up on the e-endorsement).
    return "".join(ch for ch in text if ch in "\n" or ch.isprintable()).strip()


def parse_item_form(
    item: str, data: dict[str, Any], *, state: PolicyState, catalogue: LifeCatalogue
) -> FormResult:
    """Check the submitted fields of `item` and build the engine's parameters (every problem at once)."""
    form = item_form(item)
    result = FormResult()
    for spec in form.fields:
        if spec.required_when and not _applies(spec, data):
            continue
        name = spec.name
        if spec.type == "bank_account":
            _bank_account(spec, data, state, result)
            continue
        if spec.type == "health":
            _health(spec, data, state, catalogue, result)
            continue
        value = _text(data.get(name))
        if not value:
            if spec.required:
                result.problem(name, f"请填写{spec.label}。")
            continue
        if spec.type == "text":
            if len(value) > spec.max_length:
                result.problem(name, f"{spec.label}不超过 {spec.max_length} 个字。")
                continue
            result.params[name] = value
        elif spec.type == "postcode":
            try:
                result.params[name] = validate_postcode(value, field=name)
            except ApplicationError as exc:
                result.problem(name, exc.message_zh)
        elif spec.type == "amount":
            if not AMOUNT.match(value):
                result.problem(name, f"{spec.label}须为数字金额（如 1000 或 1000.50），最多两位小数。")
                continue
            result.params[name] = value
        elif spec.type == "integer":
            if not INTEGER.match(value):
                result.problem(name, f"{spec.label}须为整数。")
                continue
            number = int(value)
            if (spec.minimum is not None and number < spec.minimum) or (
                spec.maximum is not None and number > spec.maximum
            ):
                result.problem(name, f"{spec.label}须在 {spec.minimum}–{spec.maximum} 之间。")
                continue
            result.params[name] = number
        elif spec.type == "choice":
            allowed = dict(spec.choices)
            if value not in allowed:
                result.problem(name, f"请选择{spec.label}：{'、'.join(allowed.values())}。")
                continue
            result.params[name] = value
    return result


def _bank_account(spec: FieldSpec, data: dict[str, Any], state: PolicyState, result: FormResult) -> None:
    bank = _text(data.get("bank_name"))
    card = _text(data.get("card_number")).replace(" ", "")
    if not bank:
        result.problem("bank_name", "请填写开户银行。")
    elif len(bank) > 40:
        result.problem("bank_name", "开户银行不超过 40 个字。")
    try:
        card = validate_bank_card(card, field="card_number")
    except ApplicationError as exc:
        result.problem("card_number", exc.message_zh)
        card = ""
    if bank and card:
        result.params.update(
            holder_name=holder_name(spec, state),
            bank_name=bank,
            card_number=card,
            account_token=ACCOUNT_TOKEN_PENDING,
        )
        result.bank_card = card


def _health(
    spec: FieldSpec, data: dict[str, Any], state: PolicyState, catalogue: LifeCatalogue, result: FormResult
) -> None:
    answers: dict[str, bool] = {}
    given = data.get(spec.name)
    raw: dict[str, Any] = given if isinstance(given, dict) else {}
    for code, text in health_questions(state, catalogue):
        value = raw.get(code, data.get(f"{spec.name}.{code}"))
        if isinstance(value, bool):
            answers[code] = value
        elif str(value).strip() in ("yes", "no"):
            answers[code] = str(value).strip() == "yes"
        else:
            result.problem(f"{spec.name}.{code}", f"请回答：{text}")
    if len(answers) == len(health_questions(state, catalogue)):
        result.params[spec.name] = answers


def form_values_for_display(item: str, params: dict[str, Any]) -> dict[str, Any]:
    """What to put back into the form fields (the card number masked is not put back)."""
    values = dict(params)
    values.pop("account_token", None)
    return values
