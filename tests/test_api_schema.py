"""Schemathesis against /api/openapi.json: every operation, logged in as a director, with
generated inputs, on SQLite and PostgreSQL: never a 5xx, every answer as its schema says.
INCUBATOR_SCHEMA_EXAMPLES sets the examples per operation (default 8: a bounded run)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from commands.bootstrap import bootstrap
from schedules.clock import FixedClock
from tests.api_support import Api, api_on

EXAMPLES = int(os.environ.get("INCUBATOR_SCHEMA_EXAMPLES", "8"))


@pytest.fixture
def director_api(database_url: str, clock: FixedClock) -> Iterator[tuple[Api, dict[str, str]]]:
    system = bootstrap(database_url, clock=clock)
    try:
        with api_on(system) as api:
            yield api, api.as_("director")
    finally:
        system.close_all()


@pytest.mark.slow
def test_every_operation_answers_as_its_schema_says(
    director_api: tuple[Api, dict[str, str]],
) -> None:
    api, headers = director_api
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 60
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def answers_as_documented(case: Any) -> None:
            if case.operation.path != "/api/token":
                case.headers = {**(case.headers or {}), **headers}
            response = case.call()
            case.validate_response(
                response,
                checks=[checks.not_a_server_error, checks.response_schema_conformance],
            )

        answers_as_documented()
