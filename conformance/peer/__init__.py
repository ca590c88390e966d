"""The harness's side of the peer, wherever it runs (the peer itself is ``conformance_peer``, in ``servers/``).

``choice`` (``--peer``: in-process, a ``tcp://`` service, a container), ``calls`` (what a peer
step observes, and how its call reads in the transcript; the calls are ``conformance_peer.calls``),
``client`` (the control protocol's client), ``docker`` and ``docker_engine`` (the peer in a
container, the engine and its leftovers, building an image), ``servers_docker`` (``servers --docker``),
``harness_image`` (the harness's own image, ``connect-conformance image``).
"""
