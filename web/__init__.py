"""The web application (issue #15): server-rendered pages for a park's staff, Chinese first."""
