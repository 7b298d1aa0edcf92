"""Personal data (个人信息) in the record, and what is left of it once erased.

An event names the fields of its own that hold personal data of applicants or members
(`personal_data = ("contact",)`); the log stores each such field sealed under the key of the
event's aggregate, the data subject (store/personal.py). Names of the park's own people —
actors, caseworkers, instructors, experts — are not among them: they are the record's
accountability (who decided what), not data about the people the park serves.

Once a subject's personal data is erased (个人信息删除权), each of its personal fields reads as
`ERASED`, in every view, history, export and read model, however it is read.
"""

from __future__ import annotations


class Erased(str):
    """What a personal field holds once erased: it says so (已删除) wherever it is shown, as text,
    and is told apart from any name by its type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ERASED"


ERASED = Erased("已删除")


def is_erased(value: object) -> bool:
    return isinstance(value, Erased)
