"""``python -m control``: run the control plane (see ``control.main``).

The API server's workers are cooperative (gevent): the standard library's blocking calls are
patched here, before anything imports socket, ssl, threading or redis, so that every module,
gunicorn's master included, sees the cooperative ones and no lock or socket is made before the
patch; ``threading.Event`` is then ``common.greenevent``'s. The controller process is another
interpreter, left unpatched (``control.controllerprocess``).
"""

from gevent import monkey

monkey.patch_all()

from common import greenevent  # noqa: E402

greenevent.patch()  # before any Event is made

import sys  # noqa: E402

from control import metricsdir  # noqa: E402

# Before anything imports prometheus-client: the workers' metrics are kept in files and summed.
metricsdir.prepare()

from control.main import main  # noqa: E402

sys.exit(main())
