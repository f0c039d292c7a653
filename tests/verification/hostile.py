"""Hand-built hostile PDFs for the verification tests (each one small to send, costly to read naively)."""

from __future__ import annotations

import io
import random
import zlib

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def pdf(objects: list[bytes], *, trailer: bytes = b"", info: int | None = None) -> bytes:
    """A classic PDF (xref table) with objects numbered 1..n; object 1 is the root."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    info_ref = b" /Info %d 0 R" % info if info else b""
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R%s %s>>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, info_ref, trailer, xref)
    )
    return out.getvalue()


def random_bytes(size: int = 200_000, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def pdf_header_then_noise(size: int = 200_000) -> bytes:
    return b"%PDF-1.7\n" + random_bytes(size)


def deep_nesting(depth: int = 200_000) -> bytes:
    """The document information dictionary (read for its keywords) nested `depth` arrays deep."""
    deep = b"<< /Keywords (epolicy-kind=policy) /X " + b"[" * depth + b"]" * depth + b" >>"
    return pdf([CATALOG, PAGES, PAGE, deep], info=4)


def deep_dictionaries(depth: int = 100_000) -> bytes:
    deep = b"<< /A " * depth + b"1" + b" >>" * depth
    return pdf([CATALOG, PAGES, PAGE, deep], info=4)


def huge_string(size: int = 9_000_000) -> bytes:
    """Keywords of 9 MB: the verifier reads the keywords of every document."""
    return pdf([CATALOG, PAGES, PAGE, b"<< /Keywords (" + b"A" * size + b") >>"], info=4)


def flate_bomb(decoded_mib: int = 200) -> bytes:
    """The catalog lives in an object stream that inflates to `decoded_mib` MiB (mostly zeros): reading
    the document at all means inflating it."""
    body = b"<< /Type /Catalog /Pages 2 0 R >>"
    header = b"1 0 "
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(header + body + b" ")]
    zeros = b"0" * (1024 * 1024)
    for _ in range(decoded_mib):
        chunks.append(compressor.compress(zeros))
    chunks.append(compressor.flush())
    stream = b"".join(chunks)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    offsets[2] = out.tell()
    out.write(b"2 0 obj\n" + PAGES + b"\nendobj\n")
    offsets[3] = out.tell()
    out.write(b"3 0 obj\n" + PAGE + b"\nendobj\n")
    offsets[4] = out.tell()
    out.write(
        b"4 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(stream))
    )
    out.write(stream + b"\nendstream\nendobj\n")
    xref_offset = out.tell()
    # Cross-reference stream, W [1 4 2]: type 2 for object 1 (in object stream 4, index 0).
    rows = [(0, 0, 65535), (2, 4, 0), (1, offsets[2], 0), (1, offsets[3], 0), (1, offsets[4], 0)]
    rows.append((1, xref_offset, 0))
    data = b"".join(t.to_bytes(1, "big") + f.to_bytes(4, "big") + g.to_bytes(2, "big") for t, f, g in rows)
    out.write(b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(data))
    out.write(data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset)
    return out.getvalue()


def circular() -> bytes:
    """Page tree that contains itself, an information dictionary that refers to itself, and a
    cross-reference chain whose /Prev points back at itself."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Outlines 4 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 /Parent 2 0 R >>",
        b"<< /Type /Page /Parent 3 0 R /Kids [2 0 R] >>",
        b"<< /First 4 0 R /Last 4 0 R /Next 4 0 R /Keywords 4 0 R >>",
    ]
    first = pdf(objects, info=4)
    xref = int(first.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    return first.replace(b"/Info 4 0 R ", b"/Info 4 0 R /Prev %d " % xref)


def many_signature_fields(count: int = 3000) -> bytes:
    objects = [b"", PAGES, PAGE]
    fields = []
    for i in range(count):
        objects.append(
            b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
            b"/ByteRange [0 10 20 2147483647] /Contents <3082> >>"
        )
        objects.append(
            b"<< /FT /Sig /T (S%d) /V %d 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>"
            % (i, len(objects))
        )
        fields.append(len(objects))
    refs = b" ".join(b"%d 0 R" % f for f in fields)
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [" + refs + b"] /SigFlags 3 >> >>"
    return pdf(objects)


def bogus_signature() -> bytes:
    """One signature field whose byte range points far beyond the file and whose contents are junk."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>",
        PAGES,
        PAGE,
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
        b"/ByteRange [0 99999999999 -5 2147483647] /Contents <" + b"ff" * 4096 + b"> >>",
        b"<< /FT /Sig /T (Seal) /V 4 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>",
    ]
    return pdf(objects)


def many_revisions(count: int) -> bytes:
    """`count` incremental updates, each rewriting one object: parsing them is linear but slow
    (about 0.1 ms each on the development machine), a real input that runs into the time limit."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    first = out.tell()
    out.write(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    second = out.tell()
    out.write(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    prev = out.tell()
    out.write(
        b"xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n"
        b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (first, second, prev)
    )
    for _ in range(count):
        offset = out.tell()
        out.write(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
        xref = out.tell()
        out.write(
            b"xref\n2 1\n%010d 00000 n \n"
            b"trailer\n<< /Size 3 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (offset, prev, xref)
        )
        prev = xref
    return out.getvalue()
