"""Turn the text of a 督办 plan (实施方案, 工作方案, 行动计划 ...) into an outline, tasks, units and targets.

Everything here is a rule about the shape of Chinese government plans: outline markers, department
clauses at the end of a measure, target sentences.  Nothing names a particular plan or department, because
the parser is used on plans nobody here has seen.  Pure: no Flask, no database, no I/O except
`read_plan_bytes`, which turns an upload into text.
"""
from __future__ import annotations

import bisect
import io
import re
import zipfile
from dataclasses import asdict, dataclass, field

__all__ = [
    "DepartmentDraft", "OutlineNodeDraft", "PlanDraft", "PlanParseError", "TargetDraft", "TaskDraft",
    "department_kind", "parse_plan", "parse_plan_bytes", "read_plan_bytes",
]


# -- public data ------------------------------------------------------------------------------------------

@dataclass
class TargetDraft:
    year: int | None
    value: float
    unit: str
    comparator: str
    metric: str
    sentence: str


@dataclass
class DepartmentDraft:
    name: str
    aliases: list[str]
    kind: str


@dataclass
class OutlineNodeDraft:
    code: str
    level: int
    marker: str
    title: str
    text: str
    children: list[OutlineNodeDraft] = field(default_factory=list)


@dataclass
class TaskDraft:
    code: str
    title: str
    text: str
    leads: list[str]
    co: list[str]
    implied: list[str]
    targets: list[TargetDraft]
    clause: str


def _number(value: float) -> int | float:
    """JSON readers compare 1000 and 1000.0 differently; integral values are emitted as int."""
    return int(value) if float(value).is_integer() else value


def _target_dict(t: TargetDraft) -> dict:
    return {"year": t.year, "value": _number(t.value), "unit": t.unit, "comparator": t.comparator,
            "metric": t.metric, "sentence": t.sentence}


def _outline_dict(n: OutlineNodeDraft) -> dict:
    return {"code": n.code, "level": n.level, "marker": n.marker, "title": n.title, "text": n.text,
            "children": [_outline_dict(c) for c in n.children]}


@dataclass
class PlanDraft:
    title: str
    issuing_body: str
    valid_from: int | None
    valid_to: int | None
    outline: list[OutlineNodeDraft]
    tasks: list[TaskDraft]
    unassigned: list[TaskDraft]
    targets: list[TargetDraft]
    implied_units: list[str]
    departments: list[DepartmentDraft]
    warnings: list[str]

    def to_dict(self) -> dict:
        """The public JSON shape; key names are a contract with the CLI, the review page and the export."""
        return {
            "title": self.title,
            "issuing_body": self.issuing_body,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "implied_units": list(self.implied_units),
            "targets": [_target_dict(t) for t in self.targets],
            "tasks": [{"code": t.code, "title": t.title, "text": t.text, "clause": t.clause,
                       "leads": list(t.leads), "co": list(t.co), "implied": list(t.implied),
                       "targets": [_target_dict(x) for x in t.targets]} for t in self.tasks],
            "unassigned": [{"code": t.code, "title": t.title, "text": t.text,
                            "targets": [_target_dict(x) for x in t.targets]} for t in self.unassigned],
            "departments": [asdict(d) for d in self.departments],
            "outline": [_outline_dict(n) for n in self.outline],
            "warnings": list(self.warnings),
        }


class PlanParseError(ValueError):
    """Raised with a one-line Chinese-or-English message a CLI can print."""


# -- character classes and small helpers ------------------------------------------------------------------

_OPEN = "(（〔[【{「［"
_CLOSE = ")）〕]】}」］"
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


def _split_top(s: str, seps: str) -> list[str]:
    """Split on separators outside brackets, so '各县（市、区）政府' stays one name."""
    parts, cur, depth = [], [], 0
    for ch in s:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if depth == 0 and ch in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _depths(s: str) -> list[int]:
    """Bracket depth before each character."""
    out, depth = [], 0
    for ch in s:
        if ch in _CLOSE:
            depth = max(0, depth - 1)
        out.append(depth)
        if ch in _OPEN:
            depth += 1
    return out


def _trailing_group(s: str) -> int | None:
    """Index of the opening bracket that matches the closing bracket ending `s`."""
    if not s or s[-1] not in _CLOSE:
        return None
    depth = 0
    for i in range(len(s) - 1, -1, -1):
        if s[i] in _CLOSE:
            depth += 1
        elif s[i] in _OPEN:
            depth -= 1
            if depth == 0:
                return i
    return None


# -- outline markers --------------------------------------------------------------------------------------

# Order matters: the first pattern that matches a line's start decides its style.
_MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("part", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})(?:部分|篇|编)")),
    ("chapter", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})章")),
    ("section", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})节")),
    ("article", re.compile(rf"第([{_CN_NUM}0-9]{{1,4}})条")),
    ("cn", re.compile(rf"([{_CN_NUM}]{{1,4}})\s*(?:、|[.．](?![0-9]))")),
    ("cn_paren", re.compile(rf"[(（]\s*([{_CN_NUM}]{{1,4}})\s*[)）]")),
    ("arabic_paren", re.compile(r"[(（]\s*([0-9]{1,3})\s*[)）]")),
    ("circled", re.compile(r"([\u2460-\u2473])")),
    ("decimal", re.compile(r"([0-9]{1,3}(?:[.．][0-9]{1,3}){1,4})(?![0-9万亿千百个倍%])[.．、]?")),
    ("arabic", re.compile(r"([0-9]{1,3})\s*(?:、|[.．](?![0-9]))")),
    ("arabic_rparen", re.compile(r"([0-9]{1,3})\s*[)）]")),
    ("dash", re.compile(r"(?:——|—|――|―|－－|--)")),
]


@dataclass
class _Marker:
    style: str
    marker: str
    number: int | None
    body: str


def _match_marker(line: str) -> _Marker | None:
    for style, pattern in _MARKERS:
        m = pattern.match(line)
        if not m:
            continue
        number = None
        if style == "decimal":
            parts = re.split(r"[.．]", m.group(1))
            style = f"decimal{len(parts)}"
            number = int(parts[-1])
        elif style == "circled":
            number = ord(m.group(1)) - 0x2460 + 1
        elif style != "dash":
            number = _cn_to_int(m.group(1))
        body = line[m.end():].strip().lstrip("：: \u3000")
        return _Marker(style, m.group(0).strip(), number, body)
    return None


def _open_styles(lines: list[str]) -> list[str]:
    """The marker styles open at the end of `lines` (the outline stack), used to place a docx table."""
    stack: list[str] = []
    for line in lines:
        m = _match_marker(line.strip())
        if m is None or m.style == "dash":
            continue
        if m.style in stack:
            del stack[stack.index(m.style):]
        stack.append(m.style)
    return stack


# -- units (departments) ----------------------------------------------------------------------------------

_UNIT_SUFFIX = re.compile(
    r"(?:政府|管委会|委员会|常委会|办公室|办公厅|领导小组|工作组|小组|专班|指挥部|中心|公司|集团|银行|支行|分行|"
    r"总行|海关|部门|机关|企业|高校|院校|街道|乡镇|开发区|园区|新区|高新区|示范区|试验区|保税区|工会|商会|协会|"
    r"联合会|基金会|红十字会|学会|研究会|(?<![格布大结全开当])局|委|(?<![举主承创开协])办|厅|"
    r"(?<![全内外局东西南北中底顶胸背])部|府|(?<![庭宅])院|校|司|署|(?<![好长益坏到之此])处|"
    r"(?<![场住处厕])所|(?<![网])站|(?<![排插梯])队|室|馆|社|联|协|(?<![平舞讲柜])台|团)$")
_UNIT_BAD_CHARS = re.compile(r"[0-9。！？!?，,；;：:《》\n]")
_UNIT_BAD_END = re.compile(r"(?:级|上|下|内|外|类|性|化|率|量|年|月|日|前|后|期|间|点|等|的)$")
_ROLE_WORDS = re.compile(r"牵头|配合|负责|落实|协助|协办|参与|主责|承办|会同")
_LEAD_WORDS = re.compile(r"牵头|主责|主办")
_CO_WORDS = re.compile(r"配合|协助|协办|参与|协同")
_WEAK_LEAD = re.compile(r"^由|(?<!分工)(?<!分别)(?<!共同)(?<!职责)负责")
_TAIL_FILLER = re.compile(
    r"(?:(?:按照?|根据|依据?)?(?:各自)?职责(?:分工)?(?:分别|共同)?(?:负责|落实)?"
    r"|(?:分别|共同|具体|牵头|负责)?(?:负责|落实|实施|推进|办理|承办)"
    r"|[(（]?(?:牵头|配合|主责|主办|协办|协助|参与|协同)[)）]?"
    r"|等(?:有关|相关|其他)?(?:部门|单位|成员单位)?|共同|分工)$")
_HEAD_FILLER = re.compile(r"^(?:并由|由|请|要求|责成)")
_DEADLINE = re.compile(r"(?:19|20)[0-9]{2}\s*年|[0-9]{1,2}\s*月|长期|持续推进|每年|年底|年内|季度|前完成|时限")
_LABEL_RE = re.compile(
    r"[【\[〔［]?(?P<label>牵头单位|牵头部门|主责单位|主责部门|主办单位|责任单位|责任部门|责任主体|实施单位|"
    r"承办单位|配合单位|配合部门|协办单位|协同单位|参与单位|完成时限|完成时间|时间节点|时限要求|时限|牵头|配合|主责|协办)"
    r"(?:\s*[】\]〕］]\s*[:：]?|\s*[:：])")
_IMPLIED_RES = [
    re.compile(r"以下[^。；;\n]{0,12}?(?:均|都|皆)(?:需|须|由|要|应)?(?P<units>[^。；;\n]{2,200}?)"
               r"(?:负责)?(?:落实|负责|参与|配合|实施|推进)[，,、]?\s*(?:不再|不另)(?:一一|逐一|重复|单独|另行)?列(?:出|明)"),
    re.compile(r"以下各项(?:任务|措施|工作|重点任务)?(?:均|都)(?:需|须|由|要|应)(?P<units>[^。；;\n]{2,200}?)"
               r"(?:负责)?(?:落实|负责|参与|配合|实施|推进)"),
]


def _core_name(name: str) -> str:
    return re.sub(r"[(（][^()（）]*[)）]", "", name)


def _is_unit(name: str, strict: bool = False) -> bool:
    """Whether a name looks like a unit: by its ending (局, 委, 政府 ...) or, loosely, by 各/市/县/区/省 at its start."""
    if not 2 <= len(name) <= 40 or _UNIT_BAD_CHARS.search(name):
        return False
    core = _core_name(name)
    if len(core) < 2:
        return False
    if _UNIT_SUFFIX.search(core):
        return True
    if core.startswith("各") and re.search(r"(?:县|区|市|乡|镇|街道|地区|部门|单位)$", core):
        return True
    if strict:
        return False
    return bool(re.match(r"(?:各|市|县|区|省|国网|国家|中国)", core) and len(core) >= 3
                and not _UNIT_BAD_END.search(core) and not _ROLE_WORDS.search(core))


def _plausible_name(name: str) -> bool:
    return 2 <= len(name) <= 30 and not _UNIT_BAD_CHARS.search(name)


def _norm_name(name: str) -> str:
    name = re.sub(r"\s+", "", name).strip("“”\"'‘’")
    return name.replace("(", "（").replace(")", "）")


def _clean_item(item: str) -> str:
    item = item.strip(" \t\n。；;，,、：:")
    for _ in range(6):
        new = _HEAD_FILLER.sub("", _TAIL_FILLER.sub("", item)).strip(" \t\n。；;，,、")
        if new == item:
            break
        item = new
    return item


_Unit = tuple[str, tuple[str, ...]]   # (name, aliases)


def _split_and(item: str) -> list[str]:
    """Split 'A和B' / 'A及B' only where both sides are units themselves (市人力资源和社会保障局 stays whole)."""
    depths = _depths(item)
    for m in re.finditer(r"以及|和|及|与", item):
        if depths[m.start()]:
            continue
        left, right = item[:m.start()], item[m.end():]
        if _is_unit(left, strict=True) and _is_unit(_clean_item(right), strict=True):
            return [left, *_split_and(_clean_item(right))]
    return [item]


def _split_units(seg: str) -> list[_Unit]:
    """Units of one clause segment with their aliases ('A(B)'); whether they look like units is checked later."""
    units: list[_Unit] = []
    for raw in _split_top(seg, "、，,；;\n"):
        item = _clean_item(raw)
        if not item:
            continue
        for piece in _split_and(item):
            m = re.fullmatch(r"(.+?)[(（]([^()（）]+)[)）]", piece)
            aliases = _split_top(m.group(2), "、，,；;") if m else []
            if m and aliases and all(_is_unit(a, strict=True) for a in aliases) and _is_unit(m.group(1)):
                units.append((_norm_name(m.group(1)), tuple(_norm_name(a) for a in aliases)))
            else:
                units.append((_norm_name(piece), ()))
    return units


def _roles(content: str) -> tuple[list[_Unit], list[_Unit]]:
    """Leads and co-units of an unlabelled clause: marked roles first, else the first comma group leads."""
    segs: list[tuple[str, list[_Unit]]] = []
    for raw in _split_top(content, "，,；;\n"):
        if _DEADLINE.search(raw) and not any(_is_unit(_clean_item(p), strict=True) for p in _split_top(raw, "、")):
            continue
        depths = _depths(raw)
        joint = next((m for m in re.finditer("会同", raw) if not depths[m.start()]), None)
        if joint:
            parts = [(raw[:joint.start()], "lead"), (raw[joint.end():], "co")]
        elif _LEAD_WORDS.search(raw):
            parts = [(raw, "lead")]
        elif _CO_WORDS.search(raw):
            parts = [(raw, "co")]
        elif _WEAK_LEAD.search(raw):
            parts = [(raw, "weak")]
        else:
            parts = [(raw, "")]
        for text, role in parts:
            units = _split_units(text)
            if units:
                segs.append((role, units))
    if not segs:
        return [], []
    has_lead = any(r == "lead" for r, _ in segs)
    has_co = any(r == "co" for r, _ in segs)
    leads: list[_Unit] = []
    co: list[_Unit] = []
    if has_lead or has_co:
        for role, units in segs:
            if role == "lead" or (not has_lead and role in ("weak", "")):
                leads.extend(units)
            else:
                co.extend(units)
    elif len(segs) > 1:
        leads, co = list(segs[0][1]), [u for _, units in segs[1:] for u in units]
    else:
        leads, co = segs[0][1][:1], segs[0][1][1:]
    return leads, co


@dataclass
class _Clause:
    leads: list[_Unit]
    co: list[_Unit]


def _strip_implied(text: str) -> str:
    for pattern in _IMPLIED_RES:
        text = pattern.sub("", text)
    return text


def _label_kind(label: str) -> str:
    if re.search(r"牵头|主责|主办", label):
        return "lead"
    if re.search(r"配合|协办|协同|参与", label):
        return "co"
    if re.search(r"时限|时间|节点", label):
        return "deadline"
    return "resp"


def _parse_clause(inner: str, strict: bool = False) -> _Clause | None:
    """Parse the inside of a department clause; None when it is not one (an ordinary parenthetical)."""
    if len(inner) > 800:
        return None
    inner = _strip_implied(inner).strip(" \t\n。；;，,")
    if not inner or len(inner) > 600:
        return None
    labels = [m for m in _LABEL_RE.finditer(inner) if not _depths(inner)[m.start()]]
    leads: list[_Unit] = []
    co: list[_Unit] = []
    if labels:
        pieces = []
        head = inner[:labels[0].start()].strip(" \t\n。；;，,")
        if head:
            pieces.append(("责任单位", head))
        for k, m in enumerate(labels):
            end = labels[k + 1].start() if k + 1 < len(labels) else len(inner)
            pieces.append((m.group("label"), inner[m.end():end]))
        for label, content in pieces:
            content = content.strip(" \t\n。；;，,")
            kind = _label_kind(label)
            if kind == "deadline" or not content:
                continue
            if kind in ("lead", "co"):
                (leads if kind == "lead" else co).extend(_split_units(content))
            else:
                got_leads, got_co = _roles(content)
                leads.extend(got_leads)
                co.extend(got_co)
    else:
        if strict and not _ROLE_WORDS.search(inner):
            return None
        leads, co = _roles(inner)
    names = [n for n, _ in leads + co]
    if not names or len(names) > 60:
        return None
    if labels:
        # An explicit label says these are units; only the shape of each name is checked.
        if not all(_plausible_name(n) for n in names) or not any(_is_unit(n) for n in names):
            return None
    else:
        marked = strict or _ROLE_WORDS.search(inner) or any(_is_unit(n, True) for n in names)
        if not marked or not all(_is_unit(n, strict) for n in names):
            return None
    seen: set[str] = set()
    out_leads, out_co = [], []
    for target, units in ((out_leads, leads), (out_co, co)):
        for unit in units:
            if unit[0] not in seen:
                seen.add(unit[0])
                target.append(unit)
    return _Clause(out_leads, out_co)


def _implied_units(text: str) -> list[_Unit]:
    out: list[_Unit] = []
    for pattern in _IMPLIED_RES:
        for m in pattern.finditer(text):
            out.extend(u for u in _split_units(m.group("units")) if _is_unit(u[0]))
    return out


_SENT_END = "。！？!?\n"


def _find_clause(text: str) -> tuple[str, str, _Clause] | None:
    """(text before the clause, clause as written, parsed clause) for a clause ending the measure."""
    t = text.rstrip(" \t\n。；;，,.")
    if not t:
        return None
    depths = _depths(t)
    # 1. a labelled run at the end: '责任单位：A牵头，B、C配合', '【责任单位】A（牵头），B，C'
    for m in _LABEL_RE.finditer(t):
        start = m.start()
        if depths[start] or (start and t[start - 1] not in _SENT_END + "；;，, \t\u3000" + _CLOSE):
            continue
        parsed = _parse_clause(t[start:])
        if parsed and (parsed.leads or parsed.co):
            return t[:start], t[start:], parsed
    # 2. a bracketed group at the very end: '(A、B等按职责分工负责)', '〔…〕', '（牵头单位：A；配合单位：B）'
    end = t
    for _ in range(2):
        i = _trailing_group(end)
        if i is None:
            break
        inner, before = end[i + 1:-1], end[:i]
        tail = re.split(r"[，,。；;、\s：:]", before)[-1]
        is_alias = (tail and _is_unit(tail, strict=True) and re.match(r"[市县区省各国]", _HEAD_FILLER.sub("", tail))
                    and _is_unit(inner, strict=True) and not _ROLE_WORDS.search(inner))
        if is_alias:
            break
        parsed = _parse_clause(inner)
        if parsed and (parsed.leads or parsed.co):
            return before, t[i:], parsed
        if _DEADLINE.search(inner) and not _UNIT_SUFFIX.search(inner):
            end = before.rstrip(" \t\n。；;，,")
            continue
        break
    # 3. a labelled or role-marked clause right after the heading sentence: '推进X（责任单位：A）。具体…'
    first_end = re.search(r"[。！？!?；;\n]", t)
    if first_end:
        head = t[:first_end.start()].rstrip()
        i = _trailing_group(head)
        if i is not None:
            inner = head[i + 1:-1]
            parsed = _parse_clause(inner) if (_LABEL_RE.search(inner) or _ROLE_WORDS.search(inner)) else None
            if parsed and (parsed.leads or parsed.co):
                return head[:i] + t[first_end.start():], head[i:], parsed
    # 4. a trailing sentence of units: '…。由A负责', '…。A、B按职责分工负责', '…，由A牵头，B配合'
    sentences = [s for s in re.split(r"(?<=[。！？!?\n])", t) if s.strip(" \t\n。！？!?")]
    if len(sentences) >= 2:
        last = sentences[-1]
        parsed = _parse_clause(last, strict=True)
        if parsed and (parsed.leads or parsed.co):
            return t[:len(t) - len(last)], last.strip(), parsed
    depths = _depths(t)
    for m in reversed(list(re.finditer(r"[，,；;]\s*(?=由)", t))):
        if depths[m.start()]:
            continue
        seg = t[m.end():]
        parsed = _parse_clause(seg, strict=True)
        if parsed and (parsed.leads or parsed.co):
            return t[:m.start()] + "。", seg, parsed
        break
    return None


def department_kind(name: str) -> str:
    """'municipal' | 'county' | 'zone' | 'other', decided by the shape of the name alone."""
    n = _core_name(name)
    if re.search(r"管委会|管理委员会|开发区|园区|高新区|新区|示范区|试验区|保税区|自贸区", n):
        return "zone"
    if n.endswith("政府") and (n.startswith("各") or re.search(r"[县区旗乡镇]", n[:-2])):
        return "county"
    if n.startswith("各") and re.search(r"县|区|乡镇|街道", n):
        return "county"
    municipal_end = r"(?:局|委|办|厅|部|院|中心|室|府|会|校|处|队|站|所|组|馆|社|联|协|台|团|办公室|委员会)$"
    if (n.startswith("市") or "市委" in n or "市政府" in n) and re.search(municipal_end, n):
        return "municipal"
    return "other"


class _Registry:
    """Canonical unit names: 'A(B)' makes B an alias of A wherever either is mentioned later or earlier."""

    def __init__(self) -> None:
        self.alias_of: dict[str, str] = {}
        self.order: list[str] = []

    def canon(self, name: str) -> str:
        seen = set()
        while name in self.alias_of and name not in seen:
            seen.add(name)
            name = self.alias_of[name]
        return name

    def add_aliases(self, unit: _Unit) -> None:
        name, aliases = unit
        for alias in aliases:
            if alias != name and self.canon(alias) != self.canon(name) and self.canon(name) != alias:
                self.alias_of[alias] = self.canon(name)

    def see(self, name: str) -> str:
        c = self.canon(name)
        if c not in self.order:
            self.order.append(c)
        return c

    def departments(self) -> list[DepartmentDraft]:
        out = []
        for name in self.order:
            aliases = [a for a in self.alias_of if self.canon(a) == name and a != name]
            out.append(DepartmentDraft(name=name, aliases=aliases, kind=department_kind(name)))
        return out


# -- targets ----------------------------------------------------------------------------------------------

_UNITS = (r"%|‰|个百分点|个工作日|工作日|微克/立方米|毫克/立方米|(?:[万亿千百]?(?:千瓦时|千瓦|兆瓦|吉瓦|瓦时|千伏|伏|吨标准煤|吨标煤|吨二氧化碳|吨|立方米|"
          r"平方米|平方公里|公里|千米|米|公顷|亩|元|户|人次|人|个|家|座|辆|台|套|处|项|所|条|张|株|棵|头|件|批|次|倍|"
          r"小时|天|千克|公斤|标准箱|部|度))|万|亿")
_CAPACITY_UNITS = re.compile(r"瓦|伏|吨|米|公里|亩|公顷|^$|^[万亿]$")
_STATE_VERBS = (r"压缩至|压缩到|压减至|压减到|缩短至|缩短到|提高到|提高至|提升到|提升至|增加到|增加至|增长到|增长至|降低到|降低至|下降到|下降至|减少到|减少至|降至|降到|"
                r"控制在|控制到|保持在|稳定在|维持在|不低于|不少于|不超过|不高于|低于|高于|超过|突破|至少|达到|达")
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
_FIVE_YEAR_RE = re.compile(r"(?P<pre>到)?[“\"]?十(?P<n>[一二三四五六])五[”\"]?(?P<post>时期|期间|末|期末|规划期末)?")
_PROJECT_NOUN = re.compile(r"项目|工程|机组|电站|变电站|线路|专线|基地")
_SENTENCE_RE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_ADVERB_HEAD = re.compile(r"^(?:[，,；;、：:\s]|和|及|并|且|同时|其中|力争|确保|争取|努力|预计|计划|要|将|使|推动|实现)+")
_ADVERB_TAIL = re.compile(r"(?:力争|确保|基本|全面|进一步|总体|分别|均|都|要|将|能够|可|逐步|稳步|持续|争取|努力|累计|"
                          r"整体|总量|总计|合计)+$")
_YEAR_HEAD = re.compile(r"^(?:到|至|截至|截止到?|在)?\s*(?:(?:19|20)[0-9]{2}\s*年(?:底|末|前|以前)?|[“\"]?十[一二三四五六]五[”\"]?"
                        r"(?:时期|期间|末|期末)?)[，,]?")


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"《[^《》]*》", text)]


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
    if not text:
        rest = re.split(r"[，,。；;！？!?\n]", sentence[m.end():], maxsplit=1)[0]
        text = rest.lstrip("的").strip()
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


# -- outline ----------------------------------------------------------------------------------------------

@dataclass
class _Node:
    style: str
    marker: str
    number: int | None
    lines: list[str]
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    code: str = ""
    level: int = 1
    own: str = ""
    body: str = ""
    clause: str = ""
    parsed: _Clause | None = None
    title: str = ""
    text: str = ""
    role: str = ""   # 'task' | 'unassigned' | 'group' | 'preamble'


def _build_outline(lines: list[str]) -> list[_Node]:
    """Nest marked lines like a stack of marker styles, so levels follow the order styles first appear;
    unmarked lines continue the last node, and —— items hang under the deepest numbered node."""
    roots: list[_Node] = []
    stack: list[_Node] = []
    last: _Node | None = None
    for line in lines:
        m = _match_marker(line)
        if m is None:
            if last is not None:
                last.lines.append(line)
            continue
        node = _Node(m.style, m.marker, m.number, [m.body])
        if m.style == "dash":
            parent = stack[-1] if stack else None
        else:
            index = next((i for i, n in enumerate(stack) if n.style == m.style), None)
            if index is not None:
                del stack[index:]
            parent = stack[-1] if stack else None
            stack.append(node)
        node.parent = parent
        (parent.children if parent else roots).append(node)
        last = node
    return roots


def _walk(nodes: list[_Node]):
    for n in nodes:
        yield n
        yield from _walk(n.children)


def _first_sentence(text: str) -> str:
    text = text.strip()
    m = re.search(r"[。！？!?；;]", text)
    head = text[:m.start()] if m else text
    colon = re.search(r"[：:]", head)
    if colon and colon.start() <= 25:
        head = head[:colon.start()]
    return head.strip(" \t\n，,。、")


def _analyse(node: _Node) -> None:
    parts = [p for p in node.lines if p]
    node.own = "\n".join(parts)
    found = _find_clause(node.own)
    if found is None:
        # A clause may end an earlier paragraph of the measure, followed by a note.
        for k in range(len(parts) - 1, max(0, len(parts) - 4), -1):
            sub = _find_clause("\n".join(parts[:k]))
            if sub:
                found = (sub[0] + "\n" + "\n".join(parts[k:]), sub[1], sub[2])
                break
    if found:
        node.body, node.clause, node.parsed = found[0].strip(), found[1].strip(), found[2]
    else:
        node.body = node.own
    first = node.lines[0] if node.lines else ""
    first_body = node.body.split("\n")[0] if node.body else ""
    heading = bool(first) and len(first_body) <= 60 and not re.search(r"[。！？!?；;]", first_body.rstrip("。；; "))
    if heading:
        node.title = first_body.strip(" \t，,。；;：:")
        # A bare heading line: its text is what follows it ('' when nothing does).
        node.text = "\n".join(p for p in node.lines[1:] if p) if first == first_body else node.own
    else:
        node.title = _first_sentence(node.body)
        node.text = node.own


_PREAMBLE_TITLES = re.compile(r"总体要求|指导思想|基本原则|工作原则|主要目标|工作目标|总体目标|发展目标|组织实施|保障措施|组织保障|"
                              r"实施保障|工作要求|总则|附则|背景|现状|形势|编制依据|适用范围")
_TITLE_RE = re.compile(r"^[^。！？!?]{2,60}?(?:方案|规划|计划|意见|通知|办法|要点|纲要|细则|措施|决定|清单|安排|规定|指南|公告|函)"
                       r"(?:[(（][^()（）]{0,24}[)）])?$")


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = re.sub(r"[\u200b\u200c\u200d\ufeff]", "", text).translate(_FULLWIDTH_DIGITS)
    out = []
    for line in text.split("\n"):
        line = line.strip(" \t\u3000\xa0\x0b\x0c")
        if line:
            out.append(line)
    return out


def _find_title(lines: list[str], limit: int) -> tuple[int | None, str, str]:
    """(line index, title, cover-notice line): the plan's own name wins over a '关于印发…的通知' cover line."""
    lead = re.compile(r"(?:近日|日前|记者|据|附件|索引号|发布机构|发文机关|成文日期|发布日期|主题分类|文号)")
    lines = [re.sub(r"^(?:标题|名称|文件名称)\s*[:：]\s*", "", line) for line in lines]
    candidates = [i for i in range(limit)
                  if len(lines[i].strip("《》 ")) <= 80 and _TITLE_RE.match(lines[i].strip("《》 "))
                  and not lead.match(lines[i])]
    if candidates:
        first = lines[candidates[0]].strip("《》 ")
        notice = re.search(r"关于(?:印发|转发|下发)《?(.+?)》?的(?:通知|函)", first)
        if notice:
            if len(candidates) > 1:
                return candidates[1], lines[candidates[1]].strip("《》 "), first
            return candidates[0], notice.group(1), first
        return candidates[0], first, ""
    for i in range(limit):
        line = lines[i]
        if len(line) <= 40 and not re.search(r"[。：:；;，,！!？?]$", line) and not lead.match(line):
            return i, line.strip("《》 "), ""
    return None, "", ""


def _issuing_body(lines: list[str], title: str, notice: str, first_marker: int) -> str:
    for line in lines:
        m = re.match(r"(?:发文单位|发文机关|发文机构|印发单位|制定单位|发布单位|发布机构)\s*[:：]\s*(.+)", line)
        if m:
            return m.group(1).strip()
    for source in (notice, title):
        if "关于" in source and source.index("关于") >= 2:
            return source[:source.index("关于")].strip()
    org = r"(?:人民政府|政府|办公室|办公厅|委员会|管委会|领导小组|指挥部)$"
    for line in lines[:first_marker] + lines[-3:]:
        if len(line) <= 30 and re.search(org, line) and not _match_marker(line) and line != title:
            return line
    m = re.match(r"^((?:[\u4e00-\u9fff]{2,7}?(?:自治区|自治州|省|市|县|区|州|盟|旗))+)", title)
    if m and not m.group(1).startswith("关于"):
        return m.group(1)
    return ""


def _validity(title: str, lines: list[str]) -> tuple[int | None, int | None]:
    pattern = re.compile(r"((?:19|20)[0-9]{2})\s*年?\s*[-—–－~～至到]+\s*((?:19|20)[0-9]{2})\s*年")
    for source in [title, *lines]:
        m = pattern.search(source)
        if m and int(m.group(1)) <= int(m.group(2)):
            return int(m.group(1)), int(m.group(2))
    valid_from = None
    for line in lines:
        m = re.fullmatch(r"(?:(?:成文|发布|印发)日期\s*[:：]\s*)?((?:19|20)[0-9]{2})\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日",
                         line)
        if m:
            valid_from = int(m.group(1))
    horizon = []
    for line in lines:
        spans = _quoted_spans(line)
        for m in re.finditer(r"(?:到|至|截至)\s*((?:19|20)[0-9]{2})\s*年|((?:19|20)[0-9]{2})\s*年(?:底|末)?前", line):
            if not any(a <= m.start() < b for a, b in spans):
                horizon.append(int(m.group(1) or m.group(2)))
        for m in _FIVE_YEAR_RE.finditer(line):
            if m.group("post") in ("末", "期末", "规划期末") and not any(a <= m.start() < b for a, b in spans):
                horizon.append(2010 + 5 * ("一二三四五六".index(m.group("n"))))
    return valid_from, (max(horizon) if horizon else None)


# -- the parser -------------------------------------------------------------------------------------------

def parse_plan(text: str) -> PlanDraft:
    """Parse plan text; raises PlanParseError only when there is no measure at all."""
    if not isinstance(text, str) or not text.strip():
        raise PlanParseError("方案内容为空 (the plan text is empty)")
    lines = _clean_lines(text)
    first_marker = next((i for i, line in enumerate(lines) if _match_marker(line)), len(lines))
    title_index, title, notice = _find_title(lines, first_marker)
    head = lines[title_index + 1:first_marker] if title_index is not None else lines[:first_marker]
    roots = _build_outline(lines[first_marker:])
    preface = "\n".join(head)
    warnings: list[str] = []
    if not title:
        warnings.append("no title line found")

    nodes = list(_walk(roots))
    for node in nodes:
        _analyse(node)
    _number_nodes(roots, "", 1, warnings)

    any_clause = any(n.parsed for n in nodes)
    for root in roots:
        subtree = list(_walk([root]))
        part_has_clause = any(n.parsed for n in subtree)
        task_part = part_has_clause or (not any_clause and not _PREAMBLE_TITLES.search(root.title))
        for n in subtree:
            if n.parsed:
                n.role = "task"
            elif n.children:
                n.role = "group"
            elif task_part and (n.title or n.body):
                n.role = "unassigned"
            else:
                n.role = "preamble"
    if not any(n.role in ("task", "unassigned") for n in nodes):
        raise PlanParseError("未找到任何措施条目 (no measures found in the plan)")

    registry = _Registry()
    for n in nodes:
        if n.parsed:
            for unit in n.parsed.leads + n.parsed.co:
                registry.add_aliases(unit)
    # A blanket sentence ('以下均需…落实，不再列出') applies to the tasks after the node that carries it.
    implied_units: list[str] = []
    for unit in _implied_units(preface):
        registry.add_aliases(unit)
        name = registry.see(unit[0])
        if name not in implied_units:
            implied_units.append(name)
    pending = list(implied_units)

    tasks: list[TaskDraft] = []
    unassigned: list[TaskDraft] = []
    plan_targets: list[TargetDraft] = _targets(preface)
    for n in nodes:
        if n.role == "task" and n.parsed:
            leads = _dedupe(registry.see(u[0]) for u in n.parsed.leads)
            co = [c for c in _dedupe(registry.see(u[0]) for u in n.parsed.co) if c not in leads]
            implied = [u for u in pending if u not in leads and u not in co]
            draft = TaskDraft(code=n.code, title=n.title, text=n.body, leads=leads, co=co, implied=implied,
                              targets=_targets(n.body), clause=n.clause)
            tasks.append(draft)
            if not leads:
                warnings.append(f"measure {n.code} has no lead unit")
        elif n.role == "unassigned":
            unassigned.append(TaskDraft(code=n.code, title=n.title, text=n.body, leads=[], co=[], implied=[],
                                        targets=_targets(n.body), clause=""))
            warnings.append(f"measure {n.code} has no department clause")
        else:
            plan_targets.extend(_targets(n.own))
        for unit in _implied_units(n.own):
            registry.add_aliases(unit)
            name = registry.see(unit[0])
            if name not in implied_units:
                implied_units.append(name)
        pending = list(implied_units)

    valid_from, valid_to = _validity(title, lines[title_index + 1 if title_index is not None else 0:])
    return PlanDraft(
        title=title,
        issuing_body=_issuing_body(lines, title, notice, first_marker),
        valid_from=valid_from,
        valid_to=valid_to,
        outline=[_outline_draft(r) for r in roots],
        tasks=tasks,
        unassigned=unassigned,
        targets=plan_targets,
        implied_units=implied_units,
        departments=registry.departments(),
        warnings=warnings,
    )


def _dedupe(names) -> list[str]:
    out: list[str] = []
    for n in names:
        if n not in out:
            out.append(n)
    return out


def _number_nodes(nodes: list[_Node], prefix: str, level: int, warnings: list[str]) -> None:
    """Positional codes ('3.4.3'); a written number that disagrees with the position is only a warning."""
    seen_styles: dict[str, int] = {}
    for i, node in enumerate(nodes, start=1):
        node.code = f"{prefix}{i}"
        node.level = level
        count = seen_styles[node.style] = seen_styles.get(node.style, 0) + 1
        if node.number is not None and node.number != count and node.style != "dash":
            warnings.append(f"outline {node.code}: marker '{node.marker}' is out of sequence")
        _number_nodes(node.children, f"{node.code}.", level + 1, warnings)


def _outline_draft(node: _Node) -> OutlineNodeDraft:
    return OutlineNodeDraft(code=node.code, level=node.level, marker=node.marker, title=node.title,
                            text=node.text, children=[_outline_draft(c) for c in node.children])


# -- reading uploads --------------------------------------------------------------------------------------

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


def parse_plan_bytes(data: bytes, filename: str) -> PlanDraft:
    return parse_plan(read_plan_bytes(data, filename))


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(data: bytes) -> str:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise PlanParseError("不是有效的 .docx 文件 (not a .docx / zip file)")
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        numbering = _numbering_formats(document)
        counters: dict[str, list[int | None]] = {}
        lines: list[str] = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(child, document)
                marker = _auto_number(_num_pr(child, paragraph), numbering, counters)
                for k, part in enumerate(paragraph.text.splitlines()):
                    part = part.strip()
                    if k == 0 and marker and part and not _match_marker(part):
                        part = marker + part
                    if part:
                        lines.append(part)
            elif tag == "tbl":
                lines.extend(_table_lines(Table(child, document), lines))
    except PlanParseError:
        raise
    except Exception as exc:   # python-docx raises many kinds on damaged files
        raise PlanParseError(f"无法读取 .docx 文件 (cannot read the .docx: {type(exc).__name__})") from None
    return "\n".join(lines)


def _numbering_formats(document) -> dict[str, dict[int, tuple[str, str, int]]]:
    """numId → ilvl → (numFmt, lvlText, start), so Word's automatic numbers can be written out as markers."""
    try:
        root = document.part.numbering_part.element
    except Exception:
        return {}
    abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
    for an in root.findall(f"{_W}abstractNum"):
        levels = {}
        for lvl in an.findall(f"{_W}lvl"):
            fmt, txt, start = lvl.find(f"{_W}numFmt"), lvl.find(f"{_W}lvlText"), lvl.find(f"{_W}start")
            try:
                levels[int(lvl.get(f"{_W}ilvl", "0"))] = (
                    fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
                    txt.get(f"{_W}val", "") if txt is not None else "",
                    int(start.get(f"{_W}val", "1")) if start is not None else 1)
            except ValueError:
                continue
        abstract[an.get(f"{_W}abstractNumId", "")] = levels
    nums = {}
    for num in root.findall(f"{_W}num"):
        ref = num.find(f"{_W}abstractNumId")
        if ref is not None:
            nums[num.get(f"{_W}numId", "")] = abstract.get(ref.get(f"{_W}val", ""), {})
    return nums


def _format_number(n: int, fmt: str) -> str:
    if fmt.startswith("chinese") or fmt.startswith("ideograph") or fmt == "taiwaneseCounting":
        return _int_to_cn(n)
    if fmt.startswith("decimalEnclosedCircle") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt in ("lowerLetter", "upperLetter") and 1 <= n <= 26:
        return chr((0x61 if fmt == "lowerLetter" else 0x41) + n - 1)
    return str(n)


def _num_pr(p, paragraph):
    """The paragraph's own numbering, else the one its style (or a base style) carries."""
    num_pr = p.find(f"{_W}pPr/{_W}numPr")
    if num_pr is not None:
        return num_pr
    try:
        style = paragraph.style
        for _ in range(6):
            if style is None:
                break
            found = style.element.find(f"{_W}pPr/{_W}numPr")
            if found is not None:
                return found
            style = style.base_style
    except Exception:   # a broken style chain only loses the automatic number
        return None
    return None


def _auto_number(num_pr, numbering: dict, counters: dict[str, list[int | None]]) -> str:
    """Word's automatic number of a paragraph written out as text ('一、', '（1）'), or ''."""
    if num_pr is None or not numbering:
        return ""
    num_id_el, ilvl_el = num_pr.find(f"{_W}numId"), num_pr.find(f"{_W}ilvl")
    num_id = num_id_el.get(f"{_W}val", "") if num_id_el is not None else ""
    try:
        ilvl = int(ilvl_el.get(f"{_W}val", "0")) if ilvl_el is not None else 0
    except ValueError:
        return ""
    levels = numbering.get(num_id)
    if not levels or ilvl not in levels or not 0 <= ilvl < 9:
        return ""
    fmt, text, start = levels[ilvl]
    if fmt in ("bullet", "none"):
        return ""
    state = counters.setdefault(num_id, [None] * 9)
    state[ilvl] = start if state[ilvl] is None else state[ilvl] + 1
    for deeper in range(ilvl + 1, 9):
        state[deeper] = None

    def render(m: re.Match[str]) -> str:
        k = int(m.group(1)) - 1
        value = state[k] if 0 <= k < 9 and state[k] is not None else levels.get(k, ("", "", 1))[2]
        return _format_number(value, levels.get(k, (fmt, "", 1))[0])

    return re.sub(r"%([1-9])", render, text)


def _cell_texts(row) -> list[str]:
    try:
        cells = row.cells
    except Exception:
        return []
    return [re.sub(r"\s*\n\s*", "", c.text).strip() for c in cells]


def _table_lines(table, before: list[str]) -> list[str]:
    """A responsibility table (header names 牵头单位/配合单位/责任单位) → one measure line per row."""
    rows = [_cell_texts(r) for r in table.rows]
    header_index = next((i for i, cells in enumerate(rows[:3])
                         if any(re.search(r"牵头|配合|责任单位|责任部门|主责|协办", c) for c in cells)), None)
    if header_index is None:
        return ["\u3000".join(_dedupe(c for c in cells if c)) for cells in rows if any(cells)]
    header = [re.sub(r"\s", "", h) for h in rows[header_index]]
    cols: dict[str, list[int]] = {"seq": [], "lead": [], "resp": [], "co": [], "deadline": [], "content": [],
                                  "category": [], "skip": []}
    for j, h in enumerate(header):
        if j and h == header[j - 1]:
            cols["skip"].append(j)      # a merged header cell
        elif re.search(r"序号|编号", h):
            cols["seq"].append(j)
        elif re.search(r"备注|说明|领导|责任人|联系人|电话", h):
            cols["skip"].append(j)
        elif re.search(r"配合|协办|协同|参与", h):
            cols["co"].append(j)
        elif re.search(r"牵头|主责|主办", h):
            cols["lead"].append(j)
        elif re.search(r"责任", h):
            cols["resp"].append(j)
        elif re.search(r"时限|时间|期限|进度", h):
            cols["deadline"].append(j)
        elif re.search(r"类别|领域|方面|板块|类型|重点任务|任务", h) and _repeats(rows[header_index + 1:], j) and any(
                re.search(r"内容|措施|举措|具体|事项|任务", x) for k, x in enumerate(header) if k != j):
            cols["category"].append(j)
        else:
            cols["content"].append(j)
    if not cols["content"] and cols["category"]:
        cols["content"], cols["category"] = cols["category"], []
    stack = _open_styles(before)
    free = [s for s in ("arabic", "arabic_paren", "arabic_rparen", "circled") if s not in stack]
    free += ["arabic"] * 2
    head_style, row_style = (free[0], free[1]) if cols["category"] else (None, free[0])
    out: list[str] = []
    count, heads, category = 0, 0, None

    def pick(cells: list[str], key: str) -> str:
        return "、".join(_dedupe(cells[j] for j in cols[key] if j < len(cells) and cells[j]))

    for cells in rows[header_index + 1:]:
        if not any(cells):
            continue
        if len(set(c for c in cells if c)) == 1 and len(cells) > 2:
            only = next(c for c in cells if c)
            if _match_marker(only):
                out.append(only)
            continue
        if head_style:
            cat = pick(cells, "category")
            if cat and cat != category:
                category, heads, count = cat, heads + 1, 0
                body = _match_marker(cat).body if _match_marker(cat) else cat
                out.append(_render_marker(head_style, heads) + body)
        parts = []
        for j in cols["content"]:
            if j < len(cells) and cells[j] and cells[j] not in parts:
                parts.append(cells[j])
        content = ""
        for part in parts:
            if content and not re.search(r"[。！？!?；;：:]$", content):
                content += "。"
            content += part
        marked = _match_marker(content)
        if marked and marked.style != "dash":
            content = marked.body
        lead, resp, co, deadline = pick(cells, "lead"), pick(cells, "resp"), pick(cells, "co"), pick(cells, "deadline")
        if not (content or lead or resp or co):
            continue
        clause = []
        if lead:
            clause.append(f"牵头单位：{lead}")
        if resp:
            clause.append(f"责任单位：{resp}")
        if co:
            clause.append(f"配合单位：{co}")
        if deadline and clause:
            clause.append(f"完成时限：{deadline}")
        count += 1
        line = _render_marker(row_style, count) + content
        if clause:
            line += "（" + "；".join(clause) + "）"
        out.append(line)
    return out


def _repeats(rows: list[list[str]], j: int) -> bool:
    """A column whose value repeats in consecutive rows (a vertically merged cell) groups the rows under it."""
    values = [r[j] if j < len(r) else "" for r in rows]
    return any(a and a == b for a, b in zip(values, values[1:], strict=False))


def _render_marker(style: str, n: int) -> str:
    if style == "arabic_paren":
        return f"（{n}）"
    if style == "arabic_rparen":
        return f"{n}）"
    if style == "circled" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    return f"{n}. "
