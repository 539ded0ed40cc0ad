"""``python -m agent``: run the node agent (see ``agent.main``)."""

import sys

from agent.main import main

sys.exit(main())
