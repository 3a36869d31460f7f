"""Whatever arrives, the API answers within its document: schemathesis generates requests from
/api/v1/openapi.json (schema-valid ones and schema-invalid ones), sends them in-process to the WSGI app with an
office and a liaison token on a published plan, and fails on any server error, any response the document does
not describe, and any schema-invalid request the API accepts. Bounded: a few examples per operation."""
from __future__ import annotations

from datetime import UTC, datetime

import schemathesis
import time_machine
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import liaison_of, published_fushun, report_for
from workflow.auth.tokens import create_token

LATER = datetime(2026, 4, 3, 2, 0, tzinfo=UTC)
EXAMPLES = 5
# Unknown query parameters are ignored, as is customary; the token is sent by the test, not generated.
CONFIG = schemathesis.Config.from_dict({"generation": {"allow-extra-parameters": False,
                                                       "with-security-parameters": False}})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _real_ids(plan, report) -> dict[str, int]:
    """Ids of records that exist, so that generated requests reach the services and not only the 404."""
    contribution = next(iter(report.task.co), None)
    ids = {"plan_id": plan.id, "task_id": report.task_id, "report_id": report.id,
           "assignment_id": next(a.id for a in report.task.assignments if a.department_id == report.department_id)}
    if contribution is not None:
        from workflow.reports.services import contributions_for

        ids["contribution_id"] = contributions_for(report)[0].id
    return ids


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(app):
    with time_machine.travel(LATER, tick=False):
        plan, office_user = published_fushun()
        report = report_for(plan, "3.4.3")
        liaison = liaison_of("市住房城乡建设局")
        tokens = [create_token(user, name="fuzz", now=LATER, actor=user)[1] for user in (office_user, liaison)]
        ids = _real_ids(plan, report)
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 24
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, tokens, ids)


def _fuzz(operation, mode: GenerationMode, tokens: list[str], ids: dict[str, int]) -> None:
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), token=st.sampled_from(tokens), real=st.booleans())
    def run(case, token, real):
        if real and mode is GenerationMode.POSITIVE:
            for name in case.path_parameters or {}:
                case.path_parameters[name] = ids.get(name, case.path_parameters[name])
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it to make invalid (GET /me)
