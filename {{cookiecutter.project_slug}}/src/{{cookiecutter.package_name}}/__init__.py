"""The project's ML code, the local/Databricks platform seam and the local job runner."""
