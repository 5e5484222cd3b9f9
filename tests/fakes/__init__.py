"""Fake platform servers on 127.0.0.1 that tests drive adapters against over real HTTP."""
