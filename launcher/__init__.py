"""The native stack: every service as a local process, for `make local` and for the tests."""
