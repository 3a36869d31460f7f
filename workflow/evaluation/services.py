"""The office's and leaders' operations on an annual evaluation: compute, settings, ratings, adjustments,
milestones, sign-off (freezes) and reopening. Every change is audited; a frozen evaluation refuses all of
them but reopening, and computing it only shows the stored result.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select

from models import Department, Plan, PlanStatus, Target, Task, User
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
from workflow.transitions import apply_transition, check, committed

REASON_LIMIT = 2000
MIN_YEAR, MAX_YEAR = 2000, 2100



# -- finding -----------------------------------------------------------------------------------------------

def check_year(year: int) -> int:
    if not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed({"year": f"年度应为 {MIN_YEAR}–{MAX_YEAR} 之间的四位数字。"})
    return year


def find_evaluation(plan: Plan, year: int) -> Evaluation | None:
    return db.session.scalar(select(Evaluation).where(Evaluation.plan_id == plan.id, Evaluation.year == year))


def get_or_create(plan: Plan, year: int, *, now: datetime) -> Evaluation:
    check_year(year)
    if plan.status != PlanStatus.PUBLISHED:
        raise Conflict(f"方案 #{plan.id} 尚未发布，没有可评估的报送记录。")
    evaluation = find_evaluation(plan, year)
    if evaluation is None:
        evaluation = Evaluation(plan=plan, year=year, created_at=now, settings={})
        db.session.add(evaluation)
        db.session.flush()
    return evaluation


def score_of(evaluation: Evaluation, department: Department) -> DepartmentScore:
    row = next((s for s in evaluation.scores if s.department_id == department.id), None)
    if row is None:
        raise NotFound(f"{department.name} 在 {evaluation.year} 年度没有可评估的任务。")
    return row


def _editable(evaluation: Evaluation, actor: User) -> None:
    require(actor.can_manage_evaluations(), "只有领导小组办公室可以修改年度评估。")
    if evaluation.frozen:
        raise Conflict("年度评估已由领导签认并冻结；如需修改，请由办公室先说明理由重新开启。")


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
            base_score=row["base_score"], deduction=row["deduction"], adjustment=row["adjustment"],
            score=row["score"], grade=row["grade"], parts=row["parts"], detail=row["detail"]))
    evaluation.computed_at, evaluation.computed_by = now, actor
    db.session.flush()
    db.session.expire(evaluation, ["scores"])


def result_json(evaluation: Evaluation) -> dict:
    """The contract's shape: {"plan_id", "year", "frozen", "departments": [{"department", "score", "grade",
    "parts"}]}, plus the settings and sign-off."""
    return {
        "plan_id": evaluation.plan_id, "year": evaluation.year, "frozen": evaluation.frozen,
        "computed_at": local(evaluation.computed_at).isoformat() if evaluation.computed_at else None,
        "signed_off_at": local(evaluation.signed_off_at).isoformat() if evaluation.signed_off_at else None,
        "signed_off_by": evaluation.signed_off_by.display if evaluation.signed_off_by else None,
        "settings": scoring.effective_settings(evaluation),
        "departments": [
            {"department": s.department.name, "rank": s.rank,
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
        raise ValidationFailed({field: f"{label}应为数字。"}) from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationFailed({field: f"{label}应在 {low:g} 到 {high:g} 之间。"})
    return number


def _reason(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed({field: message})
    if len(text) > REASON_LIMIT:
        raise ValidationFailed({field: f"不超过 {REASON_LIMIT} 字。"})
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

    for role, label in (("lead", "牵头任务权重"), ("co", "配合任务权重")):
        take(f"weight_{role}", settings["role_weights"], role, 0, 1, label)
    for part in scoring.PARTS:
        take(f"part_{part}", settings["part_weights"], part, 0, 100, scoring.PART_NAMES[part] + "权重")
    for grade in scoring.GRADES[:-1]:
        take(f"threshold_{grade}", settings["thresholds"], grade, 0, 100, f"{grade}分数线")
    for key, label, high in (("late_points_per_day", "逾期每天扣分", 100), ("late_floor", "逾期最低分", 100),
                             ("escalation_points", "每次督办扣分", 100), ("escalation_cap", "督办扣分上限", 100)):
        take(key, settings, key, 0, high, label)
    if values.get("base_year") not in (None, ""):
        try:
            settings["base_year"] = int(_number(values["base_year"], "base_year", low=1990, high=MAX_YEAR,
                                                label="基期年份"))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    merged = scoring.effective_settings(evaluation)
    for key, value in settings.items():
        if isinstance(value, dict):
            merged[key].update(value)
        else:
            merged[key] = value
    thresholds = [merged["thresholds"][g] for g in scoring.GRADES[:-1]]
    if not errors and not thresholds[0] > thresholds[1] > thresholds[2]:
        errors["threshold_良好"] = "分数线应依次降低：优秀 > 良好 > 一般。"
    if not errors and merged["base_year"] >= evaluation.year:
        errors["base_year"] = f"基期年份应早于评估年度 {evaluation.year}。"
    if not errors and not any(merged["part_weights"].get(p) for p in scoring.PARTS):
        errors["part_timeliness"] = "各部分权重不能全为 0。"
    if errors:
        raise ValidationFailed(errors)
    before = evaluation.settings or {}
    evaluation.settings = {**before, **{k: ({**before.get(k, {}), **v} if isinstance(v, dict) else v)
                                        for k, v in settings.items()}}
    record("evaluation.settings", evaluation, actor=actor, now=now, data={"before": before,
                                                                       "after": evaluation.settings})
    return compute_evaluation(evaluation, actor=actor, now=now)


def rate_task(evaluation: Evaluation, task: Task, *, score, comment: str, actor: User, now: datetime) -> TaskRating:
    _editable(evaluation, actor)
    if task.plan_id != evaluation.plan_id:
        raise NotFound("该任务不属于本方案。")
    points = _number(score, "score", low=0, high=100, label="评分")
    if points != points.to_integral_value():
        raise ValidationFailed({"score": "评分应为 0 到 100 之间的整数。"})
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
        delta = _number(points, "points", low=-100, high=100, label="调整分值")
        if delta == 0:
            errors["points"] = "调整分值不能为 0。"
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        text = _reason(reason, "reason", "调整分数必须说明理由。")
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
        raise NotFound("该指标不属于本方案。")
    at = int(_number(year, "year", low=1990, high=MAX_YEAR, label="年份"))
    if target.year and at > target.year:
        raise ValidationFailed({"year": f"节点年份不能晚于目标年份 {target.year}。"})
    milestone = db.session.scalar(select(TargetMilestone).where(TargetMilestone.target_id == target.id,
                                                                TargetMilestone.year == at))
    if value in (None, ""):
        if milestone is not None:
            db.session.delete(milestone)
        result = None
    else:
        number = _number(value, "value", low=-1e12, high=1e12, label="节点值")
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
            raise Conflict("没有可签认的评估结果。")
        apply_transition(evaluation, "sign_off", actor=actor, now=now, comment=note, commit=False,
                         changes={"signed_off_at": now, "signed_off_by": actor, "sign_off_note": note,
                                  "freeze_round": evaluation.freeze_round + 1})
    return evaluation


def reopen(evaluation: Evaluation, *, actor: User, now: datetime, reason: str) -> Evaluation:
    check(evaluation, "reopen", actor=actor)
    text = _reason(reason, "reason", "重新开启必须说明理由。")
    apply_transition(evaluation, "reopen", actor=actor, now=now, comment=text,
                     changes={"signed_off_at": None, "signed_off_by": None, "sign_off_note": ""})
    # The draft shows today's data again, not the numbers that were frozen.
    return compute_evaluation(evaluation, actor=actor, now=now)
