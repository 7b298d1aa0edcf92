from commands.bootstrap import Incubator
from tests.builders import drive, new_case


def test_a_case_reaches_closed_and_the_caseload_shows_it(any_incubator: Incubator) -> None:
    case_id = new_case(any_incubator.service)
    drive(any_incubator.service, case_id, "closed")
    any_incubator.read_models.catch_up()
    [row] = any_incubator.read_models.caseload()
    assert (row["id"], row["stage"], row["workspace"]) == (str(case_id), "closed", None)
