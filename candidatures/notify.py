"""The one way to email a PTCE's team about its candidature: one outbox row per active member of
the team (``Ptce.team_emails``), queued in the caller's transaction and sent after commit."""

from ami.outbox import queue_templated_email


def notify_team(candidature, template: str, event: str, context: dict, *, also=()) -> None:
    """Queue ``emails/<template>`` for every member of the candidature's PTCE team (and the
    addresses in ``also``), with ``candidature`` in the context."""
    for email in [*candidature.ptce.team_emails(), *also]:
        queue_templated_email(
            to=email,
            template=template,
            context={"candidature": candidature, **context},
            event=event,
            related=candidature,
            call=candidature.call,
        )
