"""The audit trail: who changed what and when on candidatures, documents, reviews, opinions,
decisions, calls and cells — the one place that says how changes are recorded and read.

Recording is django-pghistory's: a model decorated with ``@audit.track()`` gets an event model
(``<Model>History``) and PostgreSQL triggers that insert a copy of the row on every insert, update
and delete, whatever wrote it — ``save()``, ``QuerySet.update()``, ``bulk_create``,
``bulk_update`` or raw SQL. A trigger also refuses any UPDATE or DELETE of the event tables
(append-only). Each event row carries its own context (JSON, not a shared context row that a
later statement could rewrite): ``{"user": …, "url": …}`` and, when a staff member acts as a
user, ``"impersonator"``.

Who is the actor:
- in a web request, the logged-in user (``AuditContextMiddleware``);
- in domain functions, the ``actor`` they are given (``@audited``), so that commands, Celery
  tasks and tests record it too; ``with acting(user):`` does the same for any other block.

Reading: ``history_of(obj)`` (the admin's « Historique ») and ``candidature_history`` (the
candidature and what hangs on it, for the CNA) turn event rows into ``Change`` objects — who,
when, which fields, before and after — with a bounded number of queries.
"""

import functools
import inspect
import json
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import pghistory
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.models import Q, Subquery
from django.utils import timezone
from pghistory.middleware import HistoryMiddleware

INSERT, UPDATE, DELETE = "insert", "update", "delete"
ACTION_LABELS = {INSERT: "création", UPDATE: "modification", DELETE: "suppression"}

# Columns never shown in a change (noise, or not meaningful to a reader).
HIDDEN_FIELDS = {"id", "created_at", "updated_at", "file", "snapshot"}
# Related objects named in a change (small tables, cheap labels); others show their number.
NAMED_RELATIONS = {
    settings.AUTH_USER_MODEL.lower(),
    "ami.region",
    "ami.criterion",
    "ami.documenttype",
}
# Fields that name the object of a change, first found wins (« pièce justificative rapport.pdf »).
DESCRIBING_FIELDS = ("original_name", "name", "label", "evaluator", "reviewer", "user", "criterion")
MAX_VALUE_LENGTH = 160

# What the CNA's timeline of a candidature shows besides the candidature itself: event models
# whose rows point to the candidature (string references: they live in higher apps).
CANDIDATURE_RELATED_HISTORY = (
    "candidatures.DocumentHistory",
    "evaluation.ReviewHistory",
    "evaluation.RegionalOpinionHistory",
    "evaluation.NationalReviewHistory",
    "evaluation.DeliberationLineHistory",
    "evaluation.DecisionHistory",
)


# --- Recording --------------------------------------------------------------------------------


def track(*, exclude=()):
    """Class decorator: keep every insert, update and delete of the model in an append-only
    ``<Model>History`` table filled by database triggers."""

    def decorator(model_class):
        name = model_class._meta.verbose_name
        return pghistory.track(
            pghistory.InsertEvent(INSERT),
            pghistory.UpdateEvent(UPDATE),
            pghistory.DeleteEvent(DELETE),
            exclude=list(exclude),
            model_name=f"{model_class.__name__}History",
            obj_field=pghistory.ObjForeignKey(
                related_name="audit_events", related_query_name="audit_event"
            ),
            context_field=pghistory.ContextJSONField(),
            append_only=True,
            meta={
                "verbose_name": f"historique : {name}",
                "verbose_name_plural": f"historique : {model_class._meta.verbose_name_plural}",
                "ordering": ["-pgh_id"],
            },
        )(model_class)

    return decorator


_depth = threading.local()


@contextmanager
def _outermost_clears():
    """pghistory hands the context to the triggers with ``set_config(..., true)``, which lasts
    until the end of the transaction: when the outermost block ends inside a transaction, clear
    it, so that a later write of the same transaction is not credited to this actor."""
    _depth.value = getattr(_depth, "value", 0) + 1
    try:
        yield
    finally:
        _depth.value -= 1
        if _depth.value == 0 and connection.in_atomic_block and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('pghistory.context_id', '', true), "
                    "set_config('pghistory.context_metadata', '', true)"
                )


@contextmanager
def acting(user):
    """Every tracked write inside the block records ``user`` as its actor (``None``: the
    platform itself). Nested blocks restore the outer actor when they end."""
    user_id = getattr(user, "pk", None)
    with _outermost_clears(), pghistory.context() as context:
        missing = object()
        previous = context.metadata.get("user", missing)
        context.metadata["user"] = user_id
        try:
            yield
        finally:
            if previous is missing:
                context.metadata.pop("user", None)
            else:
                context.metadata["user"] = previous


def audited(function=None, *, actor: str = "actor"):
    """Decorator of a domain function: its writes record the user passed as argument ``actor``
    (``@audited`` or ``@audited(actor="coordinator")``)."""

    def decorator(function):
        signature = inspect.signature(function)
        if actor not in signature.parameters:
            raise TypeError(f"{function.__qualname__} has no argument {actor!r}.")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            user = signature.bind_partial(*args, **kwargs).arguments.get(actor)
            with acting(user):
                return function(*args, **kwargs)

        return wrapper

    return decorator(function) if function is not None else decorator


class AuditContextMiddleware(HistoryMiddleware):
    """pghistory's middleware (user and URL of every tracked write of the request; it follows a
    login during the request), plus the staff member when one acts as the user (django-hijack's
    session history)."""

    def get_context(self, request):
        context = super().get_context(request)
        user = getattr(request, "user", None)
        if getattr(user, "is_hijacked", False):
            hijackers = request.session.get("hijack_history") or []
            if hijackers:
                context["impersonator"] = int(hijackers[-1])
        return context

    def __call__(self, request):
        with _outermost_clears():
            return super().__call__(request)


# --- Reading ----------------------------------------------------------------------------------


@dataclass
class FieldChange:
    name: str
    label: str
    before: str
    after: str


@dataclass
class Change:
    at: datetime
    action: str  # INSERT, UPDATE or DELETE
    model_label: str  # « pièce justificative »
    object_id: int
    object_name: str
    actor: object = None  # a User, or None for the platform
    actor_id: int | None = None
    impersonator: object = None
    fields: list[FieldChange] = field(default_factory=list)
    sort_key: tuple = ()
    # The model field that names the object (its raw value sits in object_name until resolved).
    describing: object = field(default=None, repr=False, compare=False)

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)

    @property
    def actor_label(self) -> str:
        if self.actor is not None:
            return _user_label(self.actor)
        if self.actor_id is not None:
            return f"utilisateur n° {self.actor_id}"
        return "la plateforme"

    @property
    def impersonator_label(self) -> str:
        return _user_label(self.impersonator) if self.impersonator is not None else ""


@dataclass
class History:
    changes: list[Change]
    truncated: bool
    limit: int


def event_model_of(model) -> type[models.Model] | None:
    """The event model of a tracked model (``None`` when it is not tracked)."""
    event_models = getattr(model, "pgh_event_models", None) or {}
    return event_models.get(UPDATE) or next(iter(event_models.values()), None)


def history_of(obj, *, limit: int = 200) -> History:
    """The changes of one tracked object, newest first."""
    event_model = event_model_of(type(obj))
    if event_model is None:
        return History([], False, limit)
    return _history([(event_model, Q(pgh_obj_id=obj.pk))], limit)


def candidature_history(candidature, *, limit: int = 200) -> History:
    """The changes of a candidature and of what hangs on it (documents, reviews and their
    scores, opinions, national analyses, deliberation line, decision), newest first. One query
    per kind of object, whatever the number of events."""
    sources = [(event_model_of(type(candidature)), Q(pgh_obj_id=candidature.pk))]
    for label in CANDIDATURE_RELATED_HISTORY:
        sources.append((apps.get_model(label), Q(candidature_id=candidature.pk)))
    review_history = apps.get_model("evaluation.ReviewHistory")
    reviews = review_history.objects.filter(candidature_id=candidature.pk).values("pgh_obj_id")
    sources.append(
        (apps.get_model("evaluation.ReviewScoreHistory"), Q(review_id__in=Subquery(reviews)))
    )
    return _history(sources, limit)


def _history(sources, limit: int) -> History:
    changes = []
    for event_model, condition in sources:
        rows = list(
            event_model.objects.filter(condition).order_by("pgh_id").values()
        )  # every event of these objects: diffs need the previous one
        changes.extend(_changes(event_model, rows))
    changes.sort(key=lambda change: change.sort_key, reverse=True)
    truncated = len(changes) > limit
    changes = changes[:limit]
    _resolve(changes)
    return History(changes, truncated, limit)


def _shown_fields(model):
    return [
        f for f in model._meta.concrete_fields if f.name not in HIDDEN_FIELDS and not f.primary_key
    ]


def _changes(event_model, rows) -> list[Change]:
    model = event_model.pgh_tracked_model
    shown = [f for f in _shown_fields(model) if f.attname in (rows[0] if rows else {})]
    describing = next(
        (model._meta.get_field(name) for name in DESCRIBING_FIELDS if _has_field(model, name)),
        None,
    )
    previous_of = {}
    changes = []
    for row in rows:
        previous = previous_of.get(row["pgh_obj_id"])
        previous_of[row["pgh_obj_id"]] = row
        action = row["pgh_label"]
        fields = []
        if action == INSERT:  # the values it was created with
            fields = [
                (f, None, row[f.attname])
                for f in shown
                if f != describing and _filled(row[f.attname])
            ]
        elif action == UPDATE and previous is not None:
            fields = [
                (f, previous[f.attname], row[f.attname])
                for f in shown
                if previous[f.attname] != row[f.attname]
            ]
            if not fields:
                continue  # only hidden columns changed
        context = row["pgh_context"] or {}
        if isinstance(context, str):
            context = json.loads(context)
        changes.append(
            Change(
                at=row["pgh_created_at"],
                action=action,
                model_label=str(model._meta.verbose_name),
                object_id=row["pgh_obj_id"],
                object_name=row[describing.attname] if describing else "",
                actor_id=context.get("user"),
                impersonator=context.get("impersonator"),
                fields=fields,
                sort_key=(row["pgh_created_at"], model._meta.label, row["pgh_id"]),
                describing=describing,
            )
        )
    return changes


def _filled(value) -> bool:
    if value is None or value is False:
        return False
    return bool(value) if isinstance(value, str | list | dict) else True


def _has_field(model, name) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _named(f) -> bool:
    return f is not None and f.is_relation and f.related_model._meta.label_lower in NAMED_RELATIONS


def _resolve(changes) -> None:
    """Turn ids into people and names (one query per kind of related object) and raw values
    into French text."""
    wanted = defaultdict(set)
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    for change in changes:
        for user_id in (change.actor_id, change.impersonator):
            if user_id is not None:
                wanted[user_model].add(user_id)
        if _named(change.describing) and change.object_name is not None:
            wanted[change.describing.related_model].add(change.object_name)
        for f, before, after in change.fields:
            if _named(f):
                wanted[f.related_model].update(v for v in (before, after) if v is not None)
    found = {
        model: model._default_manager.in_bulk(ids) if ids else {} for model, ids in wanted.items()
    }
    users = found.get(user_model, {})
    for change in changes:
        change.actor = users.get(change.actor_id)
        change.impersonator = users.get(change.impersonator)
        describing = change.describing
        if _named(describing):
            related = found.get(describing.related_model, {}).get(change.object_name)
            change.object_name = _label(related) if related is not None else ""
        elif change.object_name is None:
            change.object_name = ""
        else:
            change.object_name = _truncate(str(change.object_name))
        change.fields = [
            FieldChange(
                name=f.name,
                label=field_label(f),
                before=display_value(f, before, found),
                after=display_value(f, after, found),
            )
            for f, before, after in change.fields
        ]


def field_label(f) -> str:
    """The field's French name; a relation named only in English (``review``) takes the French
    name of the model it points to."""
    if f.is_relation and str(f.verbose_name) == f.name.replace("_", " "):
        return str(f.related_model._meta.verbose_name)
    return str(f.verbose_name)


def _user_label(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.email})" if full_name else user.email


def _label(obj) -> str:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return _user_label(obj) if isinstance(obj, user_model) else str(obj)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


def display_value(f, value, found=None) -> str:
    """A stored value as a reader sees it, in French."""
    if value is None or value == "":
        return "—"
    if f.is_relation:
        related = (found or {}).get(f.related_model, {}).get(value)
        return _label(related) if related is not None else f"n° {value}"
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return f"{value:f}".replace(".", ",")
    if isinstance(value, dict | list):
        return _truncate(json.dumps(value, ensure_ascii=False))
    return _truncate(str(value))
