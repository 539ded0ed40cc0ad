"""``python -m control``: run the control plane (see ``control.main``)."""

import sys

from control.main import main

sys.exit(main())
