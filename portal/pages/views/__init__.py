"""The clinician pages: thin views that parse the request, authorise through ``portal.core.permissions``
(via the ``clinician_required`` workspace), call a selector or a service, and render.

One module per area: ``access`` (sign-in helpers, site switcher, session keep-alive), ``home``,
``patients``, ``diagnostics`` (result page, review, retry) and ``review`` (the review queue).
"""
