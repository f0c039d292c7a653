"""Fixed-layout documents: the e-application form, the e-policy and the read-before-sign bundle.

The renderers take frozen dataclasses of display-ready strings (``model``) and return PDF bytes with
every font embedded and subset, so a document looks the same on every reader (motor standard 4.2.3, 4.3.3).
"""

from epolicy.documents.model import (
    ApplicationFormData,
    EPolicyData,
    Field,
    InsurerInfo,
    RenderedDocument,
    Section,
    Table,
    document_keywords,
    parse_document_keywords,
)

__all__ = [
    "ApplicationFormData",
    "EPolicyData",
    "Field",
    "InsurerInfo",
    "RenderedDocument",
    "Section",
    "Table",
    "document_keywords",
    "parse_document_keywords",
]
