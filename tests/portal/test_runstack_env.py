"""``make run``: the inference worker's TensorFlow threads, the banner printed last, and the workers'
start-up chatter routed to a log file. TensorFlow on one thread per pool without a GPU, untouched
with one, and never overriding what the operator set."""

from portal.management.commands.runstack import inference_env


def test_without_a_gpu_tensorflow_gets_one_thread_per_pool():
    env = inference_env({"PATH": "/bin"})

    assert env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "1"
    assert env["CELERY_METRICS_PORT"] == "9101" and env["PATH"] == "/bin"


def test_a_gpu_worker_and_operator_settings_are_left_alone():
    assert "TF_NUM_INTRAOP_THREADS" not in inference_env({"CUDA_VISIBLE_DEVICES": "0"})
    chosen = inference_env({"TF_NUM_INTRAOP_THREADS": "4", "INFERENCE_METRICS_PORT": "9200"})
    assert chosen["TF_NUM_INTRAOP_THREADS"] == "4" and chosen["CELERY_METRICS_PORT"] == "9200"


def test_the_banner_names_the_url_the_logins_what_to_try_and_the_log_file(tmp_path):
    from portal.management.commands.runstack import banner

    text = "\n".join(banner("127.0.0.1", 8000, log_path=tmp_path / "log" / "stack.log"))

    assert "The portal is running at http://127.0.0.1:8000/" in text
    assert all(name in text for name in ("clinician", "researcher", "siteadmin", "admin"))
    assert "Try first" in text and str(tmp_path / "log" / "stack.log") in text


def test_a_process_started_with_a_log_writes_there_not_to_the_terminal(tmp_path, capfd):
    import sys
    import time

    from portal.stack import ProcessGroup

    log_path = tmp_path / "stack.log"
    with log_path.open("a") as log:
        group = ProcessGroup()
        group.start("chatty", [sys.executable, "-c", "import sys; print('banner');"
                               " print('E0000 cuInit', file=sys.stderr)"], log=log)  # fmt: skip
        deadline = time.monotonic() + 10
        while group.first_exited() is None and time.monotonic() < deadline:
            time.sleep(0.05)

    assert log_path.read_text().split() == ["banner", "E0000", "cuInit"]
    assert "cuInit" not in capfd.readouterr().out + capfd.readouterr().err
