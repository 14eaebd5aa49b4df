"""Example Prefect flows (artiflow artifact tasks); see the "Prefect" section of README.md."""
