"""What a storage failure looks like, for every backend the settings allow.

Readiness probes and the recording services both need to tell "storage is unreachable" (expected:
answer 503, try again) from a bug (let it surface), whichever backend is configured.
"""

from botocore.exceptions import BotoCoreError, ClientError

STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, BotoCoreError, ClientError)
