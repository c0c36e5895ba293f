"""The real redis-server of the token tests, for the model run on Redis."""

from tests.tokens.conftest import redis_server, shared_redis_server  # noqa: F401 (fixtures)
