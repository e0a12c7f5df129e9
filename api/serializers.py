"""What the API returns. Read-only: no serializer here accepts input."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ami.models import Call
from candidatures.models import Candidature, Document
from evaluation.models import Decision, NationalReview, RegionalOpinion

from .answers import answers_of


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Le motif du refus, en français.")


class CallSerializer(serializers.ModelSerializer):
    class Meta:
        model = Call
        fields = [
            "slug", "name", "year", "phase", "description", "opens_at", "closes_at",
            "envelope", "min_amount", "max_amount", "priority_rural", "priority_qpv",
        ]  # fmt: skip


class PtceSerializer(serializers.Serializer):
    name = serializers.CharField()
    siret = serializers.CharField()
    region = serializers.CharField(source="region_id", allow_null=True)


class PersonSerializer(serializers.Serializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()


class ReviewStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(source="review_count")
    mean = serializers.DecimalField(
        source="score_mean", max_digits=6, decimal_places=2, allow_null=True
    )
    median = serializers.DecimalField(
        source="score_median", max_digits=7, decimal_places=3, allow_null=True
    )
    min = serializers.DecimalField(
        source="score_min", max_digits=6, decimal_places=2, allow_null=True
    )
    max = serializers.DecimalField(
        source="score_max", max_digits=6, decimal_places=2, allow_null=True
    )
    spread = serializers.DecimalField(
        source="score_spread", max_digits=6, decimal_places=2, allow_null=True
    )
    disagreement = serializers.BooleanField(allow_null=True)


class CandidatureSerializer(serializers.ModelSerializer):
    call = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    region = serializers.CharField(source="region_id")
    ptce = PtceSerializer()
    reviews = serializers.SerializerMethodField(
        help_text="Statistiques des évaluations rendues, pour les rôles qui les voient à "
        "l'écran ; null sinon."
    )
    team = serializers.SerializerMethodField(
        help_text="L'équipe du PTCE (données personnelles) : pour l'équipe elle-même et "
        "l'équipe Coorace ; null sinon."
    )

    class Meta:
        model = Candidature
        fields = [
            "id", "receipt_number", "call", "region", "ptce", "state", "title",
            "requested_amount", "is_rural", "in_qpv", "created_at", "submitted_at",
            "reviews", "team",
        ]  # fmt: skip

    @extend_schema_field(ReviewStatsSerializer(allow_null=True))
    def get_reviews(self, candidature):
        if not getattr(candidature, "sees_reviews", False):
            return None
        return ReviewStatsSerializer(candidature).data

    @extend_schema_field(PersonSerializer(many=True, allow_null=True))
    def get_team(self, candidature):
        if not getattr(candidature, "sees_people", False):
            return None
        return PersonSerializer(candidature.ptce.users.all(), many=True).data


class DocumentSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="document_type.label")
    uploaded_by = serializers.SerializerMethodField(
        help_text="Adresse de qui l'a déposé : pour l'équipe du PTCE et l'équipe Coorace."
    )

    class Meta:
        model = Document
        fields = [
            "id", "type", "original_name", "size", "content_type", "sha256", "uploaded_at",
            "uploaded_by",
        ]  # fmt: skip

    @extend_schema_field(OpenApiTypes.EMAIL)
    def get_uploaded_by(self, document) -> str | None:
        if not self.context.get("sees_people") or document.uploaded_by is None:
            return None
        return document.uploaded_by.email


class CandidatureDetailSerializer(CandidatureSerializer):
    answers = serializers.SerializerMethodField(
        help_text="Les réponses au questionnaire (figées au dépôt), par question."
    )
    documents = serializers.SerializerMethodField()

    class Meta(CandidatureSerializer.Meta):
        fields = [*CandidatureSerializer.Meta.fields, "answers", "documents"]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_answers(self, candidature):
        return answers_of(candidature)

    @extend_schema_field(DocumentSerializer(many=True))
    def get_documents(self, candidature):
        context = {"sees_people": getattr(candidature, "sees_people", False)}
        return DocumentSerializer(candidature.documents.all(), many=True, context=context).data


class RegionalOpinionSerializer(serializers.ModelSerializer):
    candidature = serializers.IntegerField(source="candidature_id")

    class Meta:
        model = RegionalOpinion
        fields = [
            "id", "candidature", "consolidated_score", "score_justification", "opinion",
            "motivation", "rank", "updated_at",
        ]  # fmt: skip


class NationalReviewSerializer(serializers.ModelSerializer):
    candidature = serializers.IntegerField(source="candidature_id")

    class Meta:
        model = NationalReview
        fields = ["id", "candidature", "score", "opinion", "comment", "created_at", "updated_at"]


class DecisionSerializer(serializers.ModelSerializer):
    candidature = serializers.IntegerField(source="candidature_id")
    published = serializers.BooleanField(source="is_published")

    class Meta:
        model = Decision
        fields = [
            "id", "candidature", "outcome", "granted_amount", "motivation", "published",
            "published_at",
        ]  # fmt: skip
