"""The HTTP API (FastAPI): the command messages as endpoints, the reads, problems as RFC 9457.

An adapter: it translates requests into messages and queries of `commands/` and their answers
and refusals into JSON; no rule lives here.
"""
