"""The office's and leaders' operations on an annual evaluation: compute, settings, ratings, adjustments,
milestones, sign-off (freezes) and reopening. Every change is audited; a frozen evaluation refuses all of
them but reopening, and computing it only shows the stored result.
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import delete, select

from models import Department, Period, Plan, PlanStatus, Target, Task, User
from models.audit import record
from models.evaluation import (
    DepartmentScore,
    Evaluation,
    ScoreAdjustment,
    TargetMilestone,
    TaskRating,
)
from workflow.clock import local
from workflow.domain import Conflict, NotFound, ValidationFailed, require
from workflow.evaluation import scoring
from workflow.extensions import db
from workflow.labels import label
from workflow.transitions import apply_transition, check, committed

REASON_LIMIT = 2000
MIN_YEAR, MAX_YEAR = 2000, 2100



# -- finding -----------------------------------------------------------------------------------------------

def check_year(year: int) -> int:
    if not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed({"year": _("年度应为 %(min)s–%(max)s 之间的四位数字。", min=MIN_YEAR,
                                                                                max=MAX_YEAR)})
    return year


def find_evaluation(plan: Plan, year: int) -> Evaluation | None:
    return db.session.scalar(select(Evaluation).where(Evaluation.plan_id == plan.id, Evaluation.year == year))


def get_or_create(plan: Plan, year: int, *, now: datetime) -> Evaluation:
    check_year(year)
    if plan.status != PlanStatus.PUBLISHED:
        raise Conflict(_("方案 #%(id)s 尚未发布，没有可评估的报送记录。", id=plan.id))
    evaluation = find_evaluation(plan, year)
    if evaluation is None:
        evaluation = Evaluation(plan=plan, year=year, created_at=now, settings={})
        db.session.add(evaluation)
        db.session.flush()
    return evaluation


def score_of(evaluation: Evaluation, department: Department) -> DepartmentScore:
    row = next((s for s in evaluation.scores if s.department_id == department.id), None)
    if row is None:
        raise NotFound(_("%(name)s 在 %(year)s 年度没有可评估的任务。", name=department.name, year=evaluation.year))
    return row


def _editable(evaluation: Evaluation, actor: User) -> None:
    require(actor.can_manage_evaluations(), _("只有领导小组办公室可以修改年度评估。"))
    if evaluation.frozen:
        raise Conflict(_("年度评估已由领导签认并冻结；如需修改，请由办公室先说明理由重新开启。"))


# -- computing ---------------------------------------------------------------------------------------------

def compute_evaluation(evaluation: Evaluation, *, actor: User | None, now: datetime) -> Evaluation:
    """Recompute and store the scores (a draft), or leave a frozen evaluation's stored scores as they are."""
    if evaluation.frozen:
        return evaluation
    with committed(evaluation):
        _store(evaluation, scoring.compute(evaluation, local(now).date()), actor=actor, now=now)
    return evaluation


def _store(evaluation: Evaluation, results: list[dict], *, actor: User | None, now: datetime) -> None:
    db.session.execute(delete(DepartmentScore).where(DepartmentScore.evaluation_id == evaluation.id))
    db.session.expire(evaluation, ["scores"])
    for row in results:
        db.session.add(DepartmentScore(
            evaluation_id=evaluation.id, department_id=row["department_id"], rank=row["rank"],
            group_name=row["group"], position=row["position"], ranking_score=row["ranking_score"],
            base_score=row["base_score"], deduction=row["deduction"], adjustment=row["adjustment"],
            score=row["score"], grade=row["grade"], parts=row["parts"], detail=row["detail"]))
    evaluation.computed_at, evaluation.computed_by = now, actor
    db.session.flush()
    db.session.expire(evaluation, ["scores"])


def result_json(evaluation: Evaluation) -> dict:
    """The contract's shape: {"plan_id", "year", "frozen", "departments": [{"department", "score", "grade",
    "parts"}]}, plus the settings, the sign-off, and the ranking: each department's "group", "rank" within it
    (null when not ranked), "ranked" and "ranking_score", in the order of the groups."""
    return {
        "plan_id": evaluation.plan_id, "year": evaluation.year, "frozen": evaluation.frozen,
        "computed_at": local(evaluation.computed_at).isoformat() if evaluation.computed_at else None,
        "signed_off_at": local(evaluation.signed_off_at).isoformat() if evaluation.signed_off_at else None,
        "signed_off_by": evaluation.signed_off_by.display if evaluation.signed_off_by else None,
        "settings": scoring.effective_settings(evaluation),
        "departments": [
            {"department": s.department.name, "group": s.group_name, "rank": s.rank, "ranked": s.rank is not None,
             "ranking_score": float(s.ranking_score) if s.ranking_score is not None else None,
             "score": float(s.score) if s.score is not None else None, "grade": s.grade,
             "base_score": float(s.base_score) if s.base_score is not None else None,
             "deduction": float(s.deduction), "adjustment": float(s.adjustment), "parts": s.parts}
            for s in evaluation.scores
        ],
    }


# -- the office's inputs -------------------------------------------------------------------------------------

def _number(value, field: str, *, low: float, high: float, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed({field: _("%(label)s应为数字。", label=label)}) from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationFailed({field: _("%(label)s应在 %(low)s 到 %(high)s 之间。", label=label, low=f"{low:g}",
                                                   high=f"{high:g}")})
    return number


def _reason(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed({field: message})
    if len(text) > REASON_LIMIT:
        raise ValidationFailed({field: _("不超过 %(limit)s 字。", limit=REASON_LIMIT)})
    return text


def update_settings(evaluation: Evaluation, values: dict, *, actor: User, now: datetime) -> Evaluation:
    """Weights, thresholds and deductions; thresholds must descend (优秀 > 良好 > 一般)."""
    _editable(evaluation, actor)
    errors: dict[str, str] = {}
    settings: dict = {"role_weights": {}, "part_weights": {}, "thresholds": {}}

    def take(key: str, target: dict, name: str, low: float, high: float, label: str) -> None:
        if values.get(key) in (None, ""):
            return
        try:
            target[name] = float(_number(values[key], key, low=low, high=high, label=label))
        except ValidationFailed as exc:
            errors.update(exc.errors)

    for role, title in (("lead", _("牵头任务权重")), ("co", _("配合任务权重"))):
        take(f"weight_{role}", settings["role_weights"], role, 0, 1, title)
    for part in scoring.PARTS:
        take(f"part_{part}", settings["part_weights"], part, 0, 100,
             _("%(part)s权重", part=label("score_part", part)))
    for grade in scoring.GRADES[:-1]:
        take(f"threshold_{grade}", settings["thresholds"], grade, 0, 100,
             _("%(grade)s分数线", grade=label("grade", grade)))
    for key, title, high in (("late_points_per_day", _("逾期每天扣分"), 100), ("late_floor", _("逾期最低分"), 100),
                             ("escalation_points", _("每次督办扣分"), 100), ("escalation_cap", _("督办扣分上限"), 100)):
        take(key, settings, key, 0, high, title)
    if values.get("base_year") not in (None, ""):
        try:
            settings["base_year"] = int(_number(values["base_year"], "base_year", low=1990, high=MAX_YEAR,
                                                label=_("基期年份")))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    _ranking_settings(values, settings, errors)
    for key in ("extension_on_time", "closed_on_time"):   # yes / no
        if values.get(key) in ("yes", "no"):
            settings[key] = values[key] == "yes"
        elif values.get(key) not in (None, ""):
            errors[key] = _("请选择“是”或“否”。")
    merged = scoring.effective_settings(evaluation)
    for key, value in settings.items():
        if isinstance(value, dict):
            merged[key].update(value)
        else:
            merged[key] = value
    thresholds = [merged["thresholds"][g] for g in scoring.GRADES[:-1]]
    if not errors and not thresholds[0] > thresholds[1] > thresholds[2]:
        errors["threshold_良好"] = _("分数线应依次降低：优秀 > 良好 > 一般。")
    if not errors and merged["base_year"] >= evaluation.year:
        errors["base_year"] = _("基期年份应早于评估年度 %(year)s。", year=evaluation.year)
    if not errors and not any(merged["part_weights"].get(p) for p in scoring.PARTS):
        errors["part_timeliness"] = _("各部分权重不能全为 0。")
    if not errors and merged["group_by"] == "custom" and not merged["groups"]:
        errors["groups"] = _("按自定义分组排名，须填写分组。")
    if errors:
        raise ValidationFailed(errors)
    before = evaluation.settings or {}
    with committed(evaluation):
        evaluation.settings = {**before, **{k: ({**before.get(k, {}), **v} if isinstance(v, dict) else v)
                                            for k, v in settings.items()}}
        record("evaluation.settings", evaluation, actor=actor, now=now, data={"before": before,
                                                                           "after": evaluation.settings})
        results = scoring.compute(evaluation, local(now).date())
        left_out = [r["department"] for r in results if r["group"] == scoring.UNGROUPED]
        if left_out:   # rolled back with the settings: nothing half-written
            raise ValidationFailed({"groups": _("以下单位不在任何分组中：%(names)s。每个参评单位都要归入一个分组。",
                                                names="、".join(left_out))})
        _store(evaluation, results, actor=actor, now=now)
    return evaluation


def _ranking_settings(values: dict, settings: dict, errors: dict[str, str]) -> None:
    """The ranking's settings from the form: groups, the minimum of scored items, the workload factor."""
    group_by = values.get("group_by")
    if group_by not in (None, ""):
        if group_by in scoring.GROUP_BY:
            settings["group_by"] = group_by
        else:
            errors["group_by"] = _("请选择排名分组方式。")
    if values.get("groups") is not None and (group_by == "custom" or str(values["groups"]).strip()):
        try:
            settings["groups"] = parse_groups(str(values["groups"]))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    for key, title, high in (("min_items", _("参与排名的最少事项数"), 1000), ("workload_weight", _("工作量权重"), 100),
                             ("target_load", _("每项指标折合任务数"), 10)):
        if values.get(key) in (None, ""):
            continue
        try:
            number = _number(values[key], key, low=0, high=high, label=title)
        except ValidationFailed as exc:
            errors.update(exc.errors)
            continue
        if key == "min_items" and number != number.to_integral_value():
            errors[key] = _("%(label)s应为整数。", label=title)
            continue
        settings[key] = int(number) if number == number.to_integral_value() else float(number)


GROUP_LINE = re.compile(r"^(?P<name>[^:：]+)[:：](?P<members>.*)$")
MEMBER_SEPARATORS = re.compile(r"[、，,；;\s]+")


def parse_groups(text: str) -> list[dict]:
    """The office's groups, one per line: "组名：单位、单位、…" (any name or alias of a department). Every name
    must be a department, in one group only; blank lines are skipped."""
    groups: list[dict] = []
    seen: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = GROUP_LINE.match(line.strip())
        if match is None or not match["name"].strip():
            raise ValidationFailed({"groups": _("第 %(n)s 行应为“组名：单位、单位”。", n=number)})
        name = match["name"].strip()[:100]
        if name in {g["name"] for g in groups} or name == scoring.UNGROUPED:
            raise ValidationFailed({"groups": _("第 %(n)s 行：分组名称“%(name)s”已用过。", n=number, name=name)})
        members = []
        for given in (m for m in MEMBER_SEPARATORS.split(match["members"]) if m):
            department = Department.lookup(given)
            if department is None:
                raise ValidationFailed({"groups": _("第 %(n)s 行：没有名为“%(name)s”的单位。", n=number, name=given)})
            if department.name in seen:
                raise ValidationFailed({"groups": _("“%(d)s”同时在“%(a)s”和“%(b)s”两个分组中。", d=department.name,
                                                    a=seen[department.name], b=name)})
            seen[department.name] = name
            members.append(department.name)
        if not members:
            raise ValidationFailed({"groups": _("第 %(n)s 行：分组“%(name)s”没有单位。", n=number, name=name)})
        groups.append({"name": name, "departments": members})
    return groups


def groups_text(groups: list[dict]) -> str:
    """The office's groups as the form shows them (parse_groups reads it back)."""
    return "\n".join(f"{g['name']}：{'、'.join(g['departments'])}" for g in groups)


def open_periods(evaluation: Evaluation, today) -> list[Period]:
    """The year's periods whose deadline has not passed: what they bring is not in the scores yet."""
    periods = db.session.scalars(select(Period).where(Period.plan_id == evaluation.plan_id,
                                                      Period.deadline >= today).order_by(Period.start))
    return [p for p in periods if p.end.year == evaluation.year]


def rate_task(evaluation: Evaluation, task: Task, *, score, comment: str, actor: User, now: datetime) -> TaskRating:
    _editable(evaluation, actor)
    if task.plan_id != evaluation.plan_id:
        raise NotFound(_("该任务不属于本方案。"))
    points = _number(score, "score", low=0, high=100, label=_("评分"))
    if points != points.to_integral_value():
        raise ValidationFailed({"score": _("评分应为 0 到 100 之间的整数。")})
    rating = next((r for r in evaluation.ratings if r.task_id == task.id), None)
    before = {"score": rating.score, "comment": rating.comment} if rating else None
    if rating is None:
        rating = TaskRating(evaluation=evaluation, task=task, score=int(points), rated_at=now)
        db.session.add(rating)
    rating.score, rating.comment = int(points), (comment or "").strip()[:REASON_LIMIT]
    rating.rated_at, rating.rated_by = now, actor
    record("evaluation.rate", evaluation, actor=actor, now=now, comment=rating.comment,
           data={"task": task.code, "before": before, "score": rating.score})
    compute_evaluation(evaluation, actor=actor, now=now)
    return rating


def adjust_score(evaluation: Evaluation, department: Department, *, points, reason: str, actor: User,
                 now: datetime) -> ScoreAdjustment:
    """Add points (+ or −) to a department's score; the reason is required and printed in the report."""
    _editable(evaluation, actor)
    errors: dict[str, str] = {}
    delta = text = None
    try:
        delta = _number(points, "points", low=-100, high=100, label=_("调整分值"))
        if delta == 0:
            errors["points"] = _("调整分值不能为 0。")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        text = _reason(reason, "reason", _("调整分数必须说明理由。"))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:   # both fields at once, so the office corrects the form in one go
        raise ValidationFailed(errors)
    score_of(evaluation, department)
    adjustment = ScoreAdjustment(evaluation=evaluation, department=department, points=delta.quantize(Decimal("0.01")),
                                 reason=text, created_at=now, created_by=actor)
    db.session.add(adjustment)
    db.session.flush()
    record("evaluation.adjust", evaluation, actor=actor, now=now, comment=text,
           data={"department": department.name, "points": float(delta)})
    compute_evaluation(evaluation, actor=actor, now=now)
    return adjustment


def set_milestone(evaluation: Evaluation, target: Target, *, year, value, actor: User,
                  now: datetime) -> TargetMilestone | None:
    """The value a target should reach by `year` (an empty value removes the milestone)."""
    _editable(evaluation, actor)
    if target.plan_id != evaluation.plan_id:
        raise NotFound(_("该指标不属于本方案。"))
    at = int(_number(year, "year", low=1990, high=MAX_YEAR, label=_("年份")))
    if target.year and at > target.year:
        raise ValidationFailed({"year": _("节点年份不能晚于目标年份 %(year)s。", year=target.year)})
    milestone = db.session.scalar(select(TargetMilestone).where(TargetMilestone.target_id == target.id,
                                                                TargetMilestone.year == at))
    if value in (None, ""):
        if milestone is not None:
            db.session.delete(milestone)
        result = None
    else:
        number = _number(value, "value", low=-1e12, high=1e12, label=_("节点值"))
        if milestone is None:
            milestone = TargetMilestone(target=target, year=at, value=number, created_at=now, created_by_id=actor.id)
            db.session.add(milestone)
        milestone.value = number
        result = milestone
    record("evaluation.milestone", evaluation, actor=actor, now=now,
           data={"target": target.id, "year": at, "value": None if result is None else float(result.value)})
    compute_evaluation(evaluation, actor=actor, now=now)
    return result


# -- sign-off and reopening ---------------------------------------------------------------------------------

def sign_off(evaluation: Evaluation, *, actor: User, now: datetime, note: str = "",
             version: int | None = None) -> Evaluation:
    """A leader signs off: the scores are computed once more and frozen."""
    check(evaluation, "sign_off", actor=actor, version=version)
    note = (note or "").strip()[:REASON_LIMIT]
    with committed(evaluation):
        _store(evaluation, scoring.compute(evaluation, local(now).date()), actor=actor, now=now)
        if not evaluation.scores:
            raise Conflict(_("没有可签认的评估结果。"))
        left_out = [s.department.name for s in evaluation.scores if s.group_name == scoring.UNGROUPED]
        if left_out:
            raise Conflict(_("%(names)s不在任何排名分组中，请办公室先修改排名分组再签认。", names="、".join(left_out)))
        apply_transition(evaluation, "sign_off", actor=actor, now=now, comment=note, commit=False,
                         changes={"signed_off_at": now, "signed_off_by": actor, "sign_off_note": note,
                                  "freeze_round": evaluation.freeze_round + 1})
    return evaluation


def reopen(evaluation: Evaluation, *, actor: User, now: datetime, reason: str) -> Evaluation:
    check(evaluation, "reopen", actor=actor)
    text = _reason(reason, "reason", _("重新开启必须说明理由。"))
    apply_transition(evaluation, "reopen", actor=actor, now=now, comment=text,
                     changes={"signed_off_at": None, "signed_off_by": None, "sign_off_note": ""})
    # The draft shows today's data again, not the numbers that were frozen.
    return compute_evaluation(evaluation, actor=actor, now=now)
