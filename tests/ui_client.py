"""The trace viewer in headless Chromium, driven as a user drives it.

    ui_client.py live URL TOKEN RUNNING_ID FINISHED_ID SHOTS
    ui_client.py file URL SHOTS
    ui_client.py miro URL SHOTS
    ui_client.py bench URL PATH LOADS [TOKEN]

`live`: the daemon's /ui with a finished and a running task: the list, the
running task opened with the keyboard, a step arriving live, a tool result
expanded, cancel pressed and the status seen to change. `file`: a 600-turn
trajectory under `fathom view` with a 100,000-character result: no
horizontal overflow, the result folded, j/k and Enter. `bench`: prints the
median render time of the page over LOADS loads, as JSON. Screenshots go
to SHOTS. Any failed expectation exits non-zero with the reason.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))


def browser():
    out = subprocess.run(["bash", os.path.join(HERE, "..", "scripts", "browser.sh")],
                         check=True, capture_output=True, text=True).stdout.split()
    chromium, chromedriver = out[0], out[1]
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1366,900", "--disable-extensions", "--no-first-run"]:
        opts.add_argument(a)
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)


def wait(d, what, cond, timeout=30):
    """Polls `cond` until it holds. The page re-renders as events arrive, so an
    element found in one poll may be replaced before it is read: such a poll
    is retried, not taken as failure."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(lambda _: cond())
    except Exception:
        d.save_screenshot(os.path.join(SHOTS, "failure.png"))
        raise SystemExit(f"timed out waiting for {what}; page: {d.find_element(By.TAG_NAME, 'main').text[:2000]}")


def expect(ok, why):
    if not ok:
        raise SystemExit(why)


def focused_attr(d, name):
    return d.execute_script(f"return document.activeElement && document.activeElement.getAttribute('{name}')")


def keys(d, *ks):
    webdriver.ActionChains(d).send_keys(*ks).perform()


def no_horizontal_overflow(d):
    return d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")


def live(url, token, running, finished):
    d = browser()
    try:
        d.get(f"{url}/ui#token={token}")
        wait(d, "both tasks listed", lambda: len(d.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]")) >= 2)
        expect("token" not in d.current_url, f"the token stays out of the address bar: {d.current_url}")
        rows = d.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]")
        status = {r.get_attribute("data-id"): r.get_attribute("data-status") for r in rows}
        expect(status.get(finished) == "succeeded", f"the finished task is listed as such: {status}")
        expect(status.get(running) == "running", f"the running task is listed as such: {status}")
        ids = [r.get_attribute("data-id") for r in rows]
        expect(ids.index(running) < ids.index(finished), f"newest first: {ids}")
        d.save_screenshot(os.path.join(SHOTS, "1-list.png"))

        # Open the running task with the keyboard alone.
        d.execute_script("document.activeElement && document.activeElement.blur()")
        for _ in range(ids.index(running) + 1):
            keys(d, "j")
        expect(focused_attr(d, "data-id") == running, f"j moved to the running task: {focused_attr(d, 'data-id')}")
        keys(d, Keys.ENTER)
        wait(d, "the task page", lambda: running in d.current_url and d.find_elements(By.CSS_SELECTOR, "#timeline .step"))
        wait(d, "the header says running", lambda: d.execute_script("return document.body.dataset.status") == "running")

        # A new step appears while the page is open.
        before = len(d.find_elements(By.CSS_SELECTOR, "#timeline .step"))
        wait(d, "a new step, live", lambda: len(d.find_elements(By.CSS_SELECTOR, "#timeline .step")) > before, 30)
        d.save_screenshot(os.path.join(SHOTS, "2-running-task.png"))

        # Expand a tool result: with the keyboard (j to it, Enter), then read it.
        result = d.find_element(By.CSS_SELECTOR, "#timeline details.step.result")
        expect(result.get_attribute("open") is None, "results start folded")
        steps = d.find_elements(By.CSS_SELECTOR, "#timeline .step")
        for _ in range(steps.index(result) + 1):
            keys(d, "j")
        keys(d, Keys.ENTER)
        # The body is built by the `toggle` event, which fires after `open`
        # is set: wait for the text itself.
        wait(d, "the result open", lambda: result.get_attribute("open") is not None and result.find_elements(By.TAG_NAME, "pre"))
        text = result.find_element(By.TAG_NAME, "pre").text
        expect("7" in text or "0" in text, f"the tool's output shows: {text!r}")
        d.save_screenshot(os.path.join(SHOTS, "3-result-expanded.png"))

        # Cancel: the status changes on the page.
        d.find_element(By.ID, "cancel").click()
        wait(d, "the status cancelled", lambda: d.execute_script("return document.body.dataset.status") == "cancelled", 15)
        wait(d, "the badge", lambda: "cancelled" in d.find_element(By.ID, "head").text)
        expect(not d.find_element(By.ID, "cancel").is_displayed(), "no cancel button on a cancelled task")
        d.save_screenshot(os.path.join(SHOTS, "4-cancelled.png"))

        keys(d, Keys.ESCAPE)
        wait(d, "back on the list", lambda: d.find_elements(By.CSS_SELECTOR, "tbody tr[data-id]") and "#/task" not in d.current_url)
        expect(no_horizontal_overflow(d), "the list fits the window")
    finally:
        d.quit()


def file_mode(url):
    d = browser()
    try:
        d.get(f"{url}/ui")
        wait(d, "the trace rendered", lambda: d.execute_script("return document.body.dataset.rendered") == "1", 60)
        turns = len(d.find_elements(By.CSS_SELECTOR, "section.turn"))
        expect(turns == 600, f"600 turns shown, not {turns}")
        expect(no_horizontal_overflow(d), "a 600-turn page does not overflow sideways")
        big = d.execute_script(
            "return [...document.querySelectorAll('details.step.result')].find(e => e.textContent.includes('100,000 characters'))")
        expect(big is not None, "the 100,000-character result is listed with its size")
        big.find_element(By.TAG_NAME, "summary").click()
        wait(d, "the long result built", lambda: big.find_elements(By.CSS_SELECTOR, "button.fold"))
        fold = big.find_element(By.CSS_SELECTOR, "button.fold")
        expect("98,000 more" in fold.text, f"the long result is folded: {fold.text}")
        marks = big.find_elements(By.CSS_SELECTOR, "mark.cut")
        fold.click()
        shown = big.find_element(By.TAG_NAME, "pre").get_attribute("textContent")
        expect(len(shown) >= 100000, f"show all shows all: {len(shown)}")
        marks = big.find_elements(By.CSS_SELECTOR, "mark.cut")
        expect(marks, "the truncation marker is highlighted")
        expect(no_horizontal_overflow(d), "a 100,000-character result does not overflow sideways")
        d.save_screenshot(os.path.join(SHOTS, "5-file-600-turns.png"))
        # Keyboard: G to the last step, which is the answer.
        d.execute_script("document.activeElement && document.activeElement.blur()")
        keys(d, "G")
        last = d.execute_script("return document.activeElement.className")
        expect("answer" in last, f"G reaches the answer: {last}")
    finally:
        d.quit()


def miro(url):
    """MiroThinker's own task log: turns rebuilt from its conversation."""
    d = browser()
    try:
        d.get(f"{url}/ui")
        wait(d, "the log rendered", lambda: d.execute_script("return document.body.dataset.rendered") == "1")
        turns = len(d.find_elements(By.CSS_SELECTOR, "section.turn"))
        expect(turns == 2, f"two assistant turns, not {turns}")
        calls = [c.text for c in d.find_elements(By.CSS_SELECTOR, ".step.call")]
        expect(len(calls) == 1 and "tool-python.run_python_code" in calls[0] and "print(2**10)" in calls[0], f"the call: {calls}")
        result = d.find_element(By.CSS_SELECTOR, "details.step.result")
        result.find_element(By.TAG_NAME, "summary").click()
        wait(d, "the result built", lambda: result.find_elements(By.TAG_NAME, "pre"))
        expect("1024" in result.find_element(By.TAG_NAME, "pre").text, "the tool's answer")
        head = d.find_element(By.ID, "head").text
        expect("What is 2**10?" in head and "ground truth" in head and "CORRECT" in head, f"the header: {head}")
        d.save_screenshot(os.path.join(SHOTS, "6-mirothinker-log.png"))
    finally:
        d.quit()


def bench(url, path, loads, token):
    d = browser()
    try:
        if token:
            d.get(f"{url}/ui#token={token}")
        times, loaded = [], []
        for _ in range(loads):
            d.get("about:blank")
            t0 = time.perf_counter()
            d.get(f"{url}{path}")
            WebDriverWait(d, 120, poll_frequency=0.01).until(
                lambda _: d.execute_script("return document.body && document.body.dataset.rendered") == "1")
            loaded.append((time.perf_counter() - t0) * 1000)
            times.append(d.execute_script("return window.fathomRendered"))
        nodes = d.execute_script("return document.getElementsByTagName('*').length")
        print(json.dumps({"render_ms_median": statistics.median(times), "load_to_rendered_ms_median": statistics.median(loaded),
                          "render_ms": times, "dom_nodes": nodes}))
    finally:
        d.quit()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "live":
        SHOTS = sys.argv[6]
        live(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "file":
        SHOTS = sys.argv[3]
        file_mode(sys.argv[2])
    elif mode == "miro":
        SHOTS = sys.argv[3]
        miro(sys.argv[2])
    else:
        SHOTS = "/tmp"
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)
    print("ok")
