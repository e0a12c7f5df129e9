from django.urls import path

from .views import candidature, dashboard, documents, dossier, messages, preview, ptce

urlpatterns = [
    path("", dashboard.applicant_dashboard, name="applicant_dashboard"),
    # PTCE profile, members (legal persons) and team (people)
    path("ptce/nouveau/", ptce.ptce_create, name="ptce_create"),
    path("ptce/recherche-siret/", ptce.company_lookup, name="company_lookup"),
    path("ptce/<int:pk>/", ptce.ptce_detail, name="ptce_detail"),
    path("ptce/<int:pk>/modifier/", ptce.ptce_edit, name="ptce_edit"),
    path("ptce/<int:pk>/membres/", ptce.ptce_members, name="ptce_members"),
    path(
        "ptce/<int:pk>/membres/<int:member_pk>/supprimer/",
        ptce.ptce_member_delete,
        name="ptce_member_delete",
    ),
    path("ptce/<int:pk>/equipe/", ptce.ptce_team, name="ptce_team"),
    path(
        "ptce/<int:pk>/equipe/<int:membership_pk>/retirer/",
        ptce.ptce_team_remove,
        name="ptce_team_remove",
    ),
    path("invitations/<str:token>/", ptce.invitation_accept, name="invitation_accept"),
    # The staff's preview of a call's questionnaire, as an applicant will see it
    path("apercu/<int:call_pk>/", preview.questionnaire_preview, name="questionnaire_preview"),
    path(
        "apercu/<int:call_pk>/<slug:step>/",
        preview.questionnaire_preview,
        name="questionnaire_preview_step",
    ),
    # Candidature
    path(
        "ptce/<int:pk>/candidater/<slug:call_slug>/",
        candidature.candidature_start,
        name="candidature_start",
    ),
    path("<int:pk>/", candidature.candidature_detail, name="candidature_detail"),
    # The dossier, read-only (candidatures.dossier)
    path("<int:pk>/dossier/", dossier.dossier_view, name="dossier"),
    path(
        "<int:pk>/dossier/dossier-complet.pdf",
        dossier.dossier_pdf,
        name="dossier_pdf",
    ),
    path("<int:pk>/reprendre/", candidature.candidature_resume, name="candidature_resume"),
    path("<int:pk>/etapes/<slug:step>/", candidature.candidature_step, name="candidature_step"),
    path(
        "<int:pk>/enregistrer/<slug:step>/",
        candidature.candidature_autosave,
        name="candidature_autosave",
    ),
    path(
        "<int:pk>/completude/",
        candidature.candidature_completeness,
        name="candidature_completeness",
    ),
    path("<int:pk>/deposer/", candidature.candidature_submit, name="candidature_submit"),
    path("<int:pk>/recepisse/", candidature.candidature_receipt, name="candidature_receipt"),
    path(
        "<int:pk>/attestation-de-depot.pdf",
        candidature.candidature_receipt_pdf,
        name="candidature_receipt_pdf",
    ),
    path("<int:pk>/retirer/", candidature.candidature_withdraw, name="candidature_withdraw"),
    # Documents
    path(
        "<int:pk>/pieces/<int:type_pk>/deposer/",
        documents.document_upload,
        name="document_upload",
    ),
    path(
        "<int:pk>/pieces/<int:document_pk>/supprimer/",
        documents.document_delete,
        name="document_delete",
    ),
    path(
        "<int:pk>/pieces/<int:document_pk>/telecharger/",
        documents.document_download,
        name="document_download",
    ),
    path(
        "<int:pk>/pieces/<int:document_pk>/voir/",
        dossier.document_view,
        name="document_view",
    ),
    # The thread with the applicant and the cells' internal notes (issue 15)
    path("<int:pk>/messages/", messages.candidature_messages, name="candidature_messages"),
    path(
        "<int:pk>/messages/<int:message_pk>/piece-jointe/",
        messages.message_attachment,
        name="message_attachment",
    ),
    path("<int:pk>/notes-internes/", messages.candidature_notes, name="candidature_notes"),
]
