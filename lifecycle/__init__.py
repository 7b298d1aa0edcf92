"""Aggregates and their state machines: what an incubation case is and which steps it may take."""
