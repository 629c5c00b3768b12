"""Security and privacy: second factor and lockouts for sign-in, the append-only audit trail,
break-the-glass access, consent enforcement, data-subject rights and web hardening."""
