"""Shared fixtures: the 2-2-2 network of the reference page built from bare Values."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from autograd import Value

# Published numbers of Matt Mazur's "A Step by Step Backpropagation Example" (9 decimals: match to 5e-10).
TOL = 5e-10
WEIGHTS = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}


def build_mazur() -> dict[str, Value]:
    """The 2-2-2 sigmoid network with E_total = sum 1/2 (target - out)^2; every quantity labeled."""
    v = {name: Value(x, label=name) for name, x in WEIGHTS.items()}
    i1, i2 = Value(0.05, label="i1"), Value(0.10, label="i2")
    b1, b2 = Value(0.35, label="b1"), Value(0.60, label="b2")
    net = {
        "net_h1": v["w1"] * i1 + v["w2"] * i2 + b1,
        "net_h2": v["w3"] * i1 + v["w4"] * i2 + b1,
    }
    for name in ("net_h1", "net_h2"):
        net[name].label = name
    out_h1, out_h2 = net["net_h1"].sigmoid(), net["net_h2"].sigmoid()
    out_h1.label, out_h2.label = "out_h1", "out_h2"
    net_o1 = v["w5"] * out_h1 + v["w6"] * out_h2 + b2
    net_o2 = v["w7"] * out_h1 + v["w8"] * out_h2 + b2
    net_o1.label, net_o2.label = "net_o1", "net_o2"
    out_o1, out_o2 = net_o1.sigmoid(), net_o2.sigmoid()
    out_o1.label, out_o2.label = "out_o1", "out_o2"
    e_o1 = 0.5 * (0.01 - out_o1) ** 2
    e_o2 = 0.5 * (0.99 - out_o2) ** 2
    e_o1.label, e_o2.label = "E_o1", "E_o2"
    e_total = e_o1 + e_o2
    e_total.label = "E_total"
    nodes = dict(v, i1=i1, i2=i2, b1=b1, b2=b2, out_h1=out_h1, out_h2=out_h2, net_o1=net_o1, net_o2=net_o2)
    nodes.update(net, out_o1=out_o1, out_o2=out_o2, E_o1=e_o1, E_o2=e_o2, E_total=e_total)
    return nodes


@pytest.fixture
def mazur() -> dict[str, Value]:
    return build_mazur()


@pytest.fixture
def dot_program() -> str:
    """Graphviz's ``dot``: skip without it, unless CHAINRULE_REQUIRE_DOT=1 (as .ci/run sets) makes that a failure."""
    path = shutil.which("dot")
    if path is None:
        if os.environ.get("CHAINRULE_REQUIRE_DOT") == "1":
            pytest.fail("Graphviz's dot program is missing but CHAINRULE_REQUIRE_DOT=1: apt-get install graphviz")
        pytest.skip("Graphviz's dot program is not installed (apt-get install graphviz / brew install graphviz)")
    return path


@pytest.fixture
def torch():
    """PyTorch: skip without it, unless CHAINRULE_REQUIRE_TORCH=1 (as .ci/run sets) makes that a failure."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CHAINRULE_REQUIRE_TORCH") == "1":
            pytest.fail("PyTorch is missing but CHAINRULE_REQUIRE_TORCH=1: pip install -e '.[torch]'")
        pytest.skip("PyTorch is not installed (pip install -e '.[torch]')")
    return torch


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Selenium (the system's chromium and chromedriver, nothing downloaded): skip
    without them, unless CHAINRULE_REQUIRE_BROWSER=1 (as .ci/run sets) makes that a failure."""
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    missing = [what for what, there in (("selenium", webdriver), ("chromium", chromium),
                                        ("chromedriver", driver_path)) if not there]
    if missing:
        message = (f"browser tests need {', '.join(missing)} "
                   "(apt-get install chromium chromium-driver; pip install selenium)")
        if os.environ.get("CHAINRULE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}, but CHAINRULE_REQUIRE_BROWSER=1")
        pytest.skip(message)
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no statistics, no downloads
    profile = tempfile.mkdtemp(prefix="chainrule-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
