"""The dispatching rule's order: the starting plan of every default solve."""

from scheduler import greedy
from scheduler.problem import parse_problem


def request(qid: str, org: str, due: int, **fields: object) -> dict:
    steps = [{"id": "s1", "duration_minutes": 100, "resources": ["R"]}]
    return {"id": qid, "org": org, "due": due, "steps": steps, **fields}


def test_organizations_take_turns_among_equal_requests() -> None:
    # Room for two of the four; by due date alone, sme-a's early requests would take both.
    problem = parse_problem(
        {
            "resources": [{"id": "R", "open": [[0, 200]]}],
            "requests": [
                request("A1", "sme-a", 100),
                request("A2", "sme-a", 110),
                request("A3", "sme-a", 120),
                request("B1", "sme-b", 300),
            ],
        }
    )
    assert [q.id for q in greedy.priority_order(problem)] == ["A1", "B1", "A2", "A3"]
    plan, unplaced = greedy.list_schedule(problem)
    assert {a.request for a in plan} == {"A1", "B1"}
    assert unplaced == ["A2", "A3"]


def test_key_projects_and_weight_still_come_before_turns() -> None:
    problem = parse_problem(
        {
            "resources": [{"id": "R"}],
            "requests": [
                request("A1", "sme-a", 100),
                request("B1", "sme-b", 100),
                request("B2", "sme-b", 500, weight=3),
                request("A2", "sme-a", 900, key_project=True),
            ],
        }
    )
    assert [q.id for q in greedy.priority_order(problem)] == ["A2", "B2", "A1", "B1"]
