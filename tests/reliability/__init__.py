"""The reliability and security suite: faults, hostile streams, round trips, secrets, bad input, fuzz, load.

A user's chain must either finish or fail with a clear typed error; it must never hang, duplicate, lose
what was already streamed, or leak the access key. Each module proves one part of that against the core,
both adapters and the local server (`_support` and `_adapters` hold the shared harness).
"""
