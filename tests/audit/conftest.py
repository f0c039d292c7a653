import pytest

# Two fixed secrets (random bytes, base64) so that hashes can be computed by hand in the tests.
KEY = "q8SXmu1i3C1mVw0hU7cF0o6l0kqGg3yqB9m3cF0L3Ho="
OLD_KEY = "2yP3sJm0w8R6c4Zq1bN7vXh5tLk9eA2dG6fU8iO4pQs="


@pytest.fixture(autouse=True)
def _chain_key(settings):
    settings.AUDIT_CHAIN_KEY = KEY
