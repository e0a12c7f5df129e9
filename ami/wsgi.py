"""The WSGI application gunicorn serves (``ami.wsgi:application``)."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ami.settings.dev")
application = get_wsgi_application()

# Everything loaded so far (Django, every app, the URLconf and the views it imports) lives as long
# as the worker: move it out of the garbage collector's reach (gc.freeze), so that a full
# collection, which otherwise scans these objects again, only scans what requests allocate. In
# the rush's request mix (bench/request_cpu.py) a full collection came once in about 460 requests
# and took 110-140 ms of the request that triggered it; frozen, 14-16 ms (docs/performance.md).
import_module(settings.ROOT_URLCONF)
gc.collect()
gc.freeze()
