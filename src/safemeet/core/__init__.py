"""Sans-I/O core: identity, numbers, envelopes, wire messages and call state.

Nothing in this package touches sockets, files or event loops; the node and the
peer are adapters around it.
"""
