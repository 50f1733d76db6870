"""How API lists page: by cursor, newest first, ``page_size`` up to 1000.

A cursor is an opaque position in an unchanging, unique key (the id), so pages stay correct while
rows are added and never cost an OFFSET scan; there is no ``count``, which would cost a scan of
every matching row on each page. A cursor the list did not give out (edited, truncated, made up)
is a 400 in the API's error shape, never a 404 or a failed query.
"""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from portal.core.errors import Invalid


class InvalidCursor(Invalid):
    code = "invalid_cursor"
    default_message = "This cursor is not one the list gave out; start again from the first page."


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:  # DRF's answer to a cursor it cannot read
            raise InvalidCursor from None
        if cursor is not None and cursor.position is not None and not cursor.position.isdigit():
            raise InvalidCursor
        return cursor
