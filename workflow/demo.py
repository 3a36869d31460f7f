"""Demo data: the bundled plan and one account per role and department, for `make run` and training."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from models import Assignment, Department, Plan, Role, User
from workflow.admin.services import create_user
from workflow.extensions import db
from workflow.plans.importer import import_plan
from workflow.plans.parsing import parse_plan_bytes
from workflow.plans.services import sha256_of


def database_is_empty() -> bool:
    return not (db.session.scalar(select(func.count(Plan.id))) or db.session.scalar(select(func.count(User.id))))


def load_demo(*, now: datetime, plan_path: str | None = None) -> dict | None:
    """Import the demo plan and create the demo accounts; None (and no change) when the database has data."""
    if not database_is_empty():
        return None
    path = Path(plan_path or current_app.config["DEMO_PLAN_PATH"])
    data = path.read_bytes()
    plan = import_plan(parse_plan_bytes(data, path.name), source_filename=path.name,
                       source_sha256=sha256_of(data), actor=None, now=now, commit=False)
    password = current_app.config["DEMO_PASSWORD"]
    accounts: list[dict] = []

    def add(username: str, role: str, display: str, department: Department | None = None) -> None:
        create_user(username, password, role, now=now, department=department, display_name=display,
                    email=f"{username}@example.gov.cn")
        accounts.append({"username": username, "password": password, "role": role,
                         "department": department.name if department else None})

    add("office", Role.OFFICE, "领导小组办公室")
    add("leader", Role.LEADER, "分管领导")
    add("admin", Role.ADMIN, "系统管理员")
    departments = db.session.scalars(
        select(Department).where(Department.id.in_(select(Assignment.department_id))).order_by(Department.id)
    ).all()
    for number, dept in enumerate(departments, start=1):
        add(f"liaison{number:02d}", Role.LIAISON, f"{dept.name}联络员", dept)
        add(f"head{number:02d}", Role.DEPT_HEAD, f"{dept.name}负责人", dept)
    db.session.commit()  # the plan and the accounts together, or neither
    return {"plan_id": plan.id, "accounts": accounts}
