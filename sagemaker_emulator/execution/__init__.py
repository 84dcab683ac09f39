"""Where training jobs and endpoint instances run: backends that follow the SageMaker container contract."""
