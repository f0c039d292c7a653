"""What follows the last signature: proven validation data and document timestamps, or something else.

A signature covers the bytes of its revision; whatever a file has after the last signature's revision is
covered by no signature of a signer (a document timestamp covers it only as a TSA's proof of time). PAdES
B-LTA adds such revisions on purpose — the validation data (DSS, VRI) and document timestamps — and
pyHanko's difference analysis judges what they change in the document. That analysis leaves out what a
reader never shows, which is what this module checks, so that "genuine and unchanged" is only said when
every byte is covered by a signature or proven to be validation data or a document timestamp:

- **bytes**: everything after the last signature's byte range must be an object of a later revision, its
  cross-reference section, trailer, `startxref` and `%%EOF`, with only white space between them (not a
  payload after `%%EOF`, not bytes between two revisions, not a half revision left by a cut);
- **objects nothing references**: each object a later revision adds must be reachable from its trailer
  (pyHanko clears orphaned objects at its lowest level: invisible, but not validation data);
- **revisions without a document timestamp of their own** (DSS updates) may change only the catalog's
  /DSS and /Extensions, objects reached from /DSS, and /Info's /ModDate and /Producer;
- **document-timestamp revisions** may change /Info only in /ModDate and /Producer (pyHanko's timestamper
  sets them) and must not touch the XMP metadata; the rest is judged by the difference analysis.

`unsigned_additions` returns one plain Chinese sentence per finding (empty: nothing unproven).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef, XRefSectionType, read_object_header
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

# What may stand between the parts of a revision (and after the last %%EOF): white space and padding.
WHITESPACE = b" \t\r\n\x00\x0c"
# /Info entries a timestamping or DSS-writing tool updates (pyHanko sets both).
INFO_KEYS_ALLOWED = frozenset({"/ModDate", "/Producer"})
# Catalog entries a DSS update may change (ISO 32000-2 §12.8.4.3; /Extensions declares the ESIC level).
ROOT_KEYS_ALLOWED = frozenset({"/DSS", "/Extensions"})
# XMP properties a timestamping tool updates (pyHanko rewrites the packet with these; {ns}name).
XMP_KEYS_ALLOWED = frozenset(
    {
        "{http://ns.adobe.com/xap/1.0/}ModifyDate",
        "{http://ns.adobe.com/xap/1.0/}MetadataDate",
        "{http://ns.adobe.com/pdf/1.3/}Producer",
        "{adobe:ns:meta/}xmptk",
    }
)
MAX_XMP_BYTES = 256 * 1024
# How many objects a finding names before "等 N 个".
MAX_NAMED = 8
_WS = rb"[ \t\r\n\x00\x0c]"
_TRAILER_END = re.compile(_WS + rb"*startxref" + _WS + rb"+\d+" + _WS + rb"*%%EOF(\r\n|\r|\n)?")
_ENDOBJ = re.compile(_WS + rb"*endobj")
_TRAILER_KEYWORD = re.compile(_WS + rb"*trailer")


@dataclass(frozen=True)
class Finding:
    """Something after the last signature that is not proven validation data: where, and what."""

    offset: int  # where in the file it is (a revision's cross-reference section, or the first stray byte)
    message_zh: str


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


def unsigned_additions(
    data: bytes,
    reader: PdfFileReader,
    last_signature: EmbeddedPdfSignature,
    document_timestamps: Iterable[EmbeddedPdfSignature],
) -> tuple[Finding, ...]:
    """Findings about what follows `last_signature` (the last /Sig): nothing unproven gives ()."""
    xrefs = reader.xrefs
    signed_revision = last_signature.signed_revision
    stamped = {ts.signed_revision for ts in document_timestamps}
    covered_end = min(byte_range_end(last_signature), len(data))
    findings: list[Finding] = []
    spans: list[_Span] = []
    for revision in range(signed_revision + 1, xrefs.total_revisions):
        k = revision - signed_revision
        at = xrefs.get_xref_container_info(revision).start_location

        def found(message: str, at: int = at) -> None:
            findings.append(Finding(at, message))

        spans.extend(_revision_spans(data, reader, revision))
        hist = reader.get_historical_resolver(revision)
        prev = reader.get_historical_resolver(revision - 1)
        refs = hist.explicit_refs_in_revision()
        orphans = _orphans(hist, prev, refs)
        if orphans:
            found(
                f"签章后的第 {k} 次增量更新添加了对象 {_names(orphans)}，文件中没有任何地方引用它们，"
                f"{'只有存档时间戳覆盖，' if revision in stamped else ''}没有任何签章覆盖"
            )
        info_keys = _info_changes(hist, prev)
        if info_keys:
            found(f"签章后的第 {k} 次增量更新修改了文档属性 {'、'.join(info_keys)}，没有任何签章覆盖")
        metadata_changed = _metadata_changed(hist, prev)
        if metadata_changed:
            found(f"签章后的第 {k} 次增量更新修改了文档的 XMP 元数据，没有任何签章覆盖")
        if revision in stamped:
            continue
        root_keys = _root_changes(hist, prev) if hist.root_ref in refs else []
        if root_keys:
            found(
                f"签章后的第 {k} 次增量更新修改了文档目录的 {'、'.join(root_keys)}，"
                "不是验证数据，没有任何签章覆盖"
            )
        # pyHanko rewrites the XMP packet (dates, producer) whenever it writes: allowed when that is all.
        metadata = [] if metadata_changed else _metadata_ref(hist)
        allowed = {hist.root_ref, *_info_ref(hist), *_dss_objects(hist), *metadata}
        other = sorted(refs - allowed - orphans, key=lambda r: (r.idnum, r.generation))
        if other:
            found(
                f"签章后的第 {k} 次增量更新{_describe(hist, other)}，这些不是验证数据或存档时间戳，"
                "没有任何签章覆盖"
            )
    findings.extend(_stray_bytes(data, covered_end, spans))
    return tuple(findings)


# ---------------------------------------------------------------------------------------------------------
# Bytes


def byte_range_end(sig: EmbeddedPdfSignature) -> int:
    values = [int(v) for v in sig.byte_range]
    if len(values) != 4:
        return 0
    return max(values[0] + values[1], values[2] + values[3])


def _revision_spans(data: bytes, reader: PdfFileReader, revision: int) -> Iterator[_Span]:
    """Where the objects, the cross-reference section and the trailer of `revision` lie in the file."""
    xrefs = reader.xrefs
    stream = io.BytesIO(data)
    for ref in xrefs.explicit_refs_in_revision(revision):
        marker = xrefs.get_historical_ref(ref, revision)
        if isinstance(marker, int) and not isinstance(marker, ObjStreamRef):
            span = _object_span(stream, reader, marker)
            if span is not None:
                yield span
    meta = xrefs.get_xref_container_info(revision)
    start = meta.start_location
    if meta.xref_section_type == XRefSectionType.STREAM:
        end = _object_span(stream, reader, start)
        after = end.end if end is not None else None
    else:
        # start_location is after the `xref` keyword, which startxref points at.
        declared = meta.declared_startxref
        if declared < start and data[declared : declared + 4] == b"xref":
            start = declared
        after = _trailer_end(stream, reader, meta.end_location)
    if after is None:
        return
    match = _TRAILER_END.match(data, after)
    if match is not None:
        yield _Span(start, match.end())


def _object_span(stream: io.BytesIO, reader: PdfFileReader, offset: int) -> _Span | None:
    """`N G obj … endobj` at `offset`, or None when it does not read as one."""
    try:
        stream.seek(offset)
        idnum, generation = read_object_header(stream, strict=True)
        generic.read_object(stream, generic.Reference(idnum, generation, reader))
    except Exception:
        return None
    match = _ENDOBJ.match(stream.getvalue(), stream.tell())
    return _Span(offset, match.end()) if match is not None else None


def _trailer_end(stream: io.BytesIO, reader: PdfFileReader, xref_end: int) -> int | None:
    """Where the `trailer << … >>` after a cross-reference table ends."""
    data = stream.getvalue()
    match = _TRAILER_KEYWORD.match(data, xref_end)
    position = match.end() if match is not None else xref_end
    try:
        stream.seek(position)
        trailer = generic.read_object(stream, generic.TrailerReference(reader))
    except Exception:
        return None
    return stream.tell() if isinstance(trailer, generic.DictionaryObject) else None


def _stray_bytes(data: bytes, covered_end: int, spans: list[_Span]) -> Iterator[Finding]:
    """Bytes after the signed range that belong to no object or revision part (white space aside)."""
    position = covered_end
    gaps: list[tuple[int, int]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.start > position:
            gaps.append((position, span.start))
        position = max(position, span.end)
    if position < len(data):
        gaps.append((position, len(data)))
    last_eof = data.rfind(b"%%EOF")
    for start, end in gaps:
        chunk = data[start:end]
        if not chunk.strip(WHITESPACE):
            continue
        size = end - start
        if start >= last_eof:
            yield Finding(
                start,
                f"文件在最后一个完整修订之后还有 {size} 字节（第 {start}–{end - 1} 字节），"
                "不属于文件的任何对象，没有任何签章覆盖",
            )
        else:
            yield Finding(
                start,
                f"签章覆盖范围之后的第 {start}–{end - 1} 字节（共 {size} 字节）不属于文件的任何对象或修订，"
                "没有任何签章覆盖",
            )


# ---------------------------------------------------------------------------------------------------------
# Objects


def _orphans(
    hist: HistoricalResolver, prev: HistoricalResolver, refs: set[generic.Reference]
) -> set[generic.Reference]:
    """Objects new in this revision that nothing in it refers to (directly or through other new ones)."""
    new = {ref for ref in refs if prev.is_ref_unassignable(ref)}
    if not new:
        return set()
    reachable: set[generic.Reference] = set()
    roots: list[generic.PdfObject] = [hist.trailer_view]
    roots.extend(hist(ref) for ref in refs - new)
    for obj in roots:
        reachable |= hist.collect_dependencies(obj, since_revision=hist.revision)
        if new <= reachable:
            break
    return new - reachable


def _info_ref(hist: HistoricalResolver) -> list[generic.Reference]:
    value = hist.trailer_view.raw_get("/Info")
    return [value.reference] if isinstance(value, generic.IndirectObject) else []


def _metadata_ref(hist: HistoricalResolver) -> list[generic.Reference]:
    value = hist.root.raw_get("/Metadata") if "/Metadata" in hist.root else None
    return [value.reference] if isinstance(value, generic.IndirectObject) else []


def _info_dict(hist: HistoricalResolver) -> dict[str, object]:
    try:
        info = hist.trailer_view.raw_get("/Info")
        if isinstance(info, generic.IndirectObject):
            # Through the revision's own view: the reference alone would resolve to the newest version.
            info = hist.get_object(info.reference)
    except Exception:
        return {}
    if not isinstance(info, generic.DictionaryObject):
        return {}
    return {str(key): _plain(hist, info.raw_get(key)) for key in info}


def _info_changes(hist: HistoricalResolver, prev: HistoricalResolver) -> list[str]:
    """/Info entries this revision changed, other than the ones a timestamper sets."""
    old, new = _info_dict(prev), _info_dict(hist)
    changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    return sorted(key.lstrip("/") for key in changed - INFO_KEYS_ALLOWED)


def _root_changes(hist: HistoricalResolver, prev: HistoricalResolver) -> list[str]:
    old, new = prev.root, hist.root
    keys = {str(k) for k in old} | {str(k) for k in new}
    changed = [
        key
        for key in keys - ROOT_KEYS_ALLOWED
        if _plain(prev, old.raw_get(key) if key in old else None)
        != _plain(hist, new.raw_get(key) if key in new else None)
    ]
    return sorted(key.lstrip("/") for key in changed)


def _metadata_changed(hist: HistoricalResolver, prev: HistoricalResolver) -> bool:
    """Whether the XMP metadata says anything new, beyond the dates and producer a timestamper updates."""
    old, new = _xmp_facts(prev), _xmp_facts(hist)
    return old is None or new is None or old != new


def _xmp_facts(handler: HistoricalResolver) -> Counter[tuple[str, ...]] | None:
    """What the XMP metadata says, as a multiset of (element path, attribute or text, value), leaving out
    XMP_KEYS_ALLOWED; empty without metadata, None when it cannot be read."""
    facts: Counter[tuple[str, ...]] = Counter()
    root = handler.root
    if "/Metadata" not in root:
        return facts
    try:
        stream = root.get_value_as_reference("/Metadata").get_object()
        if not isinstance(stream, generic.StreamObject):
            return None
        raw = stream.read_data(DecodePurpose.XMP_METADATA)
        if len(raw) > MAX_XMP_BYTES:
            return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        tree = etree.fromstring(raw, parser=parser)
    except Exception:
        return None

    def walk(element: Any, path: tuple[str, ...]) -> None:
        if not isinstance(element.tag, str):  # comments, processing instructions, entities
            if isinstance(element, etree._Entity):
                facts[(*path, "#entity", str(element))] += 1
            return
        if element.tag in XMP_KEYS_ALLOWED:
            return
        here = (*path, str(element.tag))
        for key, value in element.attrib.items():
            if key not in XMP_KEYS_ALLOWED:
                facts[(*here, key, value)] += 1
        text = (element.text or "").strip()
        if text:
            facts[(*here, "#text", text)] += 1
        for child in element:
            walk(child, here)

    walk(tree, ())
    return facts


def _dss_objects(hist: HistoricalResolver) -> set[generic.Reference]:
    root = hist.root
    if "/DSS" not in root:
        return set()
    dss = root.raw_get("/DSS")
    found = hist.collect_dependencies(dss)
    if isinstance(dss, generic.IndirectObject):
        found.add(dss.reference)
    return found


def _plain(handler: HistoricalResolver, value: object, depth: int = 0) -> object:
    """A comparable form of a direct value: references by number (not followed), containers by content."""
    if depth > 16:
        return "…"
    if isinstance(value, generic.IndirectObject):
        return ("ref", value.reference.idnum, value.reference.generation)
    if isinstance(value, generic.DictionaryObject):
        return tuple(sorted((str(k), _plain(handler, value.raw_get(k), depth + 1)) for k in value))
    if isinstance(value, generic.ArrayObject):
        return tuple(_plain(handler, v, depth + 1) for v in value)
    if isinstance(value, bytes | str):
        return value if isinstance(value, str) else bytes(value)
    return repr(value)


_KINDS = {
    "/Page": "页面",
    "/Pages": "页面树",
    "/Annot": "批注",
    "/Font": "字体",
    "/XObject": "图像或表单对象",
    "/Sig": "签名",
    "/DocTimeStamp": "时间戳",
    "/Catalog": "文档目录",
    "/AcroForm": "表单",
    "/Metadata": "元数据",
    "/ObjStm": "对象流",
    "/XRef": "交叉引用流",
}


def _describe(hist: HistoricalResolver, refs: list[generic.Reference]) -> str:
    """ "修改了对象 12（页面）、35（数据流）" — what the objects are, as far as their /Type says."""
    parts = []
    for ref in refs[:MAX_NAMED]:
        try:
            obj = hist(ref)
        except Exception:
            obj = None
        kind = None
        if isinstance(obj, generic.DictionaryObject):
            type_ = obj.get("/Type") if "/Type" in obj else None
            kind = _KINDS.get(str(type_)) if type_ is not None else None
            if kind is None and isinstance(obj, generic.StreamObject):
                kind = "数据流（可能是页面内容）"
        parts.append(f"{ref.idnum}（{kind}）" if kind else str(ref.idnum))
    more = f" 等 {len(refs)} 个" if len(refs) > MAX_NAMED else ""
    return f"添加或修改了对象 {'、'.join(parts)}{more}"


def _names(refs: Iterable[generic.Reference]) -> str:
    ordered = sorted(refs, key=lambda r: (r.idnum, r.generation))
    names = "、".join(str(r.idnum) for r in ordered[:MAX_NAMED])
    return names + (f" 等 {len(ordered)} 个" if len(ordered) > MAX_NAMED else "")
