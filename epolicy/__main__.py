"""The `epolicy` console script: Django's management commands with the project's settings."""

import os
import sys
import warnings


def main() -> None:
    # pyHanko still imports cryptography's DSA types, which warn on import; the platform never uses DSA,
    # and the warning on every command's first line only hides what the command says.
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["epolicy", *sys.argv[1:]])


if __name__ == "__main__":
    main()
