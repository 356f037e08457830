"""Form controls a patron can see, measured in Chromium: the axe audit checks text contrast, not
the edges of text boxes and radio buttons (WCAG 1.4.11 asks 3:1), nor the size of a question
next to its answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..factories import make_branch, make_staff, make_topic

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# For each control a patron sees: its edge colour, the colour behind it, and the ratio between
# them (WCAG's relative luminance). A radio button styled as a button (.btn-check) is hidden;
# its label is the control seen, so the label's edge is measured.
MEASURE = """
() => {
  const parse = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r, g, b, a: a === undefined ? 1 : a};
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const behind = (element) => {
    const layers = [];
    for (let node = element.parentElement; node; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour.a > 0) layers.push(colour);
      if (colour && colour.a === 1) break;
    }
    const white = {r: 255, g: 255, b: 255, a: 1};
    return layers.reverse().reduce((under, top) => over(top, under), white);
  };
  const luminance = ({r, g, b}) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className ? "." + String(el.className).split(" ").join(".") : "");
  const controls = document.querySelectorAll(
    "main input:not([type=hidden]), main select, main textarea"
  );
  return Array.from(controls).map((control) => {
    const seen = control.classList.contains("btn-check")
      ? document.querySelector(`label[for="${control.id}"]`)
      : control;
    const style = getComputedStyle(seen);
    const background = behind(seen);
    const edge = over(parse(style.borderTopColor), background);
    return {
      control: name(control),
      seen: name(seen),
      border: style.borderTopColor,
      width: parseFloat(style.borderTopWidth),
      ratio: ratio(edge, background),
    };
  });
}
"""

# Each group's question (its legend) against the labels of its answers, in pixels.
SIZES = """
() => Array.from(document.querySelectorAll("main fieldset")).flatMap((fieldset) => {
  const legend = fieldset.querySelector(":scope > legend");
  if (!legend) return [];
  const answers = Array.from(fieldset.querySelectorAll("label"))
    .filter((label) => label.closest("fieldset") === fieldset);
  return answers.map((label) => ({
    question: legend.textContent.trim(),
    answer: label.textContent.trim(),
    legend: parseFloat(getComputedStyle(legend).fontSize),
    label: parseFloat(getComputedStyle(label).fontSize),
  }));
})
"""


def assert_controls_can_be_seen(page, expected_at_least: int) -> None:
    found = page.evaluate(MEASURE)
    assert len(found) >= expected_at_least, found
    faint = [c for c in found if c["ratio"] < 3.0 or c["width"] < 1]
    assert faint == [], f"control edges under 3:1 on {page.url}: {faint}"


def assert_questions_are_not_smaller_than_answers(page, expected_at_least: int) -> None:
    pairs = page.evaluate(SIZES)
    assert len(pairs) >= expected_at_least, pairs
    small = [p for p in pairs if p["legend"] < p["label"]]
    assert small == [], f"questions smaller than their answers on {page.url}: {small}"


def assert_focus_ring_can_be_seen(page, selector: str) -> None:
    page.locator(selector).first.focus()
    ring = page.evaluate(
        """(selector) => {
          const style = getComputedStyle(document.querySelector(selector));
          return {active: document.activeElement.tagName, focused: document.hasFocus(),
                  matches: document.querySelector(selector).matches(":focus-visible"),
                  style: style.outlineStyle, width: parseFloat(style.outlineWidth),
                  colour: style.outlineColor, shadow: style.boxShadow};
        }""",
        selector,
    )
    assert ring["style"] != "none" and ring["width"] >= 2, ring


@pytest.fixture
def library():
    branch = make_branch()
    make_branch("Eastside Library")
    topic = make_topic("Job search and résumés", lengths=(30, 60))
    make_staff("Ana P.", branch=branch, topics=[topic], hours=[(day, 10, 16) for day in range(5)])
    return topic


def test_form_controls_have_edges_that_can_be_seen(page, library):
    page.goto(page.base + "/book/job-search-and-resumes/")
    assert_controls_can_be_seen(page, expected_at_least=7)  # 3 + 2 + 2 radios, the text box
    assert_questions_are_not_smaller_than_answers(page, expected_at_least=8)
    assert_focus_ring_can_be_seen(page, "textarea")
    page.get_by_label("Some experience").check()
    page.get_by_label("What would you like to learn or do?").fill("Apply for jobs online")
    page.get_by_role("button", name="Next: choose a time").click()

    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    assert_controls_can_be_seen(page, expected_at_least=3)  # the staff select and times
    assert_questions_are_not_smaller_than_answers(page, expected_at_least=2)
    assert_focus_ring_can_be_seen(page, "select")
    page.locator("fieldset.day label").first.click()
    page.get_by_role("button", name="Next: your details").click()

    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    assert_controls_can_be_seen(page, expected_at_least=7)  # 4 text boxes, 3 radios, a text area
    assert_questions_are_not_smaller_than_answers(page, expected_at_least=3)
    assert_focus_ring_can_be_seen(page, "input[type=email]")
    # A refused form draws its red edges strong enough too.
    page.get_by_role("button", name="Book this session").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    assert_controls_can_be_seen(page, expected_at_least=7)


def test_the_current_step_does_not_look_like_a_link(page, library):
    page.goto(page.base + "/book/job-search-and-resumes/")
    current = page.locator(".steps li[aria-current=step]")
    expect(current).to_have_text("1. What you need")
    style = current.evaluate(
        "el => ({line: getComputedStyle(el).textDecorationLine,"
        " colour: getComputedStyle(el).color})"
    )
    link_colour = page.locator("main a").first.evaluate("el => getComputedStyle(el).color")
    assert style["line"] == "none"
    assert style["colour"] != link_colour
    assert current.locator("a").count() == 0
