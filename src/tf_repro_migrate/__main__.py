"""Entry point for ``python -m tf_repro_migrate``."""

import sys

from tf_repro_migrate.cli import main

if __name__ == "__main__":
    sys.exit(main())
