"""Live progress over Redis Streams, and short-lived caches: Redis is never the record."""
