"""What every page of a role's day must be on a phone: no sideways scrolling, and no accessibility
violation of serious or critical impact as axe-core (from npm, pinned in package-lock.json) finds it.

axe is put into the page with ``page.evaluate``, which runs outside the page's Content-Security-Policy:
the policy allows no inline or injected script, and the pages are checked as they are served."""
from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page):
    """axe's violations on the page as it is now, each as {id, impact, help, targets}."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (make test does)"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]}
            for v in result["violations"]]


def assert_fits(page):
    """Nothing wider than the screen: the page does not scroll sideways."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url}: {width} px wide on a {inner} px screen"


def assert_page_ok(page):
    """The page fits the screen and axe finds nothing serious or critical on it."""
    assert_fits(page)
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"{page.url}: " + "; ".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {', '.join(v['targets'])}" for v in blocking)


# A link or button a finger must hit: everything that can be tapped, on screen (the skip link waits
# off-screen until focused). A link inside a sentence is exempt, as WCAG's target-size criterion
# exempts it: its height is the line's. A paragraph whose only text is links and separators is a row
# of links, not a sentence.
SMALL_TARGETS = """(minimum) => {
  const small = [];
  for (const el of document.querySelectorAll(
      'a[href], button, input[type=submit], input[type=button], summary, select, [role=button]')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || box.right <= 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const block = el.closest('p, li, td, th, dd, dt, nav, h1, h2, h3, div, form, section, main, body');
    if (el.tagName === 'A' && getComputedStyle(el).display === 'inline' && block.tagName === 'P') {
      const words = block.cloneNode(true);
      words.querySelectorAll('a, button').forEach(n => n.remove());
      if (/[\\p{L}\\p{N}]/u.test(words.textContent)) continue;
    }
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      small.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.value || '')
        .trim().replace(/\\s+/g, ' ').slice(0, 30)}" ${box.width.toFixed(0)}×${box.height.toFixed(0)}`);
    }
  }
  return small;
}"""


def small_targets(page, minimum=44):
    """The links and buttons on the page smaller than ``minimum`` CSS pixels either way."""
    return page.evaluate(SMALL_TARGETS, minimum)
