"""Example Prefect flows (artiflow artifact tasks); see docs/prefect.md."""
