import pytest


@pytest.fixture
def phone(browser):
    """A phone-sized page (the applicant reads and signs on a phone)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        accept_downloads=True,
    )
    page = context.new_page()
    yield page
    context.close()
