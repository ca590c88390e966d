"""The adapter protocol (docs/adapter-protocol.md): its version, schemas, typed replies, client and transports.

``PROTOCOL_VERSION`` is defined here only; the JS interpreter's copy is checked
against it by a test.
"""

PROTOCOL_VERSION = 1
