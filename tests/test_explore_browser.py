"""The explorer page in headless Chromium: stepping agrees with Backprop, clicking explains, zoom, no network."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from conftest import build_mazur

from autograd import Backprop, Value, explore, topological_order
from autograd.render import backprop_frame


@pytest.fixture
def mazur_page(tmp_path, dot_program):
    """The 2-2-2 network's page (as ``python -m demos.mazur --explore`` writes it) and its graph."""
    from demos import mazur

    path = tmp_path / "net.html"
    _, _, q = mazur.build()
    q["E_total"].backward()
    explore(q["E_total"], params=mazur.parameters(q)).save(path)
    return path, q


def load(browser, path) -> None:
    browser.get(path.as_uri())
    browser.get_log("browser")  # start each test with empty logs
    browser.get(path.as_uri())


def errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR", "WARNING")]


def requests(browser) -> list[str]:
    """Every URL the page asked for since the logs were last read (Chrome's performance log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def js(browser, script: str, *args):
    return browser.execute_script(script, *args)


def test_the_page_loads_without_errors_or_network(browser, mazur_page):
    path, _ = mazur_page
    browser.get_log("performance")
    load(browser, path)
    assert js(browser, "return window.chainrule.steps") == 15  # a step per non-leaf node
    js(browser, "chainrule.go(5); chainrule.select('w1'); chainrule.layout('TB'); chainrule.zoom(2); chainrule.fit()")
    assert errors(browser) == []
    urls = requests(browser)
    assert urls and all(url.startswith("file:") for url in urls), urls


def test_go_k_agrees_with_backprop_after_k_steps(browser, mazur_page):
    path, q = mazur_page
    load(browser, path)
    root = q["E_total"]
    saved = {v: v.grad for v in topological_order(root)}
    for v in saved:
        v.grad = 0.0  # the page shows this pass alone, as after zero_grad()
    bp = Backprop(root)
    try:
        for k in range(len(bp.order) + 1):
            if k:
                bp.step()
            shown = js(browser, "return chainrule.go(arguments[0])", k)
            assert shown["step"] == k
            assert shown["current"] == (bp.names[bp.steps[-1].node] if k else None)
            assert shown["next"] == (bp.names[bp.current] if bp.current is not None else None)
            want = {bp.names[v]: v.grad for v in bp.nodes} if k else {bp.names[v]: float(v is root) for v in bp.nodes}
            assert shown["grads"] == want, k  # exactly: the page replays Python's floats
            frame = backprop_frame(bp)
            assert set(shown["final"]) == {bp.names[v] for v, s in frame.state.items() if s in ("final", "current")}
            assert js(browser, "return chainrule.state()") == shown
    finally:
        for v, g in saved.items():
            v.grad = g


def test_the_picture_and_the_step_text_agree(browser, mazur_page):
    path, _ = mazur_page
    load(browser, path)
    k = next(i for i in range(1, 32) if js(browser, "return chainrule.go(arguments[0]).current", i) == "out_h1")
    text = js(browser, "return document.getElementById('steptext').textContent")
    assert text.startswith(f"Step {k}/15  out_h1 = ") and "net_h1 +=" in text
    after = text.split("grad 0 -> ")[1].split()[0]  # the push to net_h1, as the step writes it
    box = js(browser, """const g = document.querySelector('#canvas svg').querySelectorAll('g.node');
        return Array.from(g).map((n) => Array.from(n.querySelectorAll('text')).map((t) => t.textContent));""")
    net_h1 = next(t for t in box if t and t[0] == "net_h1")
    assert net_h1[-1].startswith("grad 0 → ") and abs(float(net_h1[-1].split("→ ")[1]) - float(after)) < 5e-5
    fills = js(browser, """return DATA.nodes.map((n, i) => document.querySelector('#canvas #v' + i)
        .querySelector('path, polygon').getAttribute('fill'));""")
    keys = js(browser, "return DATA.nodes.map((n) => n.key)")
    states = js(browser, "return DATA.states")
    assert fills[keys.index("out_h1")] == states["current"]
    assert fills[keys.index("E_total")] == states["final"] and fills[keys.index("w1")] == states["not reached"]
    flow = js(browser, """return Array.from(document.querySelectorAll('#canvas g.edge'))
        .filter((g) => g.querySelector('path:not([stroke="transparent"])').getAttribute('stroke') === '#e6550d')
        .map((g) => g.id);""")
    out_h1 = keys.index("out_h1")
    assert sorted(flow) == sorted([f"e{out_h1}_0", f"r{out_h1}"])  # out_h1's gradient flows to net_h1


def test_select_w1_shows_both_paths_and_the_total(browser, mazur_page):
    path, _ = mazur_page
    load(browser, path)
    text = js(browser, "return chainrule.select('w1')")
    assert text.startswith("w1") and "parameter" in text
    assert "dE_total/dw1\n0.000438568\n" in text  # the leaf's gradient at the end of the pass (it has no step)
    assert "sum over 2 paths" in text and "path 1:" in text and "path 2:" in text
    assert "dE_total/dw1 = 0.000668396 + -0.000229828 = 0.000438568" in text  # the two paths and the total
    assert js(browser, "return document.getElementById('panel').innerText") == text
    red = js(browser, """return Array.from(document.querySelectorAll('#canvas g.edge'))
        .filter((g) => g.querySelector('path:not([stroke="transparent"])').getAttribute('stroke') === '#d62728')
        .map((g) => g.id);""")
    assert len(red) >= 12  # the edges of both paths are drawn in red
    assert js(browser, "return chainrule.select('no such node')") is None


def test_clicking_a_node_and_hovering_an_edge(browser, mazur_page):
    from selenium.webdriver.common.action_chains import ActionChains

    path, q = mazur_page
    load(browser, path)
    js(browser, "chainrule.fit()")
    names = [n for n in js(browser, "return DATA.nodes.map((n) => n.key)")]
    w5 = browser.find_element("css selector", f"#canvas #v{names.index('w5')}")
    ActionChains(browser).move_to_element(w5).click().perform()
    assert js(browser, "return document.querySelector('#panel .name').textContent") == "w5"
    edge = js(browser, "return Object.keys(DATA.edges).find((id) => DATA.edges[id].text.startsWith('dnet_o1/dw5'))")
    js(browser, """const g = document.getElementById(arguments[0]); const r = g.getBoundingClientRect();
        g.querySelector('path').dispatchEvent(new MouseEvent('mousemove',
            {bubbles: true, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));""", edge)
    tip = js(browser, "const t = document.getElementById('tip'); return [t.style.display, t.textContent]")
    assert tip == ["block", "dnet_o1/dw5 = out_h1 = 0.5933"]


def test_zoom_pan_keys_and_layout(browser, mazur_page):
    path, _ = mazur_page
    load(browser, path)
    svg_transform = "return document.querySelector('#canvas svg').style.transform"
    before = js(browser, svg_transform)
    browser.find_element("id", "zoomin").click()
    zoomed = js(browser, svg_transform)
    assert zoomed != before and "scale(" in zoomed
    js(browser, """const v = document.getElementById('view'); const r = v.getBoundingClientRect();
        v.dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: r.left + 100, clientY: r.top + 100,
                                                 bubbles: true, cancelable: true}));""")
    assert js(browser, svg_transform) != zoomed
    browser.find_element("id", "fit").click()
    fitted = js(browser, "return chainrule.view()")
    size = "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height]"
    box = js(browser, size, browser.find_element("css selector", "#canvas svg"))
    view = js(browser, size, browser.find_element("id", "view"))
    assert box[0] <= view[0] + 1 and box[1] <= view[1] + 1 and fitted["s"] < 1
    body = browser.find_element("tag name", "body")
    body.send_keys("\ue014\ue014")  # ArrowRight twice
    assert js(browser, "return chainrule.state().step") == 2
    body.send_keys("\ue012")  # ArrowLeft
    assert js(browser, "return chainrule.state().step") == 1
    body.send_keys("\ue010")  # End
    assert js(browser, "return chainrule.state().step") == 15
    browser.find_element("id", "tb").click()
    assert js(browser, "return document.getElementById('tb').getAttribute('aria-pressed')") == "true"
    assert js(browser, "return chainrule.state().step") == 15  # the layout changes, the step stays
    assert errors(browser) == []


def pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) rows of an 8-bit PNG (filters undone; enough for a screenshot)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytes(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows]


def test_a_screenshot_at_1280x800_is_not_blank(browser, mazur_page):
    path, _ = mazur_page
    load(browser, path)
    js(browser, "chainrule.go(20); chainrule.select('w1')")
    width, height, rows = pixels(browser.get_screenshot_as_png())
    assert (width, height) == (1280, 800)
    bpp = len(rows[0]) // width
    colors, dark = set(), 0
    for row in rows[::4]:
        for x in range(0, len(row), bpp * 4):
            px = row[x:x + 3]
            colors.add(px)
            dark += sum(px) < 300
    assert len(colors) > 50  # node fills, state colours, red paths, text
    assert dark > 200  # text and lines, not an empty page


def test_hostile_labels_stay_text_in_the_browser(browser, tmp_path, dot_program):
    label = '</script><img src=x onerror="window.hacked=1"><script>window.hacked=2</script>'
    x = Value(0.5, label=label)
    odd = Value(2.0, label="a\x00b\ud800")
    y = (x * odd).tanh()
    y.label = ""
    path = explore(y, title=label).save(tmp_path / "odd.html")
    load(browser, path)
    assert js(browser, "return window.hacked === undefined && document.querySelectorAll('img').length === 0")
    assert js(browser, "return document.title") == label
    texts = js(browser, "return Array.from(document.querySelectorAll('#canvas text')).map((t) => t.textContent)")
    assert label in texts and "a\\x00b\\ud800" in texts and "''" in texts
    assert label in js(browser, "return chainrule.select(arguments[0])", label)
    assert errors(browser) == []


def test_build_mazur_graph_of_bare_values_explores_too(browser, tmp_path, dot_program):
    q = build_mazur()
    path = explore(q["E_total"], rankdir="TB").save(tmp_path / "bare.html")
    load(browser, path)
    assert js(browser, "return document.getElementById('tb').getAttribute('aria-pressed')") == "true"
    final = js(browser, "return chainrule.go(chainrule.steps)")
    assert abs(final["grads"]["w5"] - 0.082167041) < 5e-10 and abs(final["grads"]["w1"] - 0.000438568) < 5e-10
    assert errors(browser) == []
