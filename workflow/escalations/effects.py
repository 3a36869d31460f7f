"""What the escalations domain does when other things change state: an escalation closes by itself once its
report or contribution has been submitted. Registered on the transitions at import (workflow/__init__)."""
from __future__ import annotations

from datetime import datetime

from models import Contribution, Escalation, Report, User
from workflow import transitions


def settle(*criteria, actor: User | None, now: datetime) -> list[Escalation]:
    """Close the open escalations matching `criteria` as settled by submission (audited, caller's transaction)."""
    return transitions.apply_bulk(Escalation, "settle", *criteria, actor=actor, now=now,
                                  changes={"closed_at": now, "close_reason": "submitted"},
                                  data={"close_reason": "submitted"})


@transitions.on("report", "submit")
@transitions.on("contribution", "submit")
def close_on_submission(obj: Report | Contribution, *, actor: User | None, now: datetime) -> None:
    """In the submission's own transaction, so the office's list is right at once rather than at the next
    reminder pass."""
    subject = Escalation.report_id if isinstance(obj, Report) else Escalation.contribution_id
    settle(subject == obj.id, actor=actor, now=now)
