"""Two database functions the research row needs that Django has no portable form of.

Each is written once per database, so that the export's query stays one statement the server
computes for every row (and PostgreSQL's COPY can stream), and each is cheap per row: computing an
age from a dozen EXTRACTs or a list test from the list's text, a million times over, is what
makes an export slow.
"""

from django.db.models import BooleanField, Func, IntegerField


class AgeInYears(Func):
    """Whole years from a birth date to a later date, counted the way birthdays are counted
    (someone born on 29 February turns a year older on 1 March in other years)."""

    output_field = IntegerField()
    arity = 2  # (date, birth date)

    def as_postgresql(self, compiler, connection, **extra):
        (on, on_params), (born, born_params) = (
            compiler.compile(e) for e in self.get_source_expressions()
        )
        return f"EXTRACT(YEAR FROM age({on}, {born}))::integer", (*on_params, *born_params)

    def as_sql(self, compiler, connection, **extra):
        # YYYYMMDD as a number: the difference divided by 10000 is the age in whole years.
        (on, on_params), (born, born_params) = (
            compiler.compile(e) for e in self.get_source_expressions()
        )
        sql = (
            f"((CAST(strftime('%%Y%%m%%d', {on}) AS INTEGER)"
            f" - CAST(strftime('%%Y%%m%%d', {born}) AS INTEGER)) / 10000)"
        )
        return sql, (*on_params, *born_params)


class JsonListHas(Func):
    """Whether the JSON list under ``key`` of a JSON field holds the string ``item``."""

    output_field = BooleanField()

    def __init__(self, field, *, key: str, item: str) -> None:
        super().__init__(field)
        self.key = key
        self.item = item

    def as_postgresql(self, compiler, connection, **extra):
        field, params = compiler.compile(self.get_source_expressions()[0])
        return f"(({field} -> %s) ? %s)", (*params, self.key, self.item)

    def as_sql(self, compiler, connection, **extra):
        field, params = compiler.compile(self.get_source_expressions()[0])
        # The field is compiled SQL; the key and the item travel as parameters.
        sql = f"EXISTS (SELECT 1 FROM json_each({field}, %s) WHERE json_each.value = %s)"  # noqa: S608
        return sql, (*params, f"$.{self.key}", self.item)
