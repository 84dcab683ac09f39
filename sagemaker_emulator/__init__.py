"""A local emulator of Amazon SageMaker's training and hosting APIs that really trains and serves."""

__version__ = "0.1.0"
