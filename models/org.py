"""Organisation: departments (with aliases) and the people who act for them."""
from __future__ import annotations

import enum
from datetime import date, datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from models.base import UTCDateTime, db, in_clause


class DepartmentKind(enum.StrEnum):
    MUNICIPAL = "municipal"
    COUNTY = "county"
    ZONE = "zone"
    OTHER = "other"
    COLLECTIVE = "collective"   # one assignee standing for its members (各区、县级市)


class Role(enum.StrEnum):
    ADMIN = "admin"
    OFFICE = "office"
    LEADER = "leader"
    LIAISON = "liaison"
    DEPT_HEAD = "dept_head"


DEPARTMENT_ROLES = (Role.LIAISON, Role.DEPT_HEAD)


#: A collective assignee (各区、县级市) and the units it stands for; publishing gives each member its own
#: assignment in the collective's place.
department_member = Table(
    "department_member", db.metadata,
    Column("collective_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class Department(db.Model):
    __tablename__ = "department"
    __table_args__ = (CheckConstraint(f"kind IN ({in_clause(*DepartmentKind)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=DepartmentKind.OTHER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    aliases: Mapped[list[DepartmentAlias]] = relationship(
        back_populates="department", cascade="all, delete-orphan", order_by="DepartmentAlias.id"
    )
    members: Mapped[list[Department]] = relationship(
        secondary=department_member, primaryjoin=lambda: Department.id == department_member.c.collective_id,
        secondaryjoin=lambda: Department.id == department_member.c.member_id, order_by=lambda: Department.name,
    )

    def __repr__(self) -> str:
        return f"<Department {self.name}>"

    @property
    def is_collective(self) -> bool:
        return self.kind == DepartmentKind.COLLECTIVE

    @property
    def alias_names(self) -> list[str]:
        return [a.name for a in self.aliases]

    def visible_to(self, user: User) -> bool:
        """Its tasks, reports and evaluation: everyone who sees everything, and its own people."""
        return user.sees_everything or user.department_id == self.id

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        """visible_to as a where-clause (search): a department's people find their own department only."""
        return true() if user.sees_everything else cls.id == (user.department_id or -1)

    @classmethod
    def lookup(cls, name: str) -> Department | None:
        """Find a department by its canonical name or any alias."""
        dept = db.session.scalar(select(cls).where(cls.name == name))
        if dept is None:
            dept = db.session.scalar(
                select(cls).join(DepartmentAlias).where(DepartmentAlias.name == name)
            )
        return dept


class DepartmentAlias(db.Model):
    """Another name of a department, e.g. the name of a bureau it absorbed."""

    __tablename__ = "department_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    department: Mapped[Department] = relationship(back_populates="aliases")


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(f"role IN ({in_clause(*Role)})", name="role"),
        CheckConstraint(
            f"role NOT IN ({in_clause(*DEPARTMENT_ROLES)}) OR department_id IS NOT NULL",
            name="department_role_has_department",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # 'pass': one digest per scheduler pass; 'daily': at most one digest a day.
    digest_frequency: Mapped[str] = mapped_column(String(10), default="pass")
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session and remember cookie (get_id): bumping it signs the user out everywhere.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Consecutive wrong passwords, and the lockout they caused (workflow/auth/services.py).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship()

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.active

    def is_locked(self, now: datetime) -> bool:
        """Locked out by too many wrong passwords (workflow/auth/services.py) until locked_until."""
        return self.locked_until is not None and self.locked_until > now

    def get_id(self) -> str:
        """Flask-Login's id in the session and remember cookies: "id:epoch", so a bumped epoch voids them."""
        return f"{self.id}:{self.session_epoch or 0}"

    def end_sessions(self) -> None:
        """Void every session and remember cookie issued so far (password change, reset, deactivation)."""
        self.session_epoch = (self.session_epoch or 0) + 1

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # Permissions live on the models (here and on the objects they guard): services enforce them, the list
    # queries use their `visible_filter` counterparts, templates reuse them to hide what a user may not do.
    @property
    def sees_everything(self) -> bool:
        """Office, leaders and admins read every plan and department; liaisons and heads their own."""
        return self.role in (Role.OFFICE, Role.LEADER, Role.ADMIN)

    @property
    def is_reviewer(self) -> bool:
        """Approves and returns reports, publishes plans, decides adjustments: the leading-group office."""
        return self.role == Role.OFFICE

    @property
    def is_overseer(self) -> bool:
        """Reads the office's pages (review queue, adjustments, periods); leaders without the buttons."""
        return self.role in (Role.OFFICE, Role.LEADER)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def is_liaison_of(self, department_id: int | None) -> bool:
        """The department's liaison: the one who writes its reports and answers its assignments."""
        return self.role == Role.LIAISON and department_id is not None and self.department_id == department_id

    def can_review(self, report) -> bool:
        """Approve or return that report (the rule is the report's: it depends on its state)."""
        return report.can_review(self)

    def can_import_plans(self) -> bool:
        return self.role in (Role.OFFICE, Role.ADMIN)

    def can_manage_calendar(self) -> bool:
        """Enter and delete the holiday arrangements (放假调休) every deadline is computed on."""
        return self.role in (Role.OFFICE, Role.ADMIN)

    def can_edit_reminder_rules(self) -> bool:
        return self.role == Role.OFFICE

    def can_name_substitutes(self) -> bool:
        """The people reminders reach (liaisons, heads) name their own; the admin names anyone's."""
        return self.role in (Role.LIAISON, Role.DEPT_HEAD, Role.ADMIN)

    def can_manage_substitutes_of(self, principal: User) -> bool:
        return self.is_admin or (self.id == principal.id and self.role in DEPARTMENT_ROLES)

    def can_edit_settings_of(self, user: User) -> bool:
        """Notification preferences and the like: one's own, or anyone's for the admin."""
        return self.id == user.id or self.is_admin

    def can_list_escalations(self) -> bool:
        """The office and leaders see every escalation; a department head its own department's, read-only."""
        return self.is_overseer or (self.role == Role.DEPT_HEAD and self.department_id is not None)

    def can_close_escalations(self) -> bool:
        """Only the leading-group office closes an escalation by hand."""
        return self.is_reviewer

    def can_write_instructions(self) -> bool:
        """领导批示: a leader writes one; the office records a leader's written instruction on their behalf."""
        return self.role in (Role.LEADER, Role.OFFICE)

    def can_list_instructions(self) -> bool:
        """Leaders and the office see every instruction; a department's people the ones addressed to it."""
        return self.is_overseer or (self.role in DEPARTMENT_ROLES and self.department_id is not None)

    def can_manage_evaluations(self) -> bool:
        """Open, compute, adjust, rate and reopen the annual evaluation: the office."""
        return self.role == Role.OFFICE

    def can_sign_off_evaluations(self) -> bool:
        return self.role == Role.LEADER

    def can_manage_bulletins(self) -> bool:
        """Open, edit and publish the 情况通报: the leading-group office."""
        return self.role == Role.OFFICE

    def can_read_bulletin_drafts(self) -> bool:
        """Drafts are read by the office and leaders before they go out; published ones by everyone."""
        return self.is_overseer

    @property
    def display(self) -> str:
        return self.display_name or self.username


class ApiToken(db.Model):
    """A personal API token; only its sha256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Substitute(db.Model):
    """While a liaison or head is away, reminders meant for them go to the substitute too."""

    __tablename__ = "substitute"
    __table_args__ = (CheckConstraint("start_date <= end_date", name="date_order"),
                      CheckConstraint("user_id <> substitute_id", name="not_self"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])
