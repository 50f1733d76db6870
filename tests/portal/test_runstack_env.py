"""``make run``'s inference worker: TensorFlow on one thread per pool without a GPU, untouched
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
