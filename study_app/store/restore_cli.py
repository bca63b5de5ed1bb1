"""``xai-study restore``: the other half of :mod:`study_app.store.backup_cli` (one module per subcommand)."""

from study_app.store.backup_cli import add_restore_arguments as add_arguments
from study_app.store.backup_cli import run_restore as run

__all__ = ["add_arguments", "run"]
