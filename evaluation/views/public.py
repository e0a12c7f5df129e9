"""Public pages of a call's results: the laureates and the SCDL open-data file."""

from django.http import Http404


def call_laureates(request, slug):
    raise Http404


def call_subsidies_csv(request, slug):
    raise Http404
