"""The pages look as designed: Bootstrap, our stylesheet and the admin's really apply.

In production (E2E_SERVER=production) the stylesheets also come with hashed names, are kept by
browsers for good, and arrive compressed.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HASHED = re.compile(r"/static/.+\.[0-9a-f]{12}\.(css|js|svg)$")


def styles(page, selector: str, *properties: str) -> dict[str, str]:
    return page.eval_on_selector(
        selector,
        "(element, names) => Object.fromEntries("
        "names.map(name => [name, getComputedStyle(element).getPropertyValue(name)]))",
        list(properties),
    )


def test_patron_pages_are_styled_by_bootstrap_and_our_stylesheet(page, topic):
    page.goto(page.base + "/")
    body = styles(page, "body", "margin-top", "font-family", "font-size")
    # Bootstrap's reboot: no margin, the system font; ours: 1.125rem type.
    assert body["margin-top"] == "0px"
    assert body["font-family"].startswith("system-ui")
    assert body["font-size"] == "18px"
    assert styles(page, ".site-name", "font-weight")["font-weight"] == "700"
    page.goto(page.base + f"/book/{topic.slug}/")
    button = styles(page, "button.btn-primary", "background-color", "color")
    assert button == {"background-color": "rgb(13, 110, 253)", "color": "rgb(255, 255, 255)"}


def test_staff_sign_in_page_is_styled_by_the_admin_stylesheets(page):
    page.goto(page.base + "/admin/login/")
    header = styles(page, "#header", "background-color", "display")
    assert header == {"background-color": "rgb(65, 118, 144)", "display": "flex"}
    assert styles(page, "html", "--primary")["--primary"].strip() == "#79aec8"


@pytest.mark.production_only(reason="hashed names and compression come from collectstatic")
def test_stylesheets_have_hashed_names_and_arrive_compressed(page, topic):
    responses = []
    page.on("response", lambda response: responses.append(response))
    for path in ["/", "/admin/login/"]:
        page.goto(page.base + path)
    static = [r for r in responses if "/static/" in r.url]
    stylesheets = [r for r in static if r.request.resource_type == "stylesheet"]
    assert {r.url.rsplit("/", 1)[-1].split(".")[0] for r in stylesheets} >= {
        "bootstrap",
        "site",
        "base",
        "login",
    }
    for response in static:
        assert response.status == 200, response.url
        assert HASHED.search(response.url), f"{response.url} has no content hash in its name"
        headers = response.all_headers()
        assert "immutable" in headers["cache-control"], response.url
    for response in stylesheets:
        # Chromium asks for gzip, deflate, br, zstd; whitenoise made gzip copies.
        assert response.all_headers().get("content-encoding") == "gzip", response.url

    bootstrap = next(r.url for r in stylesheets if "/bootstrap." in r.url)
    plain = page.request.get(bootstrap, headers={"Accept-Encoding": "identity"})
    assert plain.ok
    assert "content-encoding" not in plain.headers
    assert plain.text().startswith("@charset")
