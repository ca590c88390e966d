"""Real client libraries over ``connect()``: the servers they talk to and the bundles they run as.

- ``servers``: the database, cache, mail and messaging servers a run starts (PostgreSQL,
  Redis, MariaDB, SMTP, Mosquitto), once per run, on loopback, with the run's certificates;
  ``ServerPool`` keeps them and stops them all.
- ``kinds`` (what every kind shares), ``sql_servers`` (PostgreSQL, MariaDB) and
  ``message_servers`` (Redis, SMTP, Mosquitto): how each kind is configured, started and
  probed; ``smtp_server``: the SMTP server itself (aiosmtpd, in a subprocess of its own).
- ``process``: what every server process shares: the account it runs as, its private
  folder, start with a readiness probe, stop by process group.
- ``bundle``: the pinned npm package set ``drivers`` and the esbuild bundles of the scenario
  modules (``adapters/js/drivers/``), for workerd and for Node.
"""
