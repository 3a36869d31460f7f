"""SQLAlchemy 2.0 typed models, one module per domain. Importing this package registers every table."""
from models.audit import AuditEvent
from models.org import Department, DepartmentAlias, DepartmentKind, Role, User
from models.plan import Assignment, AssignmentRole, Comparator, OutlineNode, Plan, Target, Task

__all__ = [
    "Assignment", "AssignmentRole", "AuditEvent", "Comparator", "Department", "DepartmentAlias",
    "DepartmentKind", "OutlineNode", "Plan", "Role", "Target", "Task", "User",
]
