"""Single sign-on through the hospital's identity provider (OpenID Connect; docs/integration.md)."""
