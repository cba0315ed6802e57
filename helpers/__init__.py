"""Plumbing for the Redis Pub/Sub and JSON-RPC course notebooks.

One module per concern: `redis_server` (which Redis a kernel uses), `background`
(servers and threads a cell can re-run and stop), `pubsub` (collectors and waits).
The lesson's own code stays in the notebooks.
"""
