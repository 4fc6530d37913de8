"""The local stack: MariaDB, an S3/Secrets Manager endpoint, a Slack receiver and the API.

Development and test tooling only; never packaged into the Lambda functions.
"""
