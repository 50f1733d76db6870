"""How API lists page: by cursor, newest first, ``page_size`` up to 1000.

A cursor is an opaque position in an unchanging, unique key (the id), so pages stay correct while
rows are added and never cost an OFFSET scan; there is no ``count``, which would cost a scan of
every matching row on each page.
"""

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
