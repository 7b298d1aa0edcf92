"""Where a reminder's mail stands: recorded by the reminder (lifecycle/reminder.py), listed by
the outbox (projections/outbox.py), which reads it without importing the aggregate."""

WAITING, CLAIMED, SENT, FAILED, GIVEN_UP, WITHDRAWN = (
    "waiting",
    "claimed",
    "sent",
    "failed",
    "given_up",
    "withdrawn",
)
