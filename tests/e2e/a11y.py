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
