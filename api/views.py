"""The read API's endpoints (thin: the scoping is ``api.scoping``, the rules are the screens')."""

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, IsAuthenticated

from accounts.models import User
from ami.models import Call
from candidatures.models import Candidature
from evaluation.models import Decision, NationalReview, RegionalOpinion
from evaluation.scoring import with_review_stats

from . import scoping
from .filters import CandidatureFilter, DecisionFilter, OpinionFilter
from .models import ApiToken
from .serializers import (
    CallSerializer,
    CandidatureDetailSerializer,
    CandidatureSerializer,
    DecisionSerializer,
    ErrorSerializer,
    NationalReviewSerializer,
    RegionalOpinionSerializer,
)
from .tokens import log_use

MAX_ID = 2**63 - 1


class Pagination(CursorPagination):
    page_size = 50
    page_size_query_param = "taille"
    max_page_size = 100
    ordering = "id"
    invalid_cursor_message = "Curseur de pagination invalide."
    page_size_query_description = "Nombre de lignes par page (entier de 1 à 100, 50 par défaut)."

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = values[0]
        if len(values) > 1 or not value.isdigit() or not 1 <= int(value) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: ["Indiquez un nombre entier de lignes, de 1 à 100."]}
            )
        return int(value)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


def _errors(*codes):
    described = {
        400: OpenApiResponse(
            {"type": "object", "additionalProperties": {"type": "array", "items": {}}},
            description="Valeur de filtre inconnue : le champ est nommé.",
        ),
        401: OpenApiResponse(
            ErrorSerializer, description="Jeton absent, mal formé, expiré ou révoqué."
        ),
        404: OpenApiResponse(ErrorSerializer, description="Hors de la portée du jeton."),
        429: OpenApiResponse(ErrorSerializer, description="Trop de requêtes : voir Retry-After."),
    }
    return {code: described[code] for code in codes}


def documented(serializer, detail_serializer=None, *, public=False):
    auth = () if public else (401,)
    return extend_schema_view(
        list=extend_schema(responses={200: serializer, **_errors(400, *auth, 404, 429)}),
        retrieve=extend_schema(
            responses={200: detail_serializer or serializer, **_errors(*auth, 404, 429)}
        ),
    )


class ReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAuthenticated]
    lookup_value_regex = "[^/]+"
    pagination_class = Pagination

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action not in ("list", "retrieve"):
            return  # another method: 405 follows
        known = {"cursor", "taille", *self._filters()}
        errors = {}
        for name, values in request.query_params.lists():
            if name not in known:
                errors[name] = ["Paramètre inconnu."]
            elif len(values) > 1:
                errors[name] = ["Paramètre répété : donnez-le une seule fois."]
            elif not values[0]:
                errors[name] = ["Valeur vide : retirez le paramètre ou donnez-lui une valeur."]
        if errors:
            raise ValidationError(errors)

    def _filters(self):
        filterset = getattr(self, "filterset_class", None)
        if filterset is None or self.action != "list":
            return ()
        return filterset.base_filters.keys()

    def get_object(self):
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        # ASCII digits only: « ² » passes isdigit() but not int() (a 500 found by the fuzzing).
        digits = value.isascii() and value.isdigit()
        if self.lookup_field == "pk" and not (digits and int(value) <= MAX_ID):
            raise Http404
        return super().get_object()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generation: no user
            return self.queryset
        return self.scoped(self.request.user)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            log_use(
                token,
                request.method,
                request.get_full_path(),
                response.status_code,
                request.META.get("REMOTE_ADDR"),
            )
        return response


@documented(CallSerializer, public=True)
class CallViewSet(ReadOnlyViewSet):
    """Les appels publiés (public : aucun jeton nécessaire)."""

    permission_classes = [AllowAny]
    serializer_class = CallSerializer
    lookup_field = "slug"

    queryset = Call.objects.none()

    def scoped(self, user):
        return Call.objects.visible_to(user)


@documented(CandidatureSerializer, CandidatureDetailSerializer)
class CandidatureViewSet(ReadOnlyViewSet):
    """Les candidatures que l'utilisateur du jeton voit à l'écran."""

    filterset_class = CandidatureFilter

    def get_serializer_class(self):
        return CandidatureDetailSerializer if self.action == "retrieve" else CandidatureSerializer

    queryset = Candidature.objects.none()

    def scoped(self, user):
        team = Prefetch("ptce__users", queryset=User.objects.order_by("pk"))
        queryset = (
            with_review_stats(scoping.candidatures(user))
            .select_related("call", "ptce")
            .prefetch_related(team)
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                "documents__document_type", "documents__uploaded_by"
            )
        return queryset


@documented(RegionalOpinionSerializer)
class RegionalOpinionViewSet(ReadOnlyViewSet):
    """Les avis collégiaux régionaux (cellules régionales : coordination ; CNA ; Coorace)."""

    serializer_class = RegionalOpinionSerializer
    filterset_class = OpinionFilter

    queryset = RegionalOpinion.objects.none()

    def scoped(self, user):
        return scoping.regional_opinions(user)


@documented(NationalReviewSerializer)
class NationalReviewViewSet(ReadOnlyViewSet):
    """Les analyses de la cellule nationale (CNA et Coorace)."""

    serializer_class = NationalReviewSerializer
    filterset_class = OpinionFilter

    queryset = NationalReview.objects.none()

    def scoped(self, user):
        return scoping.national_reviews(user)


@documented(DecisionSerializer)
class DecisionViewSet(ReadOnlyViewSet):
    """Les décisions : publiées pour qui voit la candidature, en attente pour la CNA."""

    serializer_class = DecisionSerializer
    filterset_class = DecisionFilter

    queryset = Decision.objects.none()

    def scoped(self, user):
        return scoping.decisions(user)
