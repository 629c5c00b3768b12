"""Content negotiation: DRF's, with the commonest case answered at once.

Phones, scripts and browsers' ``fetch`` send ``Accept: */*`` (or no Accept): DRF then parses the
header and every renderer's media type to pick the first renderer, a measurable part of a family's
page (bench/README.md). The same answer is given without it; anything else goes through DRF.
"""
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (format_suffix is None and request.META.get("HTTP_ACCEPT", "*/*").strip() == "*/*"
                and self.settings.URL_FORMAT_OVERRIDE not in request.GET):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
