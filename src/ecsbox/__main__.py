"""``python -m ecsbox`` is the ``ecsbox`` command."""

import sys

from ecsbox.cli.main import main

sys.exit(main())
