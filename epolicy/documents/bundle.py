"""The read-before-sign bundle of the e-application (组合文件), motor standard 4.2.4 b.

Six fixed texts shipped as Markdown in ``texts/`` (the seventh document, the application form itself, is
generated per application by ``application_form``). Each file starts with a front matter block giving its
title and version; the SHA-256 is of the UTF-8 text after it, so a reader can prove which text was read.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Display order: as listed in motor standard 4.2.4 b.
BUNDLE_CODES: tuple[str, ...] = (
    "ctpl_terms",
    "floating_notice",
    "exclusions",
    "realname_payment_authorization",
    "privacy_policy",
    "pi_processing_authorization",
)
# Product texts read only by applications that buy the product (products/data/motor_products.yaml).
PRODUCT_TEXT_CODES: tuple[str, ...] = ("commercial_terms", "nev_commercial_terms")
APPLICATION_FORM_CODE = "application_form"

_FRONT_MATTER = re.compile(r"\A---\n(?P<head>.*?)\n---\n", re.DOTALL)


@dataclass(frozen=True)
class BundleDocument:
    """One document of the bundle: its text (Markdown) and the SHA-256 of that text."""

    code: str
    title: str
    version: str
    text_markdown: str
    sha256: str

    @property
    def short_hash(self) -> str:
        """The first 16 hex digits of the SHA-256, as printed on the application form."""
        return self.sha256[:16]


def _parse(code: str, raw: str) -> BundleDocument:
    raw = raw.replace("\r\n", "\n")
    match = _FRONT_MATTER.match(raw)
    if match is None:
        raise ValueError(f"bundle text {code!r} has no front matter (--- title/version ---)")
    head: dict[str, str] = {}
    for line in match.group("head").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            head[key.strip()] = value.strip()
    missing = {"title", "version"} - head.keys()
    if missing:
        raise ValueError(f"bundle text {code!r} lacks {', '.join(sorted(missing))} in its front matter")
    text = raw[match.end() :].lstrip("\n")
    return BundleDocument(
        code=code,
        title=head["title"],
        version=head["version"],
        text_markdown=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


@lru_cache(maxsize=1)
def bundle_documents() -> tuple[BundleDocument, ...]:
    """The six fixed documents read before signing, in display order (motor standard 4.2.4 b)."""
    folder = resources.files("epolicy.documents").joinpath("texts")
    return tuple(
        _parse(code, folder.joinpath(f"{code}.md").read_text(encoding="utf-8")) for code in BUNDLE_CODES
    )


def text_document(package: str, code: str) -> BundleDocument:
    """A versioned text with front matter (title, version) shipped as ``texts/<code>.md`` in `package`."""
    raw = resources.files(package).joinpath("texts").joinpath(f"{code}.md").read_text(encoding="utf-8")
    return _parse(code, raw)


def bundle_document(code: str) -> BundleDocument:
    """One document by code (the six, or a product's clauses); KeyError for an unknown code (including
    ``application_form``)."""
    for document in bundle_documents():
        if document.code == code:
            return document
    if code in PRODUCT_TEXT_CODES:
        return _product_text(code)
    raise KeyError(code)


@lru_cache(maxsize=len(PRODUCT_TEXT_CODES))
def _product_text(code: str) -> BundleDocument:
    return text_document("epolicy.documents", code)


# --- a tiny Markdown subset to HTML ------------------------------------------------------------------

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> str:
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=True))


def render_markdown_html(text: str) -> str:
    """HTML for the Markdown subset of the bundle texts: ``#``/``##`` headings, paragraphs, ``-`` lists and
    ``**bold**``. Everything else is escaped, so the result is safe to put into a page."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("## "):
            flush()
            out.append(f"<h2>{_inline(stripped[3:].strip())}</h2>")
        elif stripped.startswith("# "):
            flush()
            out.append(f"<h1>{_inline(stripped[2:].strip())}</h1>")
        elif stripped.startswith("- "):
            if paragraph:
                flush()
            items.append(stripped[2:].strip())
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + stripped  # an indented line continues the list item
        else:
            if items:
                flush()
            paragraph.append(stripped)
    flush()
    return "\n".join(out)
