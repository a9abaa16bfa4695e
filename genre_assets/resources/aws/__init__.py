"""The aws deployment: S3 lake, Glue catalog and an EMR engine with one transient cluster per run.

`clients` (boto3 clients), `s3_lake`, `glue_catalog`, `glue_tables` (how a table looks in Glue),
`emr_cluster` (the job-flow request, steps, waits, cost) and `emr_engine` (the resource).
"""
