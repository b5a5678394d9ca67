import os
import tempfile

# One private cache directory per test session, shared by every test (and the
# subprocesses they start), so each generated module compiles once per run.
os.environ.setdefault("SOURCEDIFF_CACHE_DIR", tempfile.mkdtemp(prefix="sourcediff-tests-"))
