"""The errors that mean "a part the portal needs is away for a moment", wherever they surface.

PostgreSQL restarting or failing over (``portal.core.database``) and Redis away (the channel
layer: channels_redis lets the socket's own ``OSError`` through when it cannot connect) are not
bugs: whoever meets one answers "unavailable, try again" (503, or close code 4503 on a socket,
``portal.core.errors.ANSWERS``) and logs it without a traceback.
"""

import redis

from portal.core.database import DATABASE_ERRORS

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, redis.RedisError, OSError)
