"""Chinese and full-width numerals as they appear in outline markers."""
from __future__ import annotations

import re

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９％", "0123456789%")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_NUM = "零〇一二三四五六七八九十百两"


def _cn_to_int(s: str) -> int | None:
    """'十二' → 12, '3' → 3; None for anything else (markers are short, so no need for 千/万)."""
    if re.fullmatch(r"[0-9]+", s):
        return int(s)
    total, digit = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch == "十":
            total += (digit or 1) * 10
            digit = 0
        elif ch == "百":
            total += (digit or 1) * 100
            digit = 0
        else:
            return None
    return total + digit


def _int_to_cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 0 or n >= 100:
        return str(n)
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
