"""Upload bytes → plan text: .docx, or text in UTF-8 / UTF-16 / GB18030."""
from __future__ import annotations

from workflow.plans.parsing.docx import _docx_text
from workflow.plans.parsing.draft import PlanParseError


def read_plan_bytes(data: bytes, filename: str) -> str:
    """Upload bytes → plan text: .docx via python-docx (tables become measure lines), else UTF-8 or GB18030."""
    name = (filename or "").lower()
    if name.endswith(".docx"):
        return _docx_text(data)
    if name.endswith(".doc"):
        raise PlanParseError("不支持旧版 .doc 文件，请另存为 .docx (old .doc files are not supported)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise PlanParseError("文件编码无法识别 (cannot decode the file)") from None
    else:
        if b"\x00" in data:
            raise PlanParseError("文件不是文本文件 (binary data, not a text file)")
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise PlanParseError("文件编码无法识别，请使用 UTF-8 或 GB18030 (cannot decode the file)") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if "\x00" in text or controls > max(2, len(text) // 100):
        raise PlanParseError("文件不是文本文件 (binary data, not a text file)")
    return text
