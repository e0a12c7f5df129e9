"""What the national dashboard computes once and keeps in the cache, and when it is forgotten.

At 10 000 candidatures, recomputing on each request each region's mean and deviation (the
normalisation), the charts' figures and the order of every row (on the normalised score, the
review spread…) cost most of the dashboard's time, for figures that change only when the
regions' work changes. So they are computed once and kept in Django's cache (Redis in
production, shared by every web process), under a *version* of the call:

- ``remember(call_id, name, compute)`` returns the value kept under the call's current version,
  computing and keeping it on a miss;
- ``changed(call_id)`` gives the call a new version: everything kept for it is forgotten at once.

``changed`` is called whenever something the dashboard reads of a call changes:

- through the models' ``post_save`` and ``post_delete`` signals (connected in
  ``EvaluationConfig.ready()``, so that the domain functions, the admin, the factories and the
  shell are all covered): a candidature past draft (submission, admissibility, complements,
  region move, hand-over, withdrawal, decision), a collegial opinion, a review submitted or
  reopened (or its total changed once submitted), a CNA analysis, a decision (saved), a
  conflict of interest, the call itself; a PTCE or a region renamed changes every call
  (``changed_everywhere``);
- explicitly where rows are written without ``save()`` (``bulk_create``, ``bulk_update``,
  ``QuerySet.update`` or ``delete``): the ranking, the detected conflicts, the decisions of a
  fixed or reopened list, the review totals recomputed after a grid change.

A new version is set at once (the same transaction, e.g. a test, sees it) and again after the
commit: a request that read the new version before the commit, and so computed from the data
before it, cannot keep its figures under the version readers use afterwards. If the cache loses
a version (eviction, restart), a new one is drawn: nothing older can be read back. Entries also
expire after ``TIMEOUT``, a safety net for writes that bypass all of the above (raw SQL).
"""

import hashlib
import uuid

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from ami.models import Call, Region
from candidatures.models import Candidature, CandidatureState, Ptce

from .models import (
    ConflictOfInterest,
    Decision,
    NationalReview,
    RegionalOpinion,
    Review,
    ReviewState,
)

TIMEOUT = 60 * 60  # seconds; versions themselves never expire
PREFIX = "national"
EVERYWHERE = f"{PREFIX}:all:version"


def _version_key(call_id) -> str:
    return f"{PREFIX}:{call_id}:version"


def _new_version() -> str:
    return uuid.uuid4().hex


def _versions(call_id) -> str:
    """The call's version and the one every call shares (names), created when missing."""
    keys = (_version_key(call_id), EVERYWHERE)
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, _new_version(), timeout=None)
            found[key] = cache.get(key)
    return "-".join(found[key] for key in keys)


def remember(call_id, name: str, compute):
    """The value ``name`` of the call, computed by ``compute()`` once per version of the call."""
    key = f"{PREFIX}:{call_id}:{_versions(call_id)}:{name}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, TIMEOUT)
    return value


def user_scope(user) -> str:
    """What a user's cached figures depend on besides the call: who they are (their conflicts
    of interest hide candidatures) and whether they are staff (who see everything)."""
    return f"{user.pk}{'s' if user.is_staff else ''}"


def params_digest(params, *, ignored=("page",)) -> str:
    """A short, stable name for a query string (the filters and the sort of a list; the page
    number is not part of it)."""
    items = sorted((key, tuple(params.getlist(key))) for key in params if key not in ignored)
    return hashlib.sha256(repr(items).encode()).hexdigest()[:32]


def _bump(key):
    def bump():
        cache.set(key, _new_version(), timeout=None)

    bump()
    transaction.on_commit(bump)


def changed(call_id) -> None:
    """Forget everything kept for the call, now and once the current transaction commits."""
    if call_id is not None:
        _bump(_version_key(call_id))


def changed_everywhere() -> None:
    """Forget everything kept for every call (a PTCE or a region renamed)."""
    _bump(EVERYWHERE)


# --- Signal receivers (connected in ``EvaluationConfig.ready()``) --------------------------------


def _call_of(instance):
    """The call of a row that points to a candidature, without a query when it is loaded."""
    if type(instance).candidature.is_cached(instance):
        return instance.candidature.call_id
    return (
        Candidature.objects.filter(pk=instance.candidature_id)
        .values_list("call_id", flat=True)
        .first()
    )


def _candidature_saved(sender, instance, **kwargs):
    # Drafts are never on the dashboard; a draft leaves that state only through a save in its
    # new state (submitted, withdrawn), which is seen here.
    if instance.state != CandidatureState.DRAFT:
        changed(instance.call_id)


def _row_of_candidature_saved(sender, instance, **kwargs):
    changed(_call_of(instance))


def _review_saved(sender, instance, update_fields=None, **kwargs):
    # Only submitted reviews count; a draft's autosave (``update_fields`` without the state)
    # changes nothing the dashboard shows, its submission and reopening change the state.
    if instance.state == ReviewState.SUBMITTED or update_fields is None or "state" in update_fields:
        changed(_call_of(instance))


def _call_saved(sender, instance, **kwargs):
    changed(instance.pk)


def _renamed(sender, instance, created=False, update_fields=None, **kwargs):
    # A new PTCE or region has no candidature yet; other fields than the name are not kept.
    if not created and (update_fields is None or "name" in update_fields):
        changed_everywhere()


def connect() -> None:
    """Saves and deletes of one row (``save()``, ``delete()``, the admin, a cascade). Decisions'
    deletes are not listened to: the list's are in bulk (``deliberation``, which calls
    ``changed``), and a listener would make Django load each deleted row."""
    for signal in (post_save, post_delete):
        uid = f"national-cache-{signal is post_save}"
        signal.connect(_candidature_saved, sender=Candidature, dispatch_uid=uid)
        for model in (RegionalOpinion, NationalReview, ConflictOfInterest):
            signal.connect(_row_of_candidature_saved, sender=model, dispatch_uid=uid)
        signal.connect(_review_saved, sender=Review, dispatch_uid=uid)
    post_save.connect(_row_of_candidature_saved, sender=Decision, dispatch_uid="national-cache")
    post_save.connect(_call_saved, sender=Call, dispatch_uid="national-cache")
    for model in (Ptce, Region):
        post_save.connect(_renamed, sender=model, dispatch_uid="national-cache")
