"""The one error of ``xai-study serve``."""


class DeploymentError(RuntimeError):
    """The deployment cannot start as configured; the message says what to change."""
