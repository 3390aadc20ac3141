"""`python -m poppy_pipeline.service` (`make serve`): the service on 127.0.0.1, or one sentence why not."""

from __future__ import annotations

import logging
import sys

import uvicorn

from poppy_pipeline.service.app import create_app
from poppy_pipeline.service.settings import HOST, SettingsError, from_environment


def main() -> int:
    try:
        settings = from_environment()
    except SettingsError as problem:
        print(f"poppy_pipeline service: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=HOST, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
