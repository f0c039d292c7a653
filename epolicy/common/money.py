"""Money is Decimal CNY, rounded to the fen (0.01) half-up only where a rule says so."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def to_fen(amount: Decimal | int | str) -> Decimal:
    """Round an amount to the fen, half up (the rounding insurers print on documents)."""
    return Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP)


def fen_int(amount: Decimal) -> int:
    """Whole fen as an integer (what payment gateways exchange)."""
    return int(to_fen(amount) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def fmt_cny(amount: Decimal) -> str:
    """'1,234.50' for display; the currency is said by the label next to it."""
    return f"{to_fen(amount):,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_SECTIONS = ["", "万", "亿", "兆"]


def cny_upper(amount: Decimal) -> str:
    """Amount in Chinese capital figures as printed on policies, e.g. 665.00 -> 人民币陆佰陆拾伍元整."""
    amount = to_fen(amount)
    if amount < 0:
        raise ValueError("negative amount")
    fen_total = int(amount * 100)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    parts: list[str] = []
    if yuan == 0:
        parts.append("零元")
    else:
        groups: list[int] = []
        while yuan:
            yuan, g = divmod(yuan, 10000)
            groups.append(g)
        text = ""
        zero_pending = False
        for idx in range(len(groups) - 1, -1, -1):
            g = groups[idx]
            if g == 0:
                zero_pending = bool(text)
                continue
            if text and (zero_pending or g < 1000):
                text += "零"
            zero_pending = False
            digits = f"{g:04d}" if text else str(g)
            sub = ""
            inner_zero = False
            for pos, ch in enumerate(digits):
                d = int(ch)
                unit = _UNITS[len(digits) - pos - 1]
                if d == 0:
                    inner_zero = bool(sub)
                    continue
                if inner_zero:
                    sub += "零"
                    inner_zero = False
                sub += _DIGITS[d] + unit
            text += sub + _SECTIONS[idx]
        parts.append(text + "元")
    if jiao == 0 and fen == 0:
        parts.append("整")
    else:
        if jiao:
            parts.append(_DIGITS[jiao] + "角")
        elif fen:
            parts.append("零")
        if fen:
            parts.append(_DIGITS[fen] + "分")
    return "人民币" + "".join(parts)
