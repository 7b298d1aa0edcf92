"""Application services: how a caseworker's command becomes events in the log."""
