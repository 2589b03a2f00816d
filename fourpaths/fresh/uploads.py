"""Reading a document a visitor adds: its name made safe, its bytes decoded, its text checked."""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

from fourpaths.errors import FourpathsError

MAX_DOCUMENT_BYTES = 200_000  # about 30,000 words: a long policy, not a book
MAX_DOCUMENTS = 20  # per session: each costs memory for its vectors and in every search
# Passages one document may make: ~35,000 words at the default chunking. Each is embedded (about 20 ms of a core)
# and searched with every question; 100,000 one-letter lines (200 KB) made 2,858 and took 42-80 s to embed.
MAX_PASSAGES = 1000
# Byte-order marks, longest first (UTF-32's begin with UTF-16's): a file that starts with one says its encoding.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
TEXT_EXTENSIONS = (".md", ".txt")
CONTROL_SHARE = 0.05  # more control characters than this (tabs and newlines aside) is not text


# ---------------------------------------------------------------------------
# Reading a document


def clean_name(name: str, default: str) -> str:
    """The file's own name (no folders), in safe characters, with a .md or .txt ending."""
    base = Path(str(name or "").replace("\\", "/")).name.strip()
    base = re.sub(r"[^A-Za-z0-9._ -]+", "-", base).strip(" .-") or default
    return base if base.lower().endswith(TEXT_EXTENSIONS) else f"{base}.md"


def decode_text(name: str, data: bytes) -> str:
    """The text of an uploaded file, or FourpathsError with the one-line reason it cannot be added."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        raise FourpathsError(f"{name}: PDF files are not read (no PDF library is installed); paste the text, or "
                             "save it as .txt or .md")
    if suffix not in TEXT_EXTENSIONS:
        raise FourpathsError(f"{name}: unsupported file type {suffix or '(no extension)'!r}; add a .md or .txt file")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FourpathsError(f"{name}: {len(data):,} bytes is over the limit of {MAX_DOCUMENT_BYTES:,} bytes "
                             "(about 30,000 words)")
    if not data.strip():
        raise FourpathsError(f"{name}: the file is empty")
    encoding = next((encoding for bom, encoding in BOMS if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data:
        raise FourpathsError(f"{name}: this is a binary file, not text (it holds NUL bytes; UTF-16 text without a "
                             "byte-order mark reads the same: save it as UTF-8)")
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError as error:
        described = (encoding or "UTF-8").upper().replace("-SIG", "")
        raise FourpathsError(f"{name}: not {described} text (undecodable byte 0x{data[error.start]:02x} at "
                             f"position {error.start:,}); save it as UTF-8") from None


def check_text(name: str, text: str) -> str:
    """Pasted or decoded text, checked: not empty, not over the limit, not binary-looking."""
    if not text or not text.strip():
        raise FourpathsError(f"{name}: the text is empty")
    size = len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise FourpathsError(f"{name}: {size:,} bytes is over the limit of {MAX_DOCUMENT_BYTES:,} bytes "
                             "(about 30,000 words)")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f") + text.count("\ufffd")
    if "\x00" in text or control > CONTROL_SHARE * len(text):
        raise FourpathsError(f"{name}: this looks like a binary file, not text ({control:,} control characters)")
    return text.replace("\r\n", "\n")


def text_digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()
