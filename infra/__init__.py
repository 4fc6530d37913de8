"""Deployment as code: stage values, the IAM policy, the merged CloudFormation template, deploy commands (not packaged)."""
