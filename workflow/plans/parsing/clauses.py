"""Department clauses at the end of a measure: labels, roles, unit names, aliases and blanket sentences."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from workflow.plans.parsing.draft import DepartmentDraft
from workflow.plans.parsing.text import _CLOSE, _depths, _split_top, _trailing_group

_UNIT_SUFFIX = re.compile(
    r"(?:政府|管委会|委员会|常委会|办公室|办公厅|领导小组|工作组|小组|专班|指挥部|中心|公司|集团|银行|支行|分行|"
    r"总行|海关|部门|机关|企业|高校|院校|街道|乡镇|开发区|园区|新区|高新区|示范区|试验区|保税区|工会|商会|协会|"
    r"联合会|基金会|红十字会|学会|研究会|(?<![格布大结全开当])局|委|(?<![举主承创开协])办|厅|"
    r"(?<![全内外局东西南北中底顶胸背])部|府|(?<![庭宅])院|校|司|署|(?<![好长益坏到之此])处|"
    r"(?<![场住处厕])所|(?<![网])站|(?<![排插梯])队|室|馆|社|联|协|(?<![平舞讲柜])台|团)$")
_UNIT_BAD_CHARS = re.compile(r"[0-9。！？!?，,；;：:《》\n]")
_UNIT_BAD_END = re.compile(r"(?:级|上|下|内|外|类|性|化|率|量|年|月|日|前|后|期|间|点|等|的)$")
_ROLE_WORDS = re.compile(r"牵头|配合|负责|落实|协助|协办|参与|参加|主责|承办|会同")
_LEAD_WORDS = re.compile(r"牵头|主责|主办")
_CO_WORDS = re.compile(r"配合|协助|协办|参与|参加|协同")
_WEAK_LEAD = re.compile(r"^由|(?<!分工)(?<!分别)(?<!共同)(?<!职责)负责")
_TAIL_FILLER = re.compile(
    r"(?:(?:按照?|根据|依据?)?(?:各自)?职责(?:分工)?(?:分别|共同)?(?:负责|落实)?"
    r"|(?:分别|共同|具体|牵头|负责)?(?:负责|落实|实施|推进|办理|承办)"
    r"|[(（]?(?:牵头|配合|主责|主办|协办|协助|参与|协同)[)）]?"
    r"|等(?:有关|相关|其他)?(?:部门|单位|成员单位)?|共同|分工)$")
_HEAD_FILLER = re.compile(r"^(?:并由|由|请|要求|责成)")
_DEADLINE = re.compile(r"(?:19|20)[0-9]{2}\s*年|[0-9]{1,2}\s*月|长期|持续推进|每年|年底|年内|季度|前完成|时限")
_LABEL_RE = re.compile(
    r"[【\[〔［]?(?P<label>牵头单位|牵头部门|主责单位|主责部门|主办单位|主办部门|责任单位|责任部门|责任主体|实施单位|"
    r"实施主体|负责单位|负责部门|承办单位|配合单位|配合部门|协办单位|协办部门|协同单位|协同部门|参与单位|参与部门|参加单位|"
    r"参加部门|完成时限|完成时间|时间节点|时限要求|时限|牵头|配合|主责|主办|协办)"
    r"(?:\s*[】\]〕］]\s*[:：]?|\s*[:：])")
_IMPLIED_RES = [
    re.compile(r"以下[^。；;\n]{0,12}?(?:均|都|皆)(?:需|须|由|要|应)?(?P<units>[^。；;\n]{2,200}?)"
               r"(?:负责)?(?:落实|负责|参与|配合|实施|推进)[，,、]?\s*(?:不再|不另)(?:一一|逐一|重复|单独|另行)?列(?:出|明)"),
    re.compile(r"以下各项(?:任务|措施|工作|重点任务)?(?:均|都)(?:需|须|由|要|应)(?P<units>[^。；;\n]{2,200}?)"
               r"(?:负责)?(?:落实|负责|参与|配合|实施|推进)"),
    # '各区、县级市要结合实际抓好落实，以下各项任务不再一一列出': the units open the sentence
    re.compile(r"(?P<units>[^。；;\n，,]{2,120}?)(?:要|须|需|应)[^。；;\n]{0,40}?[，,]\s*以下(?:各项|所有)?"
               r"(?:任务|措施|工作|事项)?(?:均)?(?:不再|不另)(?:一一|逐一|单独|重复)?列(?:出|明)"),
    re.compile(r"各项(?:任务|措施|工作)(?:均|都)(?:需|须|要|应|由)(?P<units>[^。；;\n]{2,200}?)"
               r"(?:共同)?(?:参与|配合|落实|负责|实施)"),
]

# Units that are not departments: vague placeholders, and references to units named elsewhere.
_PLACEHOLDER = re.compile(r"[\u4e00-\u9fff]{0,10}?(?:有关|相关|其他|其它)(?:的)?(?:责任|成员)?"
                          r"(?:单位|部门|方面|机构|站所|科室|处室|企业|组织)")
_BACKREF = re.compile(r"(?:上述|前述|以上|上列|所列|前列)(?:各)?(?:单位|部门)"
                      r"|各(?:项目|任务|专项|工程)?(?P<role>牵头|配合|责任|参与|参加)(?:单位|部门)")
# A collective named as a list of levels ('各区、县级市'): one unit, never split on its inner 、.
_LEVEL = r"(?:县级市|县市区|市县区|县区|区县|市县|县市|乡镇|乡|镇|街道|县|区|市|旗|开发区|园区|功能区)"
_COLLECTIVE_LIST = re.compile(
    rf"各{_LEVEL}(?:[(（][^()（）]{{1,8}}[)）])?(?:、{_LEVEL}(?:[(（][^()（）]{{1,8}}[)）])?)+"
    r"(?:人民政府|政府|管委会|党委|党工委)?"
    r"(?=[^\u4e00-\u9fff]|$|等|配合|负责|牵头|参与|参加|协同|落实|按|共同|分别|具体|要|为)")
_JOINED = "\ue000"   # stands for a collective's inner 、 while a list is split
_NONE_UNITS = {"无", "暂无", "—", "——", "-", "--", "/", "／"}
# Conventions a document declares for clauses that mark no lead.
_JOINT_RULE = re.compile(r"未(?:明确|标明|注明|列明|指定|标注)牵头(?:单位|部门)的?[^。；;\n]{0,30}?(?:负责|牵头|落实)")
_FIRST_RULE = re.compile(r"(?:排(?:在|名)?|列(?:在|于)?)(?:第一位?|首位|最前面?)的?(?:单位|部门)?(?:为|是|系)牵头"
                         r"|第一(?:个|家)?(?:单位|部门)为牵头")


def _core_name(name: str) -> str:
    return re.sub(r"[(（][^()（）]*[)）]", "", name)


def unit_role(name: str) -> str:
    """'placeholder' ('有关部门'), 'backref' ('上述单位', '各配合单位') or '' for a unit that names itself."""
    if _BACKREF.fullmatch(name):
        return "backref"
    if _PLACEHOLDER.fullmatch(name):
        return "placeholder"
    return ""


def _is_unit(name: str, strict: bool = False) -> bool:
    """Whether a name looks like a unit: by its ending (局, 委, 政府 ...) or, loosely, by 各/市/县/区/省 at its start."""
    if not 2 <= len(name) <= 40 or _UNIT_BAD_CHARS.search(name):
        return False
    if unit_role(name):
        return True
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
    item = item.strip(" \t\n。；;，,、：:/")
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
    seg = _COLLECTIVE_LIST.sub(lambda m: m.group(0).replace("、", _JOINED), seg)
    for raw in _split_top(seg, "、，,；;\n"):
        item = _clean_item(raw).replace(_JOINED, "、")
        if not item or item in _NONE_UNITS:
            continue
        pieces = item.split() if len(item.split()) > 1 and all(_is_unit(p, True) for p in item.split()) else [item]
        for piece in (p for whole in pieces for p in _split_and(whole)):
            m = re.fullmatch(r"(.+?)[(（]([^()（）]+)[)）]", piece)
            aliases = _split_top(m.group(2), "、，,；;") if m else []
            if m and aliases and all(_is_unit(a, strict=True) for a in aliases) and _is_unit(m.group(1)):
                units.append((_norm_name(m.group(1)), tuple(_norm_name(a) for a in aliases)))
            else:
                units.append((_norm_name(piece), ()))
    return units


_Seg = tuple[str, list[_Unit]]   # (role marked in the text: 'lead' | 'co' | 'weak' | '', units)


def _segments(content: str) -> tuple[list[_Seg], list[str]]:
    """The comma groups of an unlabelled clause with their marked roles, and the deadline phrases among them."""
    segs: list[_Seg] = []
    deadlines: list[str] = []
    for raw in _split_top(content, "，,；;\n"):
        if _DEADLINE.search(raw) and not any(_is_unit(_clean_item(p), strict=True) for p in _split_top(raw, "、")):
            deadlines.append(raw)
            continue
        joint = next((m for m in re.finditer("会同", raw) if not _depths(raw)[m.start()]), None)
        probe = _BACKREF.sub("", raw)       # '各项目牵头单位配合' is marked co, not lead
        if joint:
            parts = [(raw[:joint.start()], "lead"), (raw[joint.end():], "co")]
        elif _LEAD_WORDS.search(probe):
            parts = [(raw, "lead")]
        elif _CO_WORDS.search(probe):
            parts = [(raw, "co")]
        elif _WEAK_LEAD.search(raw):
            parts = [(raw, "weak")]
        else:
            parts = [(raw, "")]
        for text, role in parts:
            units = _split_units(text)
            if units:
                segs.append((role, units))
    return segs, deadlines


def _assign(segs: list[_Seg], convention: str) -> tuple[list[_Unit], list[_Unit], str]:
    """Leads, co-units and the rule that decided: marked roles first, else the document's declared convention
    ('joint': every listed unit leads; 'first': the first listed leads), else the first comma group leads,
    else the first listed unit."""
    if not segs:
        return [], [], ""
    has_lead = any(r == "lead" for r, _ in segs)
    has_co = any(r == "co" for r, _ in segs)
    every = [u for _, units in segs for u in units]
    leads: list[_Unit] = []
    co: list[_Unit] = []
    if has_lead or has_co:
        for role, units in segs:
            if role == "lead" or (not has_lead and role in ("weak", "")):
                leads.extend(units)
            else:
                co.extend(units)
        return leads, co, "marked"
    if len(every) == 1:
        return every, [], "single"
    if convention == "joint":
        return every, [], "declared_joint"
    if convention == "first":
        return every[:1], every[1:], "declared_first"
    if len(segs) > 1:
        return list(segs[0][1]), [u for _, units in segs[1:] for u in units], "first_group"
    return every[:1], every[1:], "first_listed"


@dataclass
class _Clause:
    """A parsed clause whose leads are decided later, once the convention in force at its place is known."""
    parts: list[tuple[str, list[_Seg]]]     # ('lead' | 'co', labelled units) or ('roles', comma groups)
    rule: str = ""                           # a convention the clause itself declares
    persistent: bool = False                 # …and whether it holds for the clauses after it ('下同')
    deadlines: list[str] = field(default_factory=list)

    @property
    def units(self) -> list[_Unit]:
        return [u for _, segs in self.parts for _, units in segs for u in units]

    def decide(self, convention: str) -> tuple[list[_Unit], list[_Unit], str]:
        leads: list[_Unit] = []
        co: list[_Unit] = []
        rules: list[str] = []
        for kind, segs in self.parts:
            if kind == "roles":
                got_leads, got_co, rule = _assign(segs, self.rule or convention)
                leads.extend(got_leads)
                co.extend(got_co)
                rules.append(rule)
            else:
                (leads if kind == "lead" else co).extend(u for _, units in segs for u in units)
                rules.append("marked")
        seen: set[str] = set()
        out_leads, out_co = [], []
        for target, units in ((out_leads, leads), (out_co, co)):
            for unit in units:
                if unit[0] not in seen:
                    seen.add(unit[0])
                    target.append(unit)
        # A lead label decides; otherwise the rule that split the unlabelled units ('责任单位：A、B').
        roles = [r for (k, _), r in zip(self.parts, rules, strict=True) if k == "roles" and r]
        rule = "marked" if any(k == "lead" for k, _ in self.parts) or not roles else roles[0]
        return out_leads, out_co, rule


def declared_rules(text: str) -> list[tuple[int, int, str]]:
    """(start, end, 'joint' | 'first') of each sentence that declares who leads where no lead is marked."""
    out = []
    for pattern, rule in ((_JOINT_RULE, "joint"), (_FIRST_RULE, "first")):
        for m in pattern.finditer(text):
            start = max(text.rfind(ch, 0, m.start()) for ch in "。；;，,\n（(") + 1
            ends = [i for i in (text.find(ch, m.end()) for ch in "。；;\n") if i >= 0]
            out.append((start, min(ends) if ends else len(text), rule))
    return sorted(out)


def _strip_implied(text: str) -> str:
    for pattern in _IMPLIED_RES:
        text = pattern.sub("", text)
    return text


def _label_kind(label: str) -> str:
    if re.search(r"牵头|主责|主办", label):
        return "lead"
    if re.search(r"配合|协办|协同|参与|参加", label):
        return "co"
    if re.search(r"时限|时间|节点", label):
        return "deadline"
    return "resp"


def _parse_clause(inner: str, strict: bool = False) -> _Clause | None:
    """Parse the inside of a department clause; None when it is not one (an ordinary parenthetical).

    A rule sentence after the units ('…。未明确牵头单位的，由所列单位按职责分工负责，下同') ends the units and
    is kept as the clause's convention."""
    if len(inner) > 800:
        return None
    inner = _strip_implied(inner).strip(" \t\n。；;，,")
    rule, persistent = "", False
    for start, end, found in reversed(declared_rules(inner)):
        rule, persistent = found, persistent or "下同" in inner[end:end + 6] or "下同" in inner[start:end]
        inner = (inner[:start] + inner[end:]).strip(" \t\n。；;，,")
    inner = re.sub(r"[，,]?\s*下同$", "", inner).strip(" \t\n。；;，,")
    if not inner or len(inner) > 600:
        return None
    depths = _depths(inner)
    labels = [m for m in _LABEL_RE.finditer(inner) if not depths[m.start()]]
    parts: list[tuple[str, list[_Seg]]] = []
    deadlines: list[str] = []
    if labels:
        pieces = []
        head = inner[:labels[0].start()].strip(" \t\n。；;，,")
        if head:
            pieces.append(("责任单位", head))
        for k, m in enumerate(labels):
            end = labels[k + 1].start() if k + 1 < len(labels) else len(inner)
            pieces.append((m.group("label"), inner[m.end():end]))
        for label, content in pieces:
            content = content.strip(" \t\n。；;，,/／")
            kind = _label_kind(label)
            if kind == "deadline":
                deadlines.append(content)
                continue
            if not content:
                continue
            if kind in ("lead", "co"):
                parts.append((kind, [(kind, _split_units(content))]))
            else:
                segs, found = _segments(content)
                parts.append(("roles", segs))
                deadlines.extend(found)
    else:
        if strict and not _ROLE_WORDS.search(inner):
            return None
        segs, deadlines = _segments(inner)
        parts.append(("roles", segs))
    clause = _Clause(parts, rule, persistent, deadlines)
    names = [n for n, _ in clause.units]
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
    return clause


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
        if parsed and parsed.units:
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
        if parsed and parsed.units:
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
            if parsed and parsed.units:
                return head[:i] + t[first_end.start():], head[i:], parsed
    # 4. a trailing sentence of units: '…。由A负责', '…。A、B按职责分工负责', '…，由A牵头，B配合'
    sentences = [s for s in re.split(r"(?<=[。！？!?\n])", t) if s.strip(" \t\n。！？!?")]
    if len(sentences) >= 2:
        last = sentences[-1]
        parsed = _parse_clause(last, strict=True)
        if parsed and parsed.units:
            return t[:len(t) - len(last)], last.strip(), parsed
    depths = _depths(t)
    for m in reversed(list(re.finditer(r"[，,；;]\s*(?=由)", t))):
        if depths[m.start()]:
            continue
        seg = t[m.end():]
        parsed = _parse_clause(seg, strict=True)
        if parsed and parsed.units:
            return t[:m.start()] + "。", seg, parsed
        break
    return None


def department_kind(name: str) -> str:
    """'collective' | 'municipal' | 'county' | 'zone' | 'other', decided by the shape of the name alone.

    A collective ('各区、县级市', '各县（市、区）人民政府', '市直各部门') is one assignee standing for its members."""
    if name.startswith("各") or re.search(r"直各|各级", name):
        return "collective"
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
