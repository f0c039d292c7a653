"""The read-before-sign bundle (motor standard 4.2.4 b) and its Markdown-to-HTML converter."""

from __future__ import annotations

import hashlib

import pytest

from epolicy.documents.bundle import BundleDocument, bundle_document, bundle_documents, render_markdown_html
from epolicy.documents.fonts import missing_glyphs

EXPECTED_TITLES = {
    "ctpl_terms": "机动车交通事故责任强制保险条款（演示文本）",
    "floating_notice": "交强险费率浮动告知书",
    "exclusions": "责任免除事项说明书",
    "realname_payment_authorization": "实名缴费授权声明",
    "privacy_policy": "个人信息保护政策",
    "pi_processing_authorization": "个人信息处理授权书",
}

# The hashes are evidence of which text a policyholder read: a changed text must get a new version.
# If you edit a text on purpose, bump its version in the front matter and update the pin here.
PINNED = {
    "ctpl_terms": ("v1", "9fa058c9bfafbed1ded3f9a56c3c51d081334260d95fe8414ee09c845581e0a0"),
    "floating_notice": ("v1", "a9a93f7a7962f98887ea5991e6d64234473ff662f0c5c69052122370f36f7427"),
    "exclusions": ("v1", "b07ba1b645030d092080f42d64872ac4b65a52aa7ef00ff81e40d17f4d23283f"),
    "realname_payment_authorization": (
        "v1",
        "07c2d0a6481fc4f83ded9c6741d8c26ff5c3adc37d0c27b2fd051cc0e1be10eb",
    ),
    "privacy_policy": ("v1", "e4b9ab54de2b6f1ccef1f1876ef41f36dc80be0e674ae59881938f16db4cc3ef"),
    "pi_processing_authorization": ("v1", "a2cae770c2bbf9eadd2ec1b86ef58fe388a4924db4e851ab253109d2ec2b38d3"),
}


def test_six_documents_in_the_order_of_the_standard():
    documents = bundle_documents()
    assert [d.code for d in documents] == list(EXPECTED_TITLES)
    assert {d.code: d.title for d in documents} == EXPECTED_TITLES
    assert "application_form" not in {d.code for d in documents}


def test_sha256_is_of_the_utf8_text_and_pinned():
    for document in bundle_documents():
        assert document.sha256 == hashlib.sha256(document.text_markdown.encode("utf-8")).hexdigest()
        assert (document.version, document.sha256) == PINNED[document.code], document.code
        assert document.short_hash == document.sha256[:16]


def test_text_excludes_the_front_matter_and_starts_with_its_title():
    for document in bundle_documents():
        assert not document.text_markdown.startswith("---")
        assert "version:" not in document.text_markdown
        assert document.text_markdown.splitlines()[0] == f"# {document.title}"


def test_each_text_says_at_the_top_it_is_a_demo_to_be_replaced():
    for document in bundle_documents():
        opening = document.text_markdown.split("\n\n")[1]
        assert "演示文本" in opening and "替换" in opening, document.code


def test_each_text_is_substantial_and_printable_in_the_document_font():
    for document in bundle_documents():
        assert len(document.text_markdown) > 400, document.code
        assert missing_glyphs(document.text_markdown) == frozenset(), document.code


def test_lookup_by_code():
    assert bundle_document("exclusions").title == "责任免除事项说明书"
    assert isinstance(bundle_document("privacy_policy"), BundleDocument)
    with pytest.raises(KeyError):
        bundle_document("application_form")
    with pytest.raises(KeyError):
        bundle_document("nope")


def test_documents_are_frozen():
    with pytest.raises(AttributeError):
        bundle_documents()[0].title = "x"  # type: ignore[misc]


def test_markdown_subset():
    html = render_markdown_html("# 标题\n\n## 小节\n\n第一行\n第二行\n\n- 甲 **重点**\n- 乙\n\n结尾")
    assert html == (
        "<h1>标题</h1>\n<h2>小节</h2>\n<p>第一行 第二行</p>\n"
        "<ul><li>甲 <strong>重点</strong></li><li>乙</li></ul>\n<p>结尾</p>"
    )


def test_markdown_escapes_html():
    html = render_markdown_html(
        '# <script>alert(1)</script>\n\n<img src=x onerror=alert(1)> & "q"\n\n- **<b>x</b>**'
    )
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;" in html
    assert "<strong>&lt;b&gt;x&lt;/b&gt;</strong>" in html


def test_markdown_of_every_bundle_text_has_only_known_tags():
    import re

    for document in bundle_documents():
        html = render_markdown_html(document.text_markdown)
        tags = set(re.findall(r"</?([a-z0-9]+)", html))
        assert tags <= {"h1", "h2", "p", "ul", "li", "strong"}, (document.code, tags)
        assert html.startswith(f"<h1>{document.title}</h1>")
