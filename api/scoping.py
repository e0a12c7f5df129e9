"""What a token's user may read, resource by resource. Candidatures are always
``Candidature.objects.visible_to(user)`` (DESIGN §3, the screens' rule); what hangs from them
adds the role that sees it on screen:

- review statistics: coordinators of the region, the CNA of the call, staff, and an evaluator
  of the region once their own review is submitted (or at once if the call says so), as
  ``evaluation.permissions.can_see_reviews``; never the applicant;
- collegial regional opinions: the region's coordinators, the CNA, staff (``can_view_cell``);
- national analyses and pending decisions: the CNA of the call and staff;
- published decisions: whoever sees the candidature;
- applicants' personal data (the PTCE team's names and addresses, who uploaded a document): the
  PTCE's own team and staff, as on screen.

Each rule is a boolean SQL expression, so that a list costs the same queries for 2 or 50 rows.
"""

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Value

from accounts.models import NationalCellMembership, RegionalCellMembership, RegionalRole
from candidatures.models import Candidature, PtceMembership
from evaluation.models import Decision, NationalReview, RegionalOpinion, Review, ReviewState


def _flag(condition):
    return ExpressionWrapper(condition, output_field=BooleanField())


def _national(user, call_ref):
    return Exists(NationalCellMembership.objects.filter(user=user, cell__call=OuterRef(call_ref)))


def _coordinator(user, call_ref, region_ref):
    return Exists(
        RegionalCellMembership.objects.filter(
            user=user,
            role=RegionalRole.COORDINATOR,
            cell__call=OuterRef(call_ref),
            cell__region=OuterRef(region_ref),
        )
    )


def candidatures(user):
    """The user's candidatures, each flagged with what else of it the user may read."""
    queryset = Candidature.objects.visible_to(user)
    if not (user.is_authenticated and user.is_active):
        return queryset
    if user.is_staff:
        yes = Value(True, output_field=BooleanField())
        return queryset.annotate(sees_reviews=yes, sees_opinion=yes, sees_people=yes)
    national = _national(user, "call")
    coordinator = _coordinator(user, "call", "region")
    evaluator = Exists(
        RegionalCellMembership.objects.filter(
            user=user, cell__call=OuterRef("call"), cell__region=OuterRef("region")
        )
    )
    own_review_done = Exists(
        Review.objects.filter(
            candidature=OuterRef("pk"), evaluator=user, state=ReviewState.SUBMITTED
        )
    )
    team = Exists(PtceMembership.objects.filter(ptce=OuterRef("ptce"), user=user))
    return queryset.annotate(
        sees_reviews=_flag(
            Q(national)
            | Q(coordinator)
            | (Q(evaluator) & (Q(call__reviews_visible_before_submit=True) | Q(own_review_done)))
        ),
        sees_opinion=_flag(Q(national) | Q(coordinator)),
        sees_people=_flag(Q(team)),
    )


def regional_opinions(user):
    visible = Candidature.objects.visible_to(user).values("pk")
    queryset = RegionalOpinion.objects.filter(candidature__in=visible)
    if user.is_staff:
        return queryset
    return queryset.filter(
        Q(_national(user, "candidature__call"))
        | Q(_coordinator(user, "candidature__call", "candidature__region"))
    )


def national_reviews(user):
    visible = Candidature.objects.visible_to(user).values("pk")
    queryset = NationalReview.objects.filter(candidature__in=visible)
    if user.is_staff:
        return queryset
    return queryset.filter(_national(user, "candidature__call"))


def decisions(user):
    visible = Candidature.objects.visible_to(user).values("pk")
    queryset = Decision.objects.filter(candidature__in=visible)
    if user.is_staff:
        return queryset
    return queryset.filter(Q(published_at__isnull=False) | Q(_national(user, "candidature__call")))
