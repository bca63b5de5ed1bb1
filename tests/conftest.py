"""Session-wide test settings.

Studies hash Prolific ids with a key kept outside the database, created in ``.streamlit/secrets.toml`` of
the working directory when none is configured. Tests (and the servers and processes they start, which
inherit the environment) use a fixed key instead, so running the suite never writes a secrets file into
the checkout. Tests of the key's resolution remove the variable themselves.
"""

import os

os.environ.setdefault("XAI_STUDY_ID_KEY", "test-suite-only-id-key")
