"""The admin site: django-otp's (a verified second factor for every page), whose login page is the
project's one sign-in form (``forms.AdminSignInForm``) rather than django-otp's device picker."""
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp.admin import OTPAdminSite


class SecondFactorAdminSite(OTPAdminSite):
    login_template = "security/admin_login.html"

    def login(self, request, extra_context=None):
        from .forms import AdminSignInForm
        from .views import SignInView

        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {**self.each_context(request), "title": _("Log in"), "subtitle": None,
                   "app_path": request.get_full_path(), "username": request.user.get_username()}
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return SignInView.as_view(extra_context=context, authentication_form=AdminSignInForm,
                                  template_name=self.login_template, default_next="admin:index",
                                  redirect_authenticated_user=False)(request)
