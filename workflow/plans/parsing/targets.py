"""Quantified targets: a figure after a target verb, governed by a target year; project sizes are not targets."""
from __future__ import annotations

import bisect
import re

from workflow.plans.parsing.draft import TargetDraft
from workflow.plans.parsing.text import _quoted_spans

_UNITS = (r"%|‰|个百分点|个工作日|工作日|微克/立方米|毫克/立方米|(?:[万亿千百]?(?:千瓦时|千瓦|兆瓦|吉瓦|瓦时|千伏|伏|吨标准煤|吨标煤|吨二氧化碳|吨|立方米|"
          r"平方米|平方公里|公里|千米|米|公顷|亩|元|户|人次|人|个|家|座|辆|台|套|处|项|所|条|张|株|棵|头|件|批|次|倍|"
          r"小时|天|千克|公斤|标准箱|部|度|名|位))|万|亿")
_CAPACITY_UNITS = re.compile(r"瓦|伏|吨|米|公里|亩|公顷|^$|^[万亿]$")
_STATE_VERBS = (r"压缩至|压缩到|压减至|压减到|缩短至|缩短到|提高到|提高至|提升到|提升至|增加到|增加至|增长到|增长至|降低到|降低至|下降到|下降至|减少到|减少至|降至|降到|"
                r"控制在|控制到|保持在|稳定在|维持在|不低于|不少于|不超过|不高于|低于|高于|超过|突破|至少|达到|达|具备|具有")
_CHANGE_VERBS = r"下降|降低|减少|提高|提升|增长|增加"
_COUNT_VERBS = r"新增|建成|累计|完成|培育|创建|打造"
_TARGET_RE = re.compile(
    rf"(?P<verb>{_STATE_VERBS}|{_CHANGE_VERBS}|{_COUNT_VERBS})"
    r"(?P<gap>[^0-9，,。；;、：:！？!?\n]{0,10}?)"
    r"(?P<mid>约|近|超过|超|逾|了|为)?\s*"
    r"(?P<num>[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*"
    rf"(?P<unit>{_UNITS})?"
    r"(?P<post>及以上|以上|以下|以内|之内|左右|上下)?")
_VERB_IN_GAP = re.compile(rf"{_STATE_VERBS}|{_CHANGE_VERBS}|{_COUNT_VERBS}")
_CHAIN_RE = re.compile(rf"\s*[、和及]\s*(?P<num>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>{_UNITS})?"
                       r"(?P<post>及以上|以上|以下|以内|之内|左右|上下)?")
_YEAR_RE = re.compile(r"(?P<pre>到|至|截至|截止到?|于|在)?\s*(?P<y>(?:19|20)[0-9]{2})\s*年"
                      r"(?P<post>底|末|年底|年末|前|以前|之前|内|度)?")
# A horizon relative to a stated year: '2012年起5年内', '从2024年开始，用3年时间' (the years counted inclusively).
_RELATIVE_RE = re.compile(r"(?:从|自)?(?P<y>(?:19|20)[0-9]{2})\s*年(?:起|开始)[，,]?\s*(?:用|力争用|再用)?\s*"
                          r"(?P<n>[0-9]{1,2}|[一二三四五六七八九十])\s*年(?:内|时间|左右)?")
_FIVE_YEAR_RE = re.compile(r"(?P<pre>到)?[“\"]?十(?P<n>[一二三四五六])五[”\"]?(?P<post>时期|期间|末|期末|规划期末)?")
_PROJECT_NOUN = re.compile(r"项目|工程|机组|电站|变电站|线路|专线|基地")
_SENTENCE_RE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_ADVERB_HEAD = re.compile(r"^(?:[，,；;、：:\s]|和|及|并|且|同时|其中|力争|确保|争取|努力|预计|计划|要|将|使|推动|实现)+")
_ADVERB_TAIL = re.compile(r"(?:力争|确保|基本|全面|进一步|总体|分别|均|都|要|将|能够|可|逐步|稳步|持续|争取|努力|累计|"
                          r"整体|总量|总计|合计)+$")
_YEAR_HEAD = re.compile(r"^(?:到|至|截至|截止到?|在)?\s*(?:(?:19|20)[0-9]{2}\s*年(?:底|末)?(?:前|以前)?|[“\"]?十[一二三四五六]五[”\"]?"
                        r"(?:时期|期间|末|期末)?)[，,]?")


def _year_marks(sentence: str) -> list[tuple[int, int]]:
    """(end position, year) of the phrases that set a target year: 到2025年, 2025年底前, “十四五”末 …"""
    spans = _quoted_spans(sentence)
    marks = []
    for m in _YEAR_RE.finditer(sentence):
        if any(a <= m.start() < b for a, b in spans):
            continue
        before = sentence[max(0, m.start() - 3):m.start() + (len(m.group("pre")) if m.group("pre") else 0)]
        after = sentence[m.end():m.end() + 4]
        if not m.group("pre") and re.search(r"(?:比|较|与|同|相比|对比|相对|从|自)\s*$", before):
            continue
        if re.match(r"\s*(?:相比|比较|基础上|水平|的水平|以来|起|开始|为基)", after) or m.group("post") == "度":
            continue
        marks.append((m.end(), int(m.group("y"))))
    for m in _FIVE_YEAR_RE.finditer(sentence):
        if any(a <= m.start() < b for a, b in spans) or not (m.group("pre") or m.group("post")):
            continue
        n = 10 + "一二三四五六".index(m.group("n")) + 1
        marks.append((m.end(), 2010 + 5 * (n - 11)))
    for m in _RELATIVE_RE.finditer(sentence):
        span = m.group("n")
        years = int(span) if span.isdigit() else "一二三四五六七八九十".index(span) + 1
        if not any(a <= m.start() < b for a, b in spans) and years:
            marks.append((m.end(), int(m.group("y")) + years - 1))
    return sorted(marks)


def _governing_year(marks: list[tuple[int, int]], position: int) -> int | None:
    """The last target-year phrase ending before `position` (marks are sorted by end)."""
    k = bisect.bisect_right(marks, (position, 10_000))
    return marks[k - 1][1] if k else None


def _comparator(verb: str, mid: str, post: str) -> str:
    if post in ("以上", "及以上"):
        return ">="
    if post in ("以下", "以内", "之内"):
        return "<="
    if post in ("左右", "上下") or mid in ("约", "近"):
        return "~"
    if verb in ("不低于", "不少于", "至少", "超过", "突破", "高于") or mid in ("超过", "超", "逾"):
        return ">="
    if verb in ("不超过", "不高于", "低于"):
        return "<="
    return "="


def _metric(sentence: str, start: int, m: re.Match[str]) -> str:
    """The words naming what a figure measures: the clause before the verb (with 比YYYY年下降 kept for changes)."""
    verb = m.group("verb")
    cut = max((sentence.rfind(ch, start, m.start()) for ch in "，,；;：:"), default=-1)
    begin = max(start, cut + 1)
    if re.fullmatch(_COUNT_VERBS, verb):
        text = sentence[begin:m.start("gap")] + m.group("gap")
    elif re.fullmatch(_CHANGE_VERBS, verb):
        text = sentence[begin:m.end("verb")]
    else:
        text = sentence[begin:m.start()]
    for _ in range(4):
        new = _YEAR_HEAD.sub("", _ADVERB_HEAD.sub("", text)).strip()
        new = _ADVERB_TAIL.sub("", new).strip()
        if not re.fullmatch(_CHANGE_VERBS, verb):
            new = re.sub(r"(?:比|较)(?:19|20)[0-9]{2}\s*年(?:底|末)?$", "", new).strip()
        if new == text:
            break
        text = new
    rest = re.split(r"[，,。；;！？!?\n]", sentence[m.end():], maxsplit=1)[0].lstrip("的").strip()
    if verb in ("具备", "具有"):     # a capability to reach: '电网具备5%以上的尖峰负荷响应能力'
        text = text + rest
    elif not text:
        text = rest
    return text[:120]


def _targets(text: str) -> list[TargetDraft]:
    """Figures introduced by a target verb in a clause governed by a target year; project sizes are skipped."""
    out: list[TargetDraft] = []
    for sm in _SENTENCE_RE.finditer(text):
        sentence = sm.group(0).strip()
        if not re.search(r"[0-9]", sentence):
            continue
        marks = _year_marks(sentence)
        if not marks:
            continue
        last_end = pos = 0
        while m := _TARGET_RE.search(sentence, pos):
            pos = m.start() + 1
            year = _governing_year(marks, m.start("num"))
            if year is None:
                continue
            gap = m.group("gap")
            if gap and (not re.fullmatch(_COUNT_VERBS, m.group("verb")) or _VERB_IN_GAP.search(gap)):
                continue
            unit = m.group("unit") or ""
            post = m.group("post") or ""
            nxt = sentence[m.end():m.end() + 1]
            if not unit and not post and nxt and re.match(r"[\u4e00-\u9fffA-Za-z0-9.]", nxt):
                continue
            if sentence[m.start("num") - 1:m.start("num")] == "第":
                continue
            window = re.split(r"[，,。；;、！？!?\n]", sentence[m.end():m.end() + 12], maxsplit=1)[0]
            if _CAPACITY_UNITS.search(unit) and _PROJECT_NOUN.search(window):
                continue
            metric = _metric(sentence, last_end, m)
            found = [(m.group("num"), unit, post)]
            end = m.end()
            while chain := _CHAIN_RE.match(sentence, end):
                found.append((chain.group("num"), chain.group("unit") or unit, chain.group("post") or ""))
                end = chain.end()
            for num, u, p in found:
                try:
                    value = float(num.replace(",", ""))
                except ValueError:
                    continue
                out.append(TargetDraft(year=year, value=value, unit=u,
                                       comparator=_comparator(m.group("verb"), m.group("mid") or "", p),
                                       metric=metric, sentence=sentence))
            last_end = pos = end
    return out
