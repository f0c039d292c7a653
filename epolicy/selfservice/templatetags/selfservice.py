"""Template helpers of the self-service pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """mapping[key] in a template ({{ values|get_item:field.name }}); "" when absent."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
