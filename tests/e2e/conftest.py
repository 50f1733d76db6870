"""A real browser against the real stack: Debian's Chromium driven by Playwright (sync API), the
ASGI server started by ``tests.processes`` on the test database, and a Celery inference worker
where a scenario needs results.

The microphone is Chromium's fake device playing a WAV generated here (coughs from
``tests.fixtures.audio_corpus``). Without a browser the tests skip with the reason, except under
``CI=true``, where a missing browser fails the run. Every scenario screenshots its steps; the
pictures are written to ``test-artifacts/<test>/`` when the test fails (or with E2E_KEEP_STEPS=1).
"""

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.fixtures import audio_corpus
from tests.fixtures.tiny_models import train_tiny_artifact

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make between
# browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "a-long-test-password"  # the password tests.factories.UserFactory sets


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
    # The browser tests run last: Playwright's sync API leaves an event loop marked as running in
    # the main thread even once stopped, and later tests' async_to_sync would refuse to run.
    items.sort(key=lambda item: "tests/e2e/" in str(item.fspath))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path():
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"no browser at {CHROMIUM}: apt-get install -y chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fake_microphone(tmp_path_factory) -> Path:
    """Three coughs in six seconds, at 48 kHz as a headset would capture them."""
    rate = 48000
    signal = audio_corpus.cough_like(seconds=6.0, rate=rate, at=(0.5, 2.2, 3.9), seed=21)
    path = tmp_path_factory.mktemp("microphone") / "coughs.wav"
    path.write_bytes(audio_corpus.pcm_wav(signal, rate))
    return path


@pytest.fixture(scope="package")
def browser(chromium_path, fake_microphone):
    """One browser for the end-to-end tests, stopped after them."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=chromium_path,
        args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_microphone}",
        ],
    )  # fmt: skip
    yield browser
    browser.close()
    playwright.stop()


class Steps:
    """Screenshots taken at each named step, kept in memory and written out if the test fails."""

    def __init__(self, page) -> None:
        self.page = page
        self.shots: list[tuple[str, bytes]] = []

    def __call__(self, name: str) -> None:
        self.shots.append((name, self.page.screenshot(full_page=True)))

    def write(self, folder: Path, *, failed: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        last = "at-failure" if failed else "at-end"
        self.shots.append((last, self.page.screenshot(full_page=True)))
        for index, (name, png) in enumerate(self.shots, start=1):
            (folder / f"{index:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png").write_bytes(
                png
            )


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.steps = Steps(page)
    page.console_errors = []
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None
        and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed or os.environ.get("E2E_KEEP_STEPS") == "1":
        folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        page.steps.write(folder, failed=failed)
    context.close()


@pytest.fixture
def server(process_env, tmp_path):
    """The ASGI server (HTTP and WebSockets) on the test database."""
    from tests.processes import asgi_server

    process = asgi_server(process_env, tmp_path)
    yield process
    process.stop()


def wait_until(page, expression: str, *, timeout: float = 15.0, what: str = "") -> None:
    """Poll a JavaScript expression from here: Playwright's wait_for_function evaluates strings
    in the page, which the pages' CSP (no unsafe-eval) rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or expression}")
        page.wait_for_timeout(100)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture(scope="session")
def tiny_model_artifact(tmp_path_factory):
    """A real TensorFlow model trained for one epoch on synthetic sounds: seconds, once a run."""
    return train_tiny_artifact(
        tmp_path_factory.mktemp("model") / "e2e-model.zip", seed=3, name="e2e-cough-cnn",
        version="1",
    )  # fmt: skip


@pytest.fixture
def inference_worker(process_env, tmp_path, tiny_model_artifact):
    """The model in production and one inference worker serving the ``inference`` queue."""
    from diagnostics.models import ModelStatus
    from diagnostics.registry import register_model_version
    from tests.processes import celery_worker

    register_model_version(artifact_path=tiny_model_artifact, status=ModelStatus.PRODUCTION)
    env = {**process_env, "MODEL_CACHE_DIR": str(tmp_path / "model-cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    worker = celery_worker(env, tmp_path, queues="inference", name="e2e-inference")
    yield worker
    worker.stop()
