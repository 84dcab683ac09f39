"""The AWS edge: routing, the wire protocols, and the AWS error model. Knows no SageMaker."""
