"""``python manage.py sweep_diagnostics``: run the stuck-diagnostics sweeper once, now.

Beat runs the same sweep every ``INFERENCE_SWEEP_INTERVAL_S``; after a broker outage (a Redis
restart that lost its queue) an operator can run it at once instead of waiting for the next beat.
It prints what it did as JSON.
"""

import json

from django.core.management.base import BaseCommand

from diagnostics.sweeper import sweep


class Command(BaseCommand):
    help = "Re-enqueue diagnostics stuck in queued/running (lost broker messages, dead workers)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(sweep().as_dict()))
