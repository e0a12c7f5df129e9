import gc
import importlib
import sys


def test_the_wsgi_module_freezes_what_it_loaded():
    """gunicorn's workers import ``ami.wsgi`` once: what it loaded (Django, the apps, the
    URLconf) is frozen out of the garbage collector's full collections."""
    gc.unfreeze()
    sys.modules.pop("ami.wsgi", None)
    try:
        module = importlib.import_module("ami.wsgi")
        assert gc.get_freeze_count() > 100_000
        assert callable(module.application)
    finally:
        gc.unfreeze()
