"""The image's health check: exit 0 when this container's web server answers ``/healthz``.

Standard library only, so it runs in the image without curl. It asks ``127.0.0.1:$PORT`` with the
``Host`` header ``localhost``, which deployments list in ``ALLOWED_HOSTS``.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    request = urllib.request.Request(url, headers={"Host": "localhost"})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
