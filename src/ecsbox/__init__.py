"""ecsbox: the AWS container-operations stack, run for real on your own machine."""

__version__ = "0.1.0"
