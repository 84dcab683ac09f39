"""SageMaker's built-in algorithms, rebuilt: everything that runs inside a training or serving container.

Never imports ``sagemaker_emulator``: the container contract (``common.contract``) is the only seam.
"""
