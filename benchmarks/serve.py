"""Serve one benchmark stack with uvicorn on 127.0.0.1: ``python serve.py STACK PORT``."""

from __future__ import annotations

import sys

import stacks
import uvicorn


def main() -> None:
    stack, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(
        stacks.build(stack),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
